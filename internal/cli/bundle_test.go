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
)

const bundlePath = "/bundles/gaia.tar.gz"

func TestBundle_ServedSignedWithSeededRolesKeysAndPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must("", "seed", "--file", examplesSeed)
	srv := e.serve()
	r, b := srv.bundle(t, "")

	if ct := r.header.Get("Content-Type"); ct != "application/gzip" {
		t.Errorf("Content-Type %q, want application/gzip", ct)
	}
	if etag := r.header.Get("ETag"); etag != `"`+b.Manifest.Revision+`"` || len(b.Manifest.Revision) != 64 {
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
		"Admin":     {"analytics.report.view", "inventory.read", "inventory.write"},
		"Analyst":   {"analytics.report.view", "inventory.read"},
		"Viewer":    {"inventory.read"},
		"iam-admin": {"iam.audit.read", "iam.roles.write", "iam.users.read", "iam.users.write"},
	})
	wantJSON(t, "config", gaia["config"], map[string]string{"issuer": "gaia-iam"})
	wantJSON(t, "keys", gaia["keys"], json.RawMessage(srv.do(t, http.MethodGet, "/.well-known/jwks.json", "").body))
	wantJSON(t, "revocations", gaia["revocations"], map[string]any{"jti": map[string]any{}, "subjects": map[string]any{}})

	nm := srv.do(t, http.MethodGet, bundlePath, "", "If-None-Match", r.header.Get("ETag"))
	if nm.status != http.StatusNotModified || len(nm.body) != 0 || nm.header.Get("ETag") != r.header.Get("ETag") {
		t.Errorf("If-None-Match the current ETag: %d, %d bytes, ETag %s; want 304, no body, same ETag", nm.status, len(nm.body), nm.header.Get("ETag"))
	}
	if stale := srv.do(t, http.MethodGet, bundlePath, "", "If-None-Match", `"stale"`); stale.status != http.StatusOK || !bytes.Equal(stale.body, r.body) {
		t.Errorf("If-None-Match a stale ETag: %d, want 200 and the bundle", stale.status)
	}

	logs := srv.logs.String()
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
	e := newEnv(t)
	e.withUser("alice", alicePassword, "Analyst")
	aliceID := userID(t, e, "alice")
	srv := e.serve()
	token := srv.token(t, "alice", alicePassword)
	first, b := srv.bundle(t, "")
	wantDecision(t, b, token, "inventory.read", true)
	wantDecision(t, b, token, "inventory.write", false, "permission_missing")

	e.must("", "role", "grant", "Analyst", "inventory.write")
	e.must("", "user", "remove-role", "alice", "Analyst")

	_, b = srv.bundleWhere(t, first.header.Get("ETag"), func(b opabundle.Bundle) bool {
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
	e := newEnv(t)
	e.withUser("alice", alicePassword, "Analyst")
	e.must("", "user", "remove-role", "alice", "Analyst") // a revocation in the data, too
	a, b := e.serve(), e.serve()
	ra, _ := a.bundle(t, "")
	rb, _ := b.bundle(t, "")
	if !bytes.Equal(ra.body, rb.body) || ra.header.Get("ETag") != rb.header.Get("ETag") {
		t.Fatalf("replicas serve different bundles: ETags %s and %s, %d and %d bytes",
			ra.header.Get("ETag"), rb.header.Get("ETag"), len(ra.body), len(rb.body))
	}
}

func TestBundle_DisablingAUserRevokesItsTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.withUser("alice", alicePassword, "Viewer")
	aliceID := userID(t, e, "alice")
	srv := e.serve()
	first, _ := srv.bundle(t, "")
	before := time.Now().Unix()
	e.must("", "user", "disable", "alice")
	after := time.Now().Unix()

	var notBefore json.Number
	srv.bundleWhere(t, first.header.Get("ETag"), func(b opabundle.Bundle) bool {
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
func (s *server) bundle(t *testing.T, ifNoneMatch string) (response, opabundle.Bundle) {
	t.Helper()
	var header []string
	if ifNoneMatch != "" {
		header = []string{"If-None-Match", ifNoneMatch}
	}
	r := s.do(t, http.MethodGet, bundlePath, "", header...)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", bundlePath, r.status, r.body)
	}
	b, err := opabundle.NewReader(bytes.NewReader(r.body)).WithBundleVerificationConfig(s.bundleVerification(t)).Read()
	if err != nil {
		t.Fatalf("read and verify the served bundle: %v", err)
	}
	return r, b
}

// bundleWhere polls the bundle, for at most 10 seconds, until one other
// than the ETag stale meets cond.
func (s *server) bundleWhere(t *testing.T, stale string, cond func(opabundle.Bundle) bool) (response, opabundle.Bundle) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := s.do(t, http.MethodGet, bundlePath, "", "If-None-Match", stale); r.status != http.StatusNotModified {
			r, b := s.bundle(t, "")
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

func (s *server) bundleVerification(t *testing.T) *opabundle.VerificationConfig {
	t.Helper()
	set, err := jwk.Parse(s.do(t, http.MethodGet, "/.well-known/jwks.json", "").body)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := set.Key(0)
	var pub rsa.PublicKey
	if err := key.Raw(&pub); err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&pub))}))
	keys := map[string]*opabundle.KeyConfig{key.KeyID(): {Key: pubPEM, Algorithm: "RS256"}}
	return opabundle.NewVerificationConfig(keys, key.KeyID(), "", nil)
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
