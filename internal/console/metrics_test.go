package console_test

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The console's sign-in is a password login like the API's: it counts in
// gaia_logins_total, and as no token grant.
func TestConsole_SignInsCountAsPasswordLogins(t *testing.T) {
	_, s := installation(t)
	f := newForm(t, s)
	f.mustLogin("root", adminPassword)
	wantStatus(t, "a wrong password", f.login("carol", "wrong-password-1"), http.StatusUnauthorized)

	r := s.Do(t, http.MethodGet, "/metrics", "")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(r.Body)))
	if r.Status != http.StatusOK || err != nil {
		t.Fatalf("GET /metrics: %d %v", r.Status, err)
	}
	count := func(name string, labels ...string) float64 {
		for _, m := range fams[name].GetMetric() {
			if labelsAre(m, labels...) {
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	for outcome, want := range map[string]float64{"success": 1, "invalid_credentials": 1} {
		if v := count("gaia_logins_total", "outcome", outcome); v != want {
			t.Errorf("gaia_logins_total{outcome=%q} %v, want %v", outcome, v, want)
		}
		if v := count("gaia_token_grants_total", "grant_type", "password", "outcome", outcome); v != 0 {
			t.Errorf("console sign-ins counted as password grants: %v", v)
		}
	}
}

func labelsAre(m *dto.Metric, pairs ...string) bool {
	if len(m.GetLabel())*2 != len(pairs) {
		return false
	}
	for _, l := range m.GetLabel() {
		found := false
		for j := 0; j+1 < len(pairs); j += 2 {
			found = found || (pairs[j] == l.GetName() && pairs[j+1] == l.GetValue())
		}
		if !found {
			return false
		}
	}
	return true
}
