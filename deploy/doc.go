// Package deploy holds no code: its test renders the Kubernetes manifests
// (deploy/kubernetes), and checks them, the Prometheus alert rules
// (deploy/prometheus) and the Grafana dashboard (deploy/grafana) against
// the metrics the server exports. Nothing may import it.
package deploy
