package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// The parts of the Kubernetes objects the tests read, as kubectl kustomize
// renders them. Field names are the API's.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string
	Metadata   struct {
		Name        string
		Labels      map[string]string
		Annotations map[string]string
	}
	Spec                         yaml.Node
	AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
}

type deploymentSpec struct {
	Replicas int
	Selector labelSelector
	Strategy struct {
		RollingUpdate struct {
			MaxUnavailable *int `yaml:"maxUnavailable"`
		} `yaml:"rollingUpdate"`
	}
	Template podTemplate
}

type jobSpec struct {
	BackoffLimit *int `yaml:"backoffLimit"`
	Template     podTemplate
}

type podTemplate struct {
	Metadata struct{ Labels map[string]string }
	Spec     podSpec
}

type podSpec struct {
	ServiceAccountName           string          `yaml:"serviceAccountName"`
	AutomountServiceAccountToken *bool           `yaml:"automountServiceAccountToken"`
	RestartPolicy                string          `yaml:"restartPolicy"`
	SecurityContext              securityContext `yaml:"securityContext"`
	Containers                   []container
	Volumes                      []struct {
		Name   string
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct{ Key, Path string }
		}
	}
}

type container struct {
	Name, Image   string
	Command, Args []string
	Ports         []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	Env             []envVar
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	Resources       struct{ Requests, Limits map[string]string }
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type envVar struct {
	Name, Value string
	ValueFrom   *struct {
		SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string
		Port string
	} `yaml:"httpGet"`
}

type securityContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	RunAsUser                *int  `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	Privileged               *bool
	Capabilities             struct{ Drop, Add []string }
	SeccompProfile           struct{ Type string } `yaml:"seccompProfile"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type networkPolicySpec struct {
	PodSelector labelSelector `yaml:"podSelector"`
	PolicyTypes []string      `yaml:"policyTypes"`
	Ingress     []networkPolicyRule
	Egress      []networkPolicyRule
}

type networkPolicyRule struct {
	From, To []struct {
		IPBlock           *struct{ CIDR string } `yaml:"ipBlock"`
		NamespaceSelector *labelSelector         `yaml:"namespaceSelector"`
		PodSelector       *labelSelector         `yaml:"podSelector"`
	}
	Ports []struct {
		Protocol string
		Port     int
	}
}

// manifests renders dir (relative to this package) with kubectl's
// kustomize, once per test binary and directory.
func manifests(t *testing.T, dir string) []object {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl not found: it renders deploy/kubernetes (scripts/test-deps installs Debian's kubernetes-client)")
		}
		t.Skip("kubectl not found: install Debian's kubernetes-client (scripts/test-deps) to render deploy/kubernetes")
	}
	r := rendered(kubectl, dir)
	if r.err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, r.err)
	}
	return r.objects
}

type rendering struct {
	objects []object
	err     error
}

var (
	renderMu    sync.Mutex
	renderCache = map[string]rendering{}
)

func rendered(kubectl, dir string) rendering {
	renderMu.Lock()
	defer renderMu.Unlock()
	if r, ok := renderCache[dir]; ok {
		return r
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var r rendering
	if err := cmd.Run(); err != nil {
		r.err = errors.New(strings.TrimSpace(stderr.String()))
	} else {
		r.objects, r.err = decodeAll(&stdout)
	}
	renderCache[dir] = r
	return r
}

func decodeAll(r io.Reader) ([]object, error) {
	var objects []object
	dec := yaml.NewDecoder(r)
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, err
		}
		objects = append(objects, o)
	}
}

// only returns the one object of kind among objects, failing without
// exactly one.
func only(t *testing.T, objects []object, kind string) object {
	t.Helper()
	var found []object
	for _, o := range objects {
		if o.Kind == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

func spec[T any](t *testing.T, o object) T {
	t.Helper()
	var s T
	if err := o.Spec.Decode(&s); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Metadata.Name, err)
	}
	return s
}

func deployment(t *testing.T, dir string) (deploymentSpec, container) {
	t.Helper()
	d := spec[deploymentSpec](t, only(t, manifests(t, dir), "Deployment"))
	if len(d.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers in the Deployment, want 1", len(d.Template.Spec.Containers))
	}
	return d, d.Template.Spec.Containers[0]
}

func migrationJob(t *testing.T) (object, jobSpec, container) {
	t.Helper()
	o := only(t, manifests(t, "kubernetes"), "Job")
	j := spec[jobSpec](t, o)
	if len(j.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers in the Job, want 1", len(j.Template.Spec.Containers))
	}
	return o, j, j.Template.Spec.Containers[0]
}

func env(c container, name string) (envVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return envVar{}, false
}

// selects reports whether every label of selector is among labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false // never meant here: an empty selector takes everything
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetes_ThreeReplicasOfServeProbedOnReadyzAndHealthz(t *testing.T) {
	d, c := deployment(t, "kubernetes")
	if d.Replicas != 3 {
		t.Errorf("replicas %d, want 3", d.Replicas)
	}
	if !selects(d.Selector.MatchLabels, d.Template.Metadata.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", d.Selector.MatchLabels, d.Template.Metadata.Labels)
	}
	if u := d.Strategy.RollingUpdate.MaxUnavailable; u == nil || *u != 0 {
		t.Errorf("rollingUpdate.maxUnavailable %v, want 0: a rollout must keep three replicas serving", u)
	}
	if got := append(slices.Clone(c.Command), c.Args...); !slices.Equal(got, []string{"/iam", "serve"}) {
		t.Errorf("container runs %q, want /iam serve", got)
	}
	if e, _ := env(c, "IAM_HTTP_ADDR"); e.Value != "0.0.0.0:8080" {
		t.Errorf("IAM_HTTP_ADDR %q, want 0.0.0.0:8080", e.Value)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want one named http on 8080", c.Ports)
	}
	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: none, want GET %s", p.name, p.path)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != "http" {
			t.Errorf("%s: GET %s on port %s, want %s on http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port, p.path)
		}
	}
}

func TestKubernetes_PodDisruptionBudgetKeepsTwoReplicas(t *testing.T) {
	objects := manifests(t, "kubernetes")
	pdb := only(t, objects, "PodDisruptionBudget")
	if pdb.APIVersion != "policy/v1" {
		t.Errorf("PodDisruptionBudget apiVersion %s, want policy/v1", pdb.APIVersion)
	}
	s := spec[struct {
		MinAvailable   *int `yaml:"minAvailable"`
		MaxUnavailable *int `yaml:"maxUnavailable"`
		Selector       labelSelector
	}](t, pdb)
	switch {
	case s.MinAvailable != nil && *s.MinAvailable == 2 && s.MaxUnavailable == nil:
	case s.MaxUnavailable != nil && *s.MaxUnavailable == 1 && s.MinAvailable == nil:
	default:
		t.Errorf("minAvailable %v, maxUnavailable %v: want minAvailable 2 or maxUnavailable 1", s.MinAvailable, s.MaxUnavailable)
	}
	d, _ := deployment(t, "kubernetes")
	if !selects(s.Selector.MatchLabels, d.Template.Metadata.Labels) {
		t.Errorf("selector %v does not select the Deployment's pods %v", s.Selector.MatchLabels, d.Template.Metadata.Labels)
	}
	_, job, _ := migrationJob(t)
	if selects(s.Selector.MatchLabels, job.Template.Metadata.Labels) {
		t.Errorf("selector %v also counts the migration Job's pod", s.Selector.MatchLabels)
	}
}

func TestKubernetes_DatabaseURLPepperAndSigningKeyComeFromSecrets(t *testing.T) {
	d, c := deployment(t, "kubernetes")
	for _, want := range []struct{ env, secret, key string }{
		{"IAM_DATABASE_URL", "gaia-iam", "database-url"},
		{"IAM_CLIENT_SECRET_PEPPER", "gaia-iam", "client-secret-pepper"},
	} {
		e, ok := env(c, want.env)
		switch {
		case !ok:
			t.Errorf("%s not set", want.env)
		case e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil:
			t.Errorf("%s is not from a Secret", want.env)
		case e.ValueFrom.SecretKeyRef.Name != want.secret || e.ValueFrom.SecretKeyRef.Key != want.key:
			t.Errorf("%s from Secret %s key %s, want %s key %s", want.env,
				e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, want.secret, want.key)
		}
	}

	keyFile, ok := env(c, "IAM_SIGNING_KEY_FILE")
	if !ok {
		t.Fatal("IAM_SIGNING_KEY_FILE not set")
	}
	var file string
	for _, m := range c.VolumeMounts {
		rest, under := strings.CutPrefix(keyFile.Value, m.MountPath+"/")
		if !under {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("the signing key's mount %s is writable", m.MountPath)
		}
		for _, v := range d.Template.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			if v.Secret == nil || v.Secret.SecretName != "gaia-iam-signing-key" {
				t.Fatalf("volume %s holding IAM_SIGNING_KEY_FILE is not the Secret gaia-iam-signing-key", v.Name)
			}
			for _, item := range v.Secret.Items {
				if item.Path == rest {
					file = item.Key
				}
			}
		}
	}
	if file != "signing-key.pem" {
		t.Errorf("IAM_SIGNING_KEY_FILE=%s is key %q of a Secret volume, want signing-key.pem of gaia-iam-signing-key", keyFile.Value, file)
	}
}

func TestKubernetes_StoredKeysVariantDropsOnlyTheKeyFile(t *testing.T) {
	d, c := deployment(t, "kubernetes-stored-keys")
	if _, ok := env(c, "IAM_SIGNING_KEY_FILE"); ok {
		t.Error("IAM_SIGNING_KEY_FILE still set")
	}
	for _, v := range d.Template.Spec.Volumes {
		if v.Secret != nil {
			t.Errorf("volume %s still mounts Secret %s", v.Name, v.Secret.SecretName)
		}
	}
	for _, name := range []string{"IAM_DATABASE_URL", "IAM_CLIENT_SECRET_PEPPER"} {
		if e, ok := env(c, name); !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s is not from a Secret", name)
		}
	}
	base, variant := manifests(t, "kubernetes"), manifests(t, "kubernetes-stored-keys")
	if len(base) != len(variant) {
		t.Errorf("%d objects, the base has %d", len(variant), len(base))
	}
}

func TestKubernetes_PodsRunAsNonRootOnAReadOnlyFilesystemWithoutCapabilities(t *testing.T) {
	d, server := deployment(t, "kubernetes")
	_, job, migrate := migrationJob(t)
	for _, p := range []struct {
		name string
		pod  podSpec
		c    container
	}{{"Deployment", d.Template.Spec, server}, {"Job", job.Template.Spec, migrate}} {
		pod, c := p.pod.SecurityContext, p.c.SecurityContext
		if pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || c.RunAsNonRoot == nil || !*c.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot not true in the pod and the container", p.name)
		}
		if c.RunAsUser == nil || *c.RunAsUser != 65532 {
			t.Errorf("%s: runAsUser %v, want the image's user 65532", p.name, c.RunAsUser)
		}
		if c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem not true", p.name)
		}
		if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation not false", p.name)
		}
		if c.Privileged != nil && *c.Privileged {
			t.Errorf("%s: privileged", p.name)
		}
		if !slices.Equal(c.Capabilities.Drop, []string{"ALL"}) || len(c.Capabilities.Add) != 0 {
			t.Errorf("%s: capabilities drop %v add %v, want drop [ALL] and none added", p.name, c.Capabilities.Drop, c.Capabilities.Add)
		}
		if pod.SeccompProfile.Type != "RuntimeDefault" || c.SeccompProfile.Type != "RuntimeDefault" {
			t.Errorf("%s: seccomp %q (pod) %q (container), want RuntimeDefault", p.name, pod.SeccompProfile.Type, c.SeccompProfile.Type)
		}
		if p.pod.AutomountServiceAccountToken == nil || *p.pod.AutomountServiceAccountToken {
			t.Errorf("%s: the service account token is mounted; the IAM never calls the Kubernetes API", p.name)
		}
		if p.pod.ServiceAccountName != "gaia-iam" {
			t.Errorf("%s: service account %q, want gaia-iam", p.name, p.pod.ServiceAccountName)
		}
	}
	sa := only(t, manifests(t, "kubernetes"), "ServiceAccount")
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("ServiceAccount gaia-iam: automountServiceAccountToken not false")
	}
}

// The memory bound the Deployment's comment derives: 80 MiB for the
// process and 2 x 19 MiB per argon2id hashing slot (the hash, and as much
// garbage at GOGC=100), measured peak RSS within it (docs/deployment.md).
const (
	processMiB  = 80
	hashSlotMiB = 2 * 19
)

func TestKubernetes_ResourcesCoverTheHashingMemoryBound(t *testing.T) {
	_, c := deployment(t, "kubernetes")
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("%s: request %q limit %q, want both", r, c.Resources.Requests[r], c.Resources.Limits[r])
		}
	}
	e, ok := env(c, "IAM_HASH_CONCURRENCY")
	slots, err := strconv.Atoi(e.Value)
	if !ok || err != nil || slots < 1 {
		t.Fatalf("IAM_HASH_CONCURRENCY %q: want a count, pinned so that the memory bound does not follow the node's cores", e.Value)
	}
	limit := mebibytes(t, c.Resources.Limits["memory"])
	if need := processMiB + hashSlotMiB*slots; limit < need {
		t.Errorf("memory limit %d MiB, below %d + %d x %d slots = %d MiB", limit, processMiB, hashSlotMiB, slots, need)
	}
	if req := mebibytes(t, c.Resources.Requests["memory"]); req != limit {
		t.Errorf("memory request %d MiB, limit %d MiB: want them equal, so the memory is never reclaimed", req, limit)
	}
	gomem, _ := env(c, "GOMEMLIMIT")
	if soft := mebibytes(t, strings.TrimSuffix(gomem.Value, "B")); soft >= limit {
		t.Errorf("GOMEMLIMIT %s, want below the %d MiB limit", gomem.Value, limit)
	}
	_, _, migrate := migrationJob(t)
	if migrate.Resources.Limits["memory"] == "" || migrate.Resources.Requests["memory"] == "" {
		t.Error("the migration Job has no memory request and limit")
	}
}

// mebibytes reads a quantity with a binary suffix (Ki, Mi, Gi), the only
// ones the manifests use.
func mebibytes(t *testing.T, q string) int {
	t.Helper()
	for suffix, per := range map[string]float64{"Ki": 1.0 / 1024, "Mi": 1, "Gi": 1024} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err == nil {
				return int(v * per)
			}
		}
	}
	t.Fatalf("quantity %q: want a number with Ki, Mi or Gi", q)
	return 0
}

func TestKubernetes_MigrationJobRunsIamMigrateWithTheServersImage(t *testing.T) {
	o, j, c := migrationJob(t)
	if got := append(slices.Clone(c.Command), c.Args...); !slices.Equal(got, []string{"/iam", "migrate"}) {
		t.Errorf("Job runs %q, want /iam migrate", got)
	}
	_, server := deployment(t, "kubernetes")
	if c.Image != server.Image {
		t.Errorf("Job image %s, Deployment image %s: the release about to serve must migrate", c.Image, server.Image)
	}
	if j.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("restartPolicy %q, want Never (the Job's backoffLimit retries)", j.Template.Spec.RestartPolicy)
	}
	if j.BackoffLimit == nil {
		t.Error("no backoffLimit")
	}
	e, _ := env(c, "IAM_DATABASE_URL")
	if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "gaia-iam" || e.ValueFrom.SecretKeyRef.Key != "database-url" {
		t.Error("the Job's IAM_DATABASE_URL is not key database-url of Secret gaia-iam")
	}
	if o.Metadata.Annotations["argocd.argoproj.io/hook"] != "PreSync" {
		t.Errorf("argocd.argoproj.io/hook %q, want PreSync", o.Metadata.Annotations["argocd.argoproj.io/hook"])
	}

	// docs/deployment.md's first step applies what
	// app.kubernetes.io/component!=server selects (a label selector's !=
	// also takes objects without the label): the Job with the ServiceAccount
	// and the NetworkPolicy it needs, and nothing that starts a server.
	var first []string
	for _, o := range manifests(t, "kubernetes") {
		if o.Metadata.Labels["app.kubernetes.io/component"] != "server" {
			first = append(first, o.Kind)
		}
	}
	slices.Sort(first)
	if want := []string{"Job", "NetworkPolicy", "ServiceAccount"}; !slices.Equal(first, want) {
		t.Errorf("component!=server selects %v, want %v", first, want)
	}
}

func TestKubernetes_NetworkPolicyLetsInHTTPAndOutOnlyPostgresAndDNS(t *testing.T) {
	np := spec[networkPolicySpec](t, only(t, manifests(t, "kubernetes"), "NetworkPolicy"))
	d, _ := deployment(t, "kubernetes")
	_, job, _ := migrationJob(t)
	if !selects(np.PodSelector.MatchLabels, d.Template.Metadata.Labels) || !selects(np.PodSelector.MatchLabels, job.Template.Metadata.Labels) {
		t.Errorf("podSelector %v misses the server's or the Job's pods", np.PodSelector.MatchLabels)
	}
	slices.Sort(np.PolicyTypes)
	if !slices.Equal(np.PolicyTypes, []string{"Egress", "Ingress"}) {
		t.Errorf("policyTypes %v, want Ingress and Egress", np.PolicyTypes)
	}
	ports := func(rules []networkPolicyRule) []string {
		var ps []string
		for _, r := range rules {
			if len(r.Ports) == 0 {
				ps = append(ps, "any port")
			}
			for _, p := range r.Ports {
				ps = append(ps, p.Protocol+"/"+strconv.Itoa(p.Port))
			}
		}
		slices.Sort(ps)
		return ps
	}
	if got := ports(np.Ingress); !slices.Equal(got, []string{"TCP/8080"}) {
		t.Errorf("ingress to %v, want only TCP/8080", got)
	}
	if got := ports(np.Egress); !slices.Equal(got, []string{"TCP/53", "TCP/5432", "UDP/53"}) {
		t.Errorf("egress to %v, want only PostgreSQL (TCP/5432) and DNS (TCP/53, UDP/53)", got)
	}
	for _, r := range np.Egress {
		if !slices.ContainsFunc(r.Ports, func(p struct {
			Protocol string
			Port     int
		}) bool {
			return p.Port == 53
		}) {
			continue
		}
		if len(r.To) != 1 || r.To[0].PodSelector == nil || r.To[0].PodSelector.MatchLabels["k8s-app"] != "kube-dns" {
			t.Error("DNS egress is not limited to the cluster DNS pods (k8s-app=kube-dns)")
		}
	}
}

func TestKubernetes_ServiceMonitorScrapesMetricsThroughTheService(t *testing.T) {
	objects := manifests(t, "kubernetes")
	svc := only(t, objects, "Service")
	s := spec[struct {
		Selector map[string]string
		Ports    []struct {
			Name       string
			Port       int
			TargetPort string `yaml:"targetPort"`
		}
	}](t, svc)
	d, c := deployment(t, "kubernetes")
	if !selects(s.Selector, d.Template.Metadata.Labels) {
		t.Errorf("Service selector %v misses the Deployment's pods", s.Selector)
	}
	if len(s.Ports) != 1 || s.Ports[0].TargetPort != c.Ports[0].Name {
		t.Fatalf("Service ports %+v, want one whose targetPort is the container's %s", s.Ports, c.Ports[0].Name)
	}

	sm := only(t, objects, "ServiceMonitor")
	if sm.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor apiVersion %s, want monitoring.coreos.com/v1", sm.APIVersion)
	}
	m := spec[struct {
		Selector  labelSelector
		Endpoints []struct{ Port, Path string }
	}](t, sm)
	if !selects(m.Selector.MatchLabels, svc.Metadata.Labels) {
		t.Errorf("ServiceMonitor selector %v misses the Service's labels %v", m.Selector.MatchLabels, svc.Metadata.Labels)
	}
	if len(m.Endpoints) != 1 || m.Endpoints[0].Path != "/metrics" || m.Endpoints[0].Port != s.Ports[0].Name {
		t.Errorf("endpoints %+v, want /metrics on the Service's port %s", m.Endpoints, s.Ports[0].Name)
	}
	// The alerts' up{job="gaia-iam"}: the operator names the job after the
	// Service.
	if svc.Metadata.Name != "gaia-iam" {
		t.Errorf("Service %s: the alert rules expect job gaia-iam", svc.Metadata.Name)
	}
}
