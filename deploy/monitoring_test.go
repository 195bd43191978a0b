package deploy_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// documentedMetrics are the series the server exports, as the metrics
// list agreed with the metrics work names them (gaia_*: label sets in the
// comments), until docs/ carries the table to read them from. Histograms
// are listed by their family name.
var documentedMetrics = []string{
	"gaia_http_requests_total",           // {route,method,code}
	"gaia_http_request_duration_seconds", // histogram {route,method}
	"gaia_logins_total",                  // {outcome}
	"gaia_token_grants_total",            // {grant_type,outcome}
	"gaia_refresh_rotations_total",       //
	"gaia_refresh_reuse_detected_total",  //
	"gaia_hashing_slots_in_use",          // gauge
	"gaia_hashing_queue_depth",           // gauge
	"gaia_hashing_shed_total",            //
	"gaia_bundle_builds_total",           //
	"gaia_bundle_build_duration_seconds", // histogram
	"gaia_bundle_size_bytes",             // gauge
	"gaia_bundle_revision_age_seconds",   // gauge
	"gaia_audit_appends_total",           //
	"gaia_audit_append_duration_seconds", // histogram
	"gaia_audit_chain_ok",                // gauge 1/0
	"gaia_decision_log_events_total",     //
	"gaia_db_pool_acquired_connections",  // gauge, PostgreSQL only
	"gaia_db_pool_idle_connections",      // gauge
	"gaia_db_pool_total_connections",     // gauge
	"gaia_db_pool_max_connections",       // gauge
	"gaia_db_pool_acquire_wait_seconds_total",
}

var histograms = []string{
	"gaia_http_request_duration_seconds",
	"gaia_bundle_build_duration_seconds",
	"gaia_audit_append_duration_seconds",
}

// documented reports whether a query may select name: a documented series,
// a histogram's _bucket, _sum or _count, the standard Go and process
// collectors' go_* and process_*, or up, the series Prometheus itself
// writes for each scrape.
func documented(name string) bool {
	if slices.Contains(documentedMetrics, name) || name == "up" ||
		strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if family, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(histograms, family) {
			return true
		}
	}
	return false
}

// metricNames parses expr as PromQL and returns the metric names its
// selectors name.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%s: a selector without a metric name: %s", where, vs)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	if len(names) == 0 {
		t.Errorf("%s: selects no metric: %s", where, expr)
	}
	return names
}

type alertRule struct {
	Alert       string
	Expr        string
	For         string
	Labels      map[string]string
	Annotations map[string]string
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string
		Spec       struct {
			Groups []struct {
				Name  string
				Rules []alertRule
			}
		}
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if file.APIVersion != "monitoring.coreos.com/v1" || file.Kind != "PrometheusRule" {
		t.Fatalf("%s %s, want a monitoring.coreos.com/v1 PrometheusRule", file.APIVersion, file.Kind)
	}
	var rules []alertRule
	for _, g := range file.Spec.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// prometheusTemplate parses an annotation as Prometheus expands it: with
// $labels and $value defined and its humanising functions.
func prometheusTemplate(text string) error {
	identity := func(v any) string { return "" }
	_, err := template.New("").Funcs(template.FuncMap{
		"humanize": identity, "humanizePercentage": identity, "humanizeDuration": identity,
	}).Parse("{{$labels := .Labels}}{{$value := .Value}}" + text)
	return err
}

func TestAlerts_EveryRuleHasAParsingExprAForASeverityAndASummary(t *testing.T) {
	rules := alertRules(t)
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" {
			t.Errorf("a rule without an alert name: %q", r.Expr)
			continue
		}
		if seen[r.Alert] {
			t.Errorf("%s: defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if strings.TrimSpace(r.Expr) == "" {
			t.Errorf("%s: no expr", r.Alert)
		} else {
			for _, name := range metricNames(t, r.Alert, r.Expr) {
				if !documented(name) {
					t.Errorf("%s: %s is not a metric the server exports", r.Alert, name)
				}
			}
		}
		if r.For == "" {
			t.Errorf("%s: no for", r.Alert)
		}
		if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
			t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" {
			t.Errorf("%s: no summary", r.Alert)
		}
		for k, v := range r.Annotations {
			if err := prometheusTemplate(v); err != nil {
				t.Errorf("%s: annotation %s: %v", r.Alert, k, err)
			}
		}
	}
}

// TestAlerts_CoverWhatOperationsAsked checks the alerts issue 15 lists are
// there, each watching its metric.
func TestAlerts_CoverWhatOperationsAsked(t *testing.T) {
	watches := map[string]string{
		"GaiaIAMLoginFailureRateHigh": "gaia_logins_total",
		"GaiaIAMLoginsShed":           "gaia_hashing_shed_total",
		"GaiaIAMBundleOld":            "gaia_bundle_revision_age_seconds",
		"GaiaIAMBundleBehind":         "gaia_bundle_revision_age_seconds",
		"GaiaIAMAuditChainBroken":     "gaia_audit_chain_ok",
		"GaiaIAMHigh5xxRate":          "gaia_http_requests_total",
		"GaiaIAMReplicasDown":         "up",
		"GaiaIAMDown":                 "up",
	}
	rules := alertRules(t)
	for alert, metric := range watches {
		i := slices.IndexFunc(rules, func(r alertRule) bool { return r.Alert == alert })
		if i < 0 {
			t.Errorf("no alert %s", alert)
			continue
		}
		if !slices.Contains(metricNames(t, alert, rules[i].Expr), metric) {
			t.Errorf("%s does not watch %s: %s", alert, metric, rules[i].Expr)
		}
	}
}

type grafanaPanel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct{ Expr string }
	Panels     []grafanaPanel
}

// grafanaVariables stands in for what Grafana substitutes before a query
// reaches Prometheus.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"${namespace}", ".*",
	"$namespace", ".*",
)

func TestDashboard_EveryPanelQueriesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("grafana/gaia-iam.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID, Title string
		Panels     []grafanaPanel
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/gaia-iam.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("the dashboard has no uid or title")
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	var check func(panels []grafanaPanel)
	check = func(panels []grafanaPanel) {
		for _, p := range panels {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos x=%d w=%d outside Grafana's 24 columns", p.Title, p.GridPos.X, p.GridPos.W)
			}
			check(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: not on the dashboard's datasource variable", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no query", p.Title)
			}
			for _, q := range p.Targets {
				for _, name := range metricNames(t, "panel "+p.Title, grafanaVariables.Replace(q.Expr)) {
					if !documented(name) {
						t.Errorf("panel %q: %s is not a metric the server exports", p.Title, name)
					}
					used[strings.TrimSuffix(name, "_bucket")] = true
				}
			}
		}
	}
	check(dash.Panels)
	for _, m := range documentedMetrics {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}
