package testkit

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/gaia-platform/iam/sdk"
)

// BundlePath is where the server serves its signed policy bundle.
const BundlePath = "/bundles/gaia.tar.gz"

// Bundle fetches the served bundle and reads it as OPA does, verifying its
// signature with the key the server publishes in its JWKS, under its kid.
func (s *Server) Bundle(t testing.TB, ifNoneMatch string) (Response, opabundle.Bundle) {
	t.Helper()
	var header []string
	if ifNoneMatch != "" {
		header = []string{"If-None-Match", ifNoneMatch}
	}
	r := s.Do(t, http.MethodGet, BundlePath, "", header...)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", BundlePath, r.Status, r.Body)
	}
	b, err := opabundle.NewReader(bytes.NewReader(r.Body)).WithBundleVerificationConfig(s.bundleVerification(t)).Read()
	if err != nil {
		t.Fatalf("read and verify the served bundle: %v", err)
	}
	return r, b
}

// BundleWhere polls the bundle, for at most 10 seconds, until one other
// than the ETag stale meets cond.
func (s *Server) BundleWhere(t testing.TB, stale string, cond func(opabundle.Bundle) bool) (Response, opabundle.Bundle) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := s.Do(t, http.MethodGet, BundlePath, "", "If-None-Match", stale); r.Status != http.StatusNotModified {
			r, b := s.Bundle(t, "")
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
func (s *Server) bundleVerification(t testing.TB) *opabundle.VerificationConfig {
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
		der, err := x509.MarshalPKIXPublicKey(&pub)
		if err != nil {
			t.Fatal(err)
		}
		keys[key.KeyID()] = &opabundle.KeyConfig{Key: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), Algorithm: "RS256"}
	}
	return opabundle.NewVerificationConfig(keys, "", "", nil)
}

// WantDecision evaluates the bundle's policy as a service would, and
// checks its verdict on token's permission and the reasons it gives.
func WantDecision(t testing.TB, b opabundle.Bundle, token, permission string, allow bool, reasons ...string) {
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

// ReadyAuthorizer starts an SDK authorizer of the IAM at iamURL, polling
// every second, and waits for its first bundle. It closes when t ends.
func ReadyAuthorizer(t testing.TB, iamURL string) *sdk.Authorizer {
	t.Helper()
	authz, err := sdk.New(context.Background(), sdk.Config{IAMURL: iamURL, PollInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(authz.Close)
	Eventually(t, 10*time.Second, "first bundle loaded", authz.Ready)
	return authz
}
