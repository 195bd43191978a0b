package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gaia-platform/iam/internal/httpapi"
	gaiametrics "github.com/gaia-platform/iam/internal/metrics"
	"github.com/gaia-platform/iam/internal/testkit"
)

// scraped is one scrape of GET /metrics, parsed as Prometheus parses it.
type scraped map[string]*dto.MetricFamily

func scrape(t *testing.T, url string) scraped {
	t.Helper()
	r := testkit.Do(t, http.MethodGet, url, "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("GET %s is not the Prometheus text format: %v", url, err)
	}
	return fams
}

// sample is the value of name's series with exactly labels (name/value
// pairs): a counter's or gauge's value, a histogram's count. ok is false
// when there is no such series.
func (m scraped) sample(name string, labels ...string) (v float64, ok bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, s := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range s.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return s.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return s.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(s.GetHistogram().GetSampleCount()), true
		default:
			return s.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// value is sample, failing the test when the series is missing.
func (m scraped) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.sample(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in the metrics", name, labels)
	}
	return v
}

// series counts the lines of samples the scrape held: one per counter or
// gauge series, a histogram's buckets, sum and count.
func (m scraped) series() int {
	n := 0
	for _, f := range m {
		for _, s := range f.GetMetric() {
			switch {
			case s.Histogram != nil:
				n += len(s.GetHistogram().GetBucket()) + 2
			case s.Summary != nil:
				n += len(s.GetSummary().GetQuantile()) + 2
			default:
				n++
			}
		}
	}
	return n
}

// moved checks that the series of name with labels grew by want between
// two scrapes (absent before counts as 0).
func moved(t *testing.T, before, after scraped, want float64, name string, labels ...string) {
	t.Helper()
	b, _ := before.sample(name, labels...)
	if d := after.value(t, name, labels...) - b; d != want {
		t.Errorf("%s%v moved by %v, want %v", name, labels, d, want)
	}
}

func TestMetrics_LoginsCountBySuccessFailureAndLock(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve()
	before := scrape(t, srv.URL+"/metrics")

	srv.Token(t, "alice", alicePassword)
	srv.FailLogins(t, 5, "mallory") // the fifth locks the name
	testkit.AssertThrottled(t, srv.Login(t, "mallory", "guess"), time.Minute)
	after := scrape(t, srv.URL+"/metrics")

	moved(t, before, after, 1, "gaia_logins_total", "outcome", "success")
	moved(t, before, after, 5, "gaia_logins_total", "outcome", "invalid_credentials")
	moved(t, before, after, 1, "gaia_logins_total", "outcome", "locked")
	moved(t, before, after, 0, "gaia_logins_total", "outcome", "overloaded")
	// /auth/login is the password grant.
	moved(t, before, after, 1, "gaia_token_grants_total", "grant_type", "password", "outcome", "success")
	moved(t, before, after, 5, "gaia_token_grants_total", "grant_type", "password", "outcome", "invalid_credentials")
	moved(t, before, after, 1, "gaia_token_grants_total", "grant_type", "password", "outcome", "locked")
	// By route template, method and status class.
	moved(t, before, after, 1, "gaia_http_requests_total", "route", "/auth/login", "method", "POST", "code", "2xx")
	moved(t, before, after, 6, "gaia_http_requests_total", "route", "/auth/login", "method", "POST", "code", "4xx")
	moved(t, before, after, 7, "gaia_http_request_duration_seconds", "route", "/auth/login", "method", "POST")
	// A success, five failures and a lock: each an audit event at least.
	if d := after.value(t, "gaia_audit_appends_total") - before.value(t, "gaia_audit_appends_total"); d < 7 {
		t.Errorf("gaia_audit_appends_total moved by %v, want at least 7", d)
	}
	if a, h := after.value(t, "gaia_audit_appends_total"), after.value(t, "gaia_audit_append_duration_seconds"); a != h {
		t.Errorf("%v appends, %v timed", a, h)
	}
}

func TestMetrics_GrantsRotationsAndReuseCount(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	creds := e.NewService("reporting", "Viewer")
	srv := e.Serve("--refresh-reuse-grace", "0") // any second use is theft
	p := srv.LoginPair(t, "alice", alicePassword)
	before := scrape(t, srv.URL+"/metrics")

	srv.ServiceToken(t, creds)
	assertOAuthError(t, postToken(t, srv, form("grant_type", "client_credentials"), "Authorization", basic(creds.ClientID, "wrong")),
		http.StatusUnauthorized, "invalid_client")
	srv.MustRefresh(t, p.Refresh)
	mid := scrape(t, srv.URL+"/metrics")
	moved(t, before, mid, 1, "gaia_token_grants_total", "grant_type", "client_credentials", "outcome", "success")
	moved(t, before, mid, 1, "gaia_token_grants_total", "grant_type", "client_credentials", "outcome", "invalid_client")
	moved(t, before, mid, 1, "gaia_token_grants_total", "grant_type", "refresh_token", "outcome", "success")
	moved(t, before, mid, 1, "gaia_refresh_rotations_total")
	moved(t, before, mid, 0, "gaia_refresh_reuse_detected_total")

	// The spent token again, at the OAuth door: reuse, detected once.
	assertOAuthError(t, refreshGrant(t, srv, p.Refresh), http.StatusBadRequest, "invalid_grant")
	after := scrape(t, srv.URL+"/metrics")
	moved(t, mid, after, 1, "gaia_refresh_reuse_detected_total")
	moved(t, mid, after, 1, "gaia_token_grants_total", "grant_type", "refresh_token", "outcome", "invalid_grant")
	moved(t, mid, after, 0, "gaia_refresh_rotations_total")
	moved(t, mid, after, 1, "gaia_http_requests_total", "route", "/oauth/token", "method", "POST", "code", "4xx")
}

func TestMetrics_ACLIRoleChangeCountsABundleBuildWithinAPoll(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve()
	before := scrape(t, srv.URL+"/metrics")
	if before.value(t, "gaia_bundle_builds_total") < 1 {
		t.Error("no bundle build counted at start")
	}
	if size := before.value(t, "gaia_bundle_size_bytes"); size < 100 {
		t.Errorf("gaia_bundle_size_bytes %v, want the bundle's size", size)
	}
	if age := before.value(t, "gaia_bundle_revision_age_seconds"); age < 0 {
		t.Errorf("gaia_bundle_revision_age_seconds %v", age)
	}

	e.Must("", "role", "grant", "Viewer", "analytics.report.view")
	testkit.Eventually(t, 5*time.Second, "a bundle build counted after the CLI's role change", func() bool {
		after := scrape(t, srv.URL+"/metrics")
		return after.value(t, "gaia_bundle_builds_total") > before.value(t, "gaia_bundle_builds_total")
	})
	after := scrape(t, srv.URL+"/metrics")
	if after.value(t, "gaia_bundle_build_duration_seconds") < after.value(t, "gaia_bundle_builds_total") {
		t.Error("fewer compilations timed than builds counted")
	}
}

// Failed logins of a thousand names, each new, from fifty addresses add
// no series: no label holds a username or an IP. Each address is blocked
// after two failures (hashed, 401), so most of the thousand are refused
// before hashing (429, locked), which keeps the test short.
func TestMetrics_AThousandUsernamesMakeNoNewSeries(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve("--trusted-proxies", "127.0.0.1/32", "--login-max-failures-ip", "2")
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	// Every route, status class and outcome the flood reaches answers
	// once first, and so does /metrics.
	srv.FailLogins(t, 2, "warm-up", from("192.0.2.1")...)
	testkit.AssertError(t, srv.LoginFrom(t, "warm-up", "not the password!", from("192.0.2.1")...), http.StatusTooManyRequests, "too_many_attempts")
	scrape(t, srv.URL+"/metrics")
	before := scrape(t, srv.URL+"/metrics")

	for i := range 1000 {
		r := srv.LoginFrom(t, fmt.Sprintf("user-%04d-%s", i, uuid.NewString()), "not the password!", from(fmt.Sprintf("198.51.100.%d", i/20))...)
		if r.Status != http.StatusUnauthorized && r.Status != http.StatusTooManyRequests {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	after := scrape(t, srv.URL+"/metrics")
	if b, a := before.series(), after.series(); a != b {
		t.Errorf("%d series before a thousand usernames' failed logins, %d after", b, a)
	}
	failed := after.value(t, "gaia_logins_total", "outcome", "invalid_credentials") - before.value(t, "gaia_logins_total", "outcome", "invalid_credentials")
	locked := after.value(t, "gaia_logins_total", "outcome", "locked") - before.value(t, "gaia_logins_total", "outcome", "locked")
	if failed != 100 || locked != 900 {
		t.Errorf("%v invalid_credentials and %v locked, want 100 and 900", failed, locked)
	}
	for name, f := range after {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), "user-") || strings.Contains(l.GetValue(), "198.51.100.") {
					t.Fatalf("%s has the label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// metricsAddr is the address the server's "serving metrics" line names.
func metricsAddr(t *testing.T, srv *testkit.Server) string {
	t.Helper()
	for _, line := range strings.Split(srv.Logs.String(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving metrics" {
			return rec.Addr
		}
	}
	t.Fatalf("no serving metrics line in the logs: %s", srv.Logs)
	return ""
}

func TestMetrics_OnTheirOwnListenerAndNotThePublicOne(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve("--metrics-addr", "127.0.0.1:0")
	srv.Token(t, "alice", alicePassword)
	url := "http://" + metricsAddr(t, srv)
	m := scrape(t, url+"/metrics")
	if v := m.value(t, "gaia_logins_total", "outcome", "success"); v != 1 {
		t.Errorf("gaia_logins_total{outcome=success} %v on the metrics listener, want 1", v)
	}
	testkit.AssertError(t, srv.Do(t, http.MethodGet, "/metrics", ""), http.StatusNotFound, "not_found")
	testkit.AssertError(t, testkit.Do(t, http.MethodGet, url+"/healthz", ""), http.StatusNotFound, "not_found")
	testkit.AssertError(t, testkit.Do(t, http.MethodPost, url+"/metrics", ""), http.StatusNotFound, "not_found")
	// The public 404 is a request like any other; the listener's own are
	// not counted.
	m = scrape(t, url+"/metrics")
	if v := m.value(t, "gaia_http_requests_total", "route", "/metrics", "method", "GET", "code", "4xx"); v != 1 {
		t.Errorf("public GET /metrics 404s counted %v, want 1", v)
	}
}

func TestMetrics_RuntimeProcessHashingAndPoolCollectorsArePresent(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve()
	testkit.AssertError(t, srv.Do(t, http.MethodGet, "/no/such/page?user=alice", ""), http.StatusNotFound, "not_found")
	m := scrape(t, srv.URL+"/metrics")
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
		"gaia_hashing_slots_in_use", "gaia_hashing_queue_depth", "gaia_hashing_shed_total"} {
		if m[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if v := m.value(t, "gaia_http_requests_total", "route", "unmatched", "method", "GET", "code", "4xx"); v != 1 {
		t.Errorf("unmatched 404s %v, want 1", v)
	}
	pool := []string{"gaia_db_pool_acquired_connections", "gaia_db_pool_idle_connections", "gaia_db_pool_total_connections",
		"gaia_db_pool_max_connections", "gaia_db_pool_acquire_wait_seconds_total"}
	onPostgres := !strings.HasPrefix(e.DatabaseURL, "sqlite://")
	for _, name := range pool {
		if _, ok := m.sample(name); ok != onPostgres {
			t.Errorf("%s present: %v; want it on PostgreSQL only", name, ok)
		}
	}
	if onPostgres && (m.value(t, "gaia_db_pool_max_connections") < 1 || m.value(t, "gaia_db_pool_total_connections") < 1) {
		t.Errorf("pool max %v, total %v: want an open pool", m.value(t, "gaia_db_pool_max_connections"), m.value(t, "gaia_db_pool_total_connections"))
	}
}

func TestMetrics_DecisionLogUploadsCountTheirDecisions(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve()
	opa := srv.ServiceToken(t, e.NewService("opa-sidecar", "iam-decision-logger"))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_ = json.NewEncoder(zw).Encode([]map[string]any{
		{"decision_id": uuid.NewString(), "path": "gaia/authz/decision", "result": map[string]any{"allow": true},
			"timestamp": time.Now().UTC().Format(time.RFC3339Nano)},
		{"decision_id": uuid.NewString(), "path": "gaia/authz/decision", "result": map[string]any{"allow": false},
			"timestamp": time.Now().UTC().Format(time.RFC3339Nano)},
	})
	_ = zw.Close()
	r := srv.Do(t, http.MethodPost, "/logs", buf.String(),
		"Content-Type", "application/json", "Content-Encoding", "gzip", "Authorization", "Bearer "+opa)
	if r.Status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	if v := scrape(t, srv.URL+"/metrics").value(t, "gaia_decision_log_events_total"); v != 2 {
		t.Errorf("gaia_decision_log_events_total %v, want 2", v)
	}
}

// The chain is verified at start and every --audit-verify-interval; an
// edited row turns gaia_audit_chain_ok to 0 at the next verification.
func TestMetrics_AuditChainOKFollowsThePeriodicVerification(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve("--audit-verify-interval", "200ms")
	chainOK := func() (float64, bool) { return scrape(t, srv.URL+"/metrics").sample("gaia_audit_chain_ok") }
	testkit.Eventually(t, 10*time.Second, "gaia_audit_chain_ok is 1", func() bool { v, ok := chainOK(); return ok && v == 1 })
	if strings.HasPrefix(e.DatabaseURL, "sqlite://") {
		t.Skip("the edit below is PostgreSQL's; internal/cli's audit verify tests break SQLite's chain")
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, e.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{`ALTER TABLE audit_events DISABLE TRIGGER USER`,
		`UPDATE audit_events SET actor = 'mallory' WHERE id = (SELECT min(id) FROM audit_events)`,
		`ALTER TABLE audit_events ENABLE TRIGGER USER`} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, "gaia_audit_chain_ok is 0 after an edit", func() bool { v, ok := chainOK(); return ok && v == 0 })
}

// The cost of counting and timing a request: GET /healthz through the
// whole middleware chain, with and without the metrics observing it. The
// difference is the middleware's cost per request.
func BenchmarkMetrics_RequestObserved(b *testing.B) {
	for name, requests := range map[string]httpapi.RequestObserver{"without": nil, "with": gaiametrics.New()} {
		b.Run(name, func(b *testing.B) {
			h := httpapi.New(httpapi.Deps{Log: slog.New(slog.DiscardHandler), Requests: requests})
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
