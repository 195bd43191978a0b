package sdk_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// startStockOPA runs an opa built from the pinned module with the shipped
// bundles/opa-config.yaml, configured only with the IAM's URL and public key.
func startStockOPA(t testing.TB, iam *fakeIAM) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&iam.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "\n", `\n`)
	return testkit.StartOPA(t, "../bundles/opa-config.yaml",
		[]string{"GAIA_IAM_URL=" + iam.srv.URL, "GAIA_IAM_PUBLIC_KEY=" + key},
		"--set", "bundles.gaia.polling.min_delay_seconds=1", "--set", "bundles.gaia.polling.max_delay_seconds=1")
}

type opaDecision struct {
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons"`
}

func askOPA(t testing.TB, client *http.Client, opaURL, token, permission string) (opaDecision, bool) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"input": map[string]any{"token": token, "permission": permission}})
	resp, err := client.Post(opaURL+"/v1/data/gaia/authz/decision", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result *opaDecision `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Result == nil {
		return opaDecision{}, false // no bundle active yet
	}
	return *out.Result, true
}

func TestStockOPA_AnswersLikeTheSDK(t *testing.T) {
	iam := newFakeIAM(t)
	analyst := iam.token([]string{"Analyst"}, nil)
	revoked := iam.token([]string{"Admin"}, func(c map[string]any) { c["jti"] = "revoked-jti" })
	iam.revokeJTI("revoked-jti")
	opaURL := startStockOPA(t, iam)
	a := newAuthorizer(t, iam, "")
	ready(t, a)
	testkit.Eventually(t, 10*time.Second, "stock OPA activates the bundle", func() bool {
		_, ok := askOPA(t, http.DefaultClient, opaURL, analyst, "inventory.read")
		return ok
	})

	tokens := map[string]string{
		"analyst": analyst,
		"admin":   iam.token([]string{"Admin"}, nil),
		"service": iam.token([]string{"Analyst"}, func(c map[string]any) { c["type"] = "service" }),
		"no role": iam.token([]string{}, nil),
		"expired": iam.token([]string{"Admin"}, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"revoked": revoked,
		"forged":  signToken(t, otherKey, iam.kid, []string{"Admin"}, nil),
		"garbage": "a.b.c",
	}
	permissions := []string{"inventory.read", "inventory.write", "analytics.report.view", "inventory.*", ""}
	allowed := 0
	for name, tok := range tokens {
		for _, p := range permissions {
			want, _ := askOPA(t, http.DefaultClient, opaURL, tok, p)
			got, err := a.Authorize(context.Background(), tok, p)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(want.Reasons)
			if got.Allow != want.Allow || !slices.Equal(got.Reasons, append([]string{}, want.Reasons...)) {
				t.Errorf("%s / %q: SDK %v %v, stock OPA %v %v", name, p, got.Allow, got.Reasons, want.Allow, want.Reasons)
			}
			if got.Allow {
				allowed++
			}
		}
	}
	if allowed == 0 {
		t.Fatal("the matrix allowed nothing: it compares nothing useful")
	}
}

// BenchmarkStockOPA_HTTPDecision is the same decision as
// BenchmarkAuthorize_SeenToken asked over HTTP of a local stock OPA.
func BenchmarkStockOPA_HTTPDecision(b *testing.B) {
	iam := newFakeIAM(b)
	opaURL := startStockOPA(b, iam)
	tok := iam.token([]string{"Analyst"}, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	testkit.Eventually(b, 10*time.Second, "stock OPA activates the bundle", func() bool {
		_, ok := askOPA(b, client, opaURL, tok, "inventory.read")
		return ok
	})
	for b.Loop() {
		if d, _ := askOPA(b, client, opaURL, tok, "inventory.read"); !d.Allow {
			b.Fatal("denied")
		}
	}
}
