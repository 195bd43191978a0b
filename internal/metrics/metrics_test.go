package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/metrics"
)

// Labels come from fixed sets whatever a client sends: an unknown method
// is "other", a path no route matched is "unmatched".
func TestObserveRequest_LabelsAreBounded(t *testing.T) {
	for _, tc := range []struct {
		route, method string
		status        int
		want          string
	}{
		{"/auth/login", "POST", 200, `gaia_http_requests_total{code="2xx",method="POST",route="/auth/login"} 1`},
		{"", "GET", 404, `gaia_http_requests_total{code="4xx",method="GET",route="unmatched"} 1`},
		{"/healthz", "PROPFIND", 405, `gaia_http_requests_total{code="4xx",method="other",route="/healthz"} 1`},
		{"/healthz", "GET", 503, `gaia_http_requests_total{code="5xx",method="GET",route="/healthz"} 1`},
		{"/healthz", "GET", 0, `gaia_http_requests_total{code="other",method="GET",route="/healthz"} 1`},
	} {
		m := metrics.New()
		m.ObserveRequest(tc.route, tc.method, tc.status, time.Millisecond)
		if out := exposition(t, m); !strings.Contains(out, tc.want+"\n") {
			t.Errorf("%s %q %d: no line %s", tc.method, tc.route, tc.status, tc.want)
		}
	}
}

// gaia_audit_chain_ok claims nothing before a verification has ended.
func TestAuditChainOK_AbsentUntilTheFirstVerification(t *testing.T) {
	m := metrics.New()
	if out := exposition(t, m); strings.Contains(out, "\ngaia_audit_chain_ok ") {
		t.Errorf("gaia_audit_chain_ok before any verification:\n%s", out)
	}
	for _, tc := range []struct {
		ok   bool
		want string
	}{{true, "gaia_audit_chain_ok 1\n"}, {false, "gaia_audit_chain_ok 0\n"}} {
		m.AuditChainVerified(tc.ok)
		if out := exposition(t, m); !strings.Contains(out, tc.want) {
			t.Errorf("after a verification that found ok=%v: no line %q", tc.ok, tc.want)
		}
	}
}

func exposition(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.String()
}
