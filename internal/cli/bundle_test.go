package cli_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/gaia-platform/iam/internal/testkit"
)

const bundlePath = "/bundles/gaia.tar.gz"

func TestBundle_ServedSignedWithSeededRolesKeysAndPolicy(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	srv := e.Serve()
	r, b := bundle(t, srv, "")

	if ct := r.Header.Get("Content-Type"); ct != "application/gzip" {
		t.Errorf("Content-Type %q, want application/gzip", ct)
	}
	if etag := r.Header.Get("ETag"); etag != `"`+b.Manifest.Revision+`"` || len(b.Manifest.Revision) != 64 {
		t.Errorf("ETag %s for revision %q, want the quoted revision", etag, b.Manifest.Revision)
	}
	var paths []string
	for _, m := range b.Modules {
		paths = append(paths, m.Path)
	}
	if !slices.Equal(paths, []string{"/policies/authz.rego"}) {
		t.Errorf("modules %q, want /policies/authz.rego", paths)
	}

	gaia := b.Data["gaia"].(map[string]any)
	wantJSON(t, "roles", gaia["roles"], map[string][]string{
		"Admin":               {"analytics.report.view", "inventory.read", "inventory.write"},
		"Analyst":             {"analytics.report.view", "inventory.read"},
		"Viewer":              {"inventory.read"},
		"iam-admin":           {"iam.audit.read", "iam.roles.write", "iam.users.read", "iam.users.write"},
		"iam-decision-logger": {"iam.decisions.write"},
	})
	wantJSON(t, "config", gaia["config"], map[string]string{"issuer": "gaia-iam"})
	wantJSON(t, "keys", gaia["keys"], json.RawMessage(srv.Do(t, http.MethodGet, "/.well-known/jwks.json", "").Body))
	wantJSON(t, "revocations", gaia["revocations"], map[string]any{"jti": map[string]any{}, "subjects": map[string]any{}})

	nm := srv.Do(t, http.MethodGet, bundlePath, "", "If-None-Match", r.Header.Get("ETag"))
	if nm.Status != http.StatusNotModified || len(nm.Body) != 0 || nm.Header.Get("ETag") != r.Header.Get("ETag") {
		t.Errorf("If-None-Match the current ETag: %d, %d bytes, ETag %s; want 304, no body, same ETag", nm.Status, len(nm.Body), nm.Header.Get("ETag"))
	}
	if stale := srv.Do(t, http.MethodGet, bundlePath, "", "If-None-Match", `"stale"`); stale.Status != http.StatusOK || !bytes.Equal(stale.Body, r.Body) {
		t.Errorf("If-None-Match a stale ETag: %d, want 200 and the bundle", stale.Status)
	}

	logs := srv.Logs.String()
	if !strings.Contains(logs, `"msg":"policy bundle compiled"`) || !strings.Contains(logs, b.Manifest.Revision) {
		t.Errorf("the server did not log the bundle revision it serves:\n%s", logs)
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Error("the server logged a private key")
	}
}

// Changes made with the CLI reach the served bundle at the publisher's
// next poll, and the policy in it then answers differently for a token
// issued before them.
func TestBundle_RoleChangesReachTheServedBundleWithinSeconds(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	aliceID := e.UserID("alice")
	srv := e.Serve()
	token := srv.Token(t, "alice", alicePassword)
	first, b := bundle(t, srv, "")
	wantDecision(t, b, token, "inventory.read", true)
	wantDecision(t, b, token, "inventory.write", false, "permission_missing")

	e.Must("", "role", "grant", "Analyst", "inventory.write")
	e.Must("", "user", "remove-role", "alice", "Analyst")

	_, b = bundleWhere(t, srv, first.Header.Get("ETag"), func(b opabundle.Bundle) bool {
		gaia := b.Data["gaia"].(map[string]any)
		analyst, _ := gaia["roles"].(map[string]any)["Analyst"].([]any)
		_, revoked := gaia["revocations"].(map[string]any)["subjects"].(map[string]any)[aliceID]
		return slices.Contains(analyst, any("inventory.write")) && revoked
	})
	wantDecision(t, b, token, "inventory.read", false, "token_revoked")
}

// Replicas compile the same state into the same bytes, so a service
// polling through a load balancer sees one ETag, not one per replica.
func TestBundle_ReplicasOnOneDatabaseServeByteIdenticalBundles(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must("", "user", "remove-role", "alice", "Analyst") // a revocation in the data, too
	a, b := e.Serve(), e.Serve()
	ra, _ := bundle(t, a, "")
	rb, _ := bundle(t, b, "")
	if !bytes.Equal(ra.Body, rb.Body) || ra.Header.Get("ETag") != rb.Header.Get("ETag") {
		t.Fatalf("replicas serve different bundles: ETags %s and %s, %d and %d bytes",
			ra.Header.Get("ETag"), rb.Header.Get("ETag"), len(ra.Body), len(rb.Body))
	}
}

func TestBundle_DisablingAUserRevokesItsTokens(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	aliceID := e.UserID("alice")
	srv := e.Serve()
	first, _ := bundle(t, srv, "")
	before := time.Now().Unix()
	e.Must("", "user", "disable", "alice")
	after := time.Now().Unix()

	var notBefore json.Number
	bundleWhere(t, srv, first.Header.Get("ETag"), func(b opabundle.Bundle) bool {
		subjects := b.Data["gaia"].(map[string]any)["revocations"].(map[string]any)["subjects"].(map[string]any)
		notBefore, _ = subjects[aliceID].(json.Number)
		return notBefore != ""
	})
	if nb, err := notBefore.Int64(); err != nil || nb < before || nb > after {
		t.Errorf("alice's tokens void up to %s, want a time between %d and %d", notBefore, before, after)
	}
}

// bundle fetches the served bundle and reads it as OPA does, verifying its
// signature with the key the server publishes in its JWKS, under its kid.
func bundle(t *testing.T, s *testkit.Server, ifNoneMatch string) (testkit.Response, opabundle.Bundle) {
	t.Helper()
	var header []string
	if ifNoneMatch != "" {
		header = []string{"If-None-Match", ifNoneMatch}
	}
	r := s.Do(t, http.MethodGet, bundlePath, "", header...)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", bundlePath, r.Status, r.Body)
	}
	b, err := opabundle.NewReader(bytes.NewReader(r.Body)).WithBundleVerificationConfig(bundleVerification(t, s)).Read()
	if err != nil {
		t.Fatalf("read and verify the served bundle: %v", err)
	}
	return r, b
}

// bundleWhere polls the bundle, for at most 10 seconds, until one other
// than the ETag stale meets cond.
func bundleWhere(t *testing.T, s *testkit.Server, stale string, cond func(opabundle.Bundle) bool) (testkit.Response, opabundle.Bundle) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := s.Do(t, http.MethodGet, bundlePath, "", "If-None-Match", stale); r.Status != http.StatusNotModified {
			r, b := bundle(t, s, "")
			if cond(b) {
				return r, b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the served bundle did not change as expected within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bundleVerification trusts every key the server's JWKS publishes, by kid,
// as the SDK does: the signature's kid picks the key.
func bundleVerification(t *testing.T, s *testkit.Server) *opabundle.VerificationConfig {
	t.Helper()
	set, err := jwk.Parse(s.Do(t, http.MethodGet, "/.well-known/jwks.json", "").Body)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*opabundle.KeyConfig{}
	for i := range set.Len() {
		key, _ := set.Key(i)
		var pub rsa.PublicKey
		if err := key.Raw(&pub); err != nil {
			t.Fatal(err)
		}
		pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&pub))}))
		keys[key.KeyID()] = &opabundle.KeyConfig{Key: pubPEM, Algorithm: "RS256"}
	}
	return opabundle.NewVerificationConfig(keys, "", "", nil)
}

// wantDecision evaluates the bundle's policy as a service would.
func wantDecision(t *testing.T, b opabundle.Bundle, token, permission string, allow bool, reasons ...string) {
	t.Helper()
	rs, err := rego.New(
		rego.Query("data.gaia.authz.decision"),
		rego.ParsedBundle("gaia", &b),
		rego.Input(map[string]any{"token": token, "permission": permission}),
	).Eval(t.Context())
	if err != nil || len(rs) != 1 {
		t.Fatalf("evaluate decision: %v (%d results)", err, len(rs))
	}
	d := rs[0].Expressions[0].Value.(map[string]any)
	var got []string
	for _, r := range d["reasons"].([]any) {
		got = append(got, r.(string))
	}
	if d["allow"] != allow || strings.Join(got, ",") != strings.Join(reasons, ",") {
		t.Errorf("decision on %s = %v, want allow %v with reasons %q", permission, d, allow, reasons)
	}
}

func wantJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if gs, ws := must(json.Marshal(gv)), must(json.Marshal(wv)); !bytes.Equal(gs, ws) {
		t.Errorf("%s\n got %s\nwant %s", what, gs, ws)
	}
}
