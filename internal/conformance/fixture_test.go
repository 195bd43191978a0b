package conformance

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// The fixed world the vectors describe. Valid tokens are issued before any
// run of these tests and live until 2100; the expired one expired before
// them too: decisions are the same at evalTime and at the wall clock, where
// a stock OPA decides.
var (
	evalTime = time.Unix(1798761600, 0).UTC() // 2027-01-01T00:00:00Z, vectors.json "time"
	issuedAt = time.Unix(1767225600, 0).UTC() // 2026-01-01T00:00:00Z
	expires  = time.Unix(4102444800, 0).UTC() // 2100-01-01T00:00:00Z
	// notBefore voids subjectRevoked's tokens issued at or before it.
	notBefore = issuedAt.Add(time.Hour)
	// tokenTTL is the lifetime of the vectors' tokens, so that the compiler
	// keeps the subject revocation that still voids some of them.
	tokenTTL = expires.Sub(issuedAt)
)

const (
	issuer = "gaia-iam"

	revokedJTI     = "jti-revoked-admin"
	subjectRevoked = "00000000-0000-4000-8000-000000000009"
)

// source is the RBAC and revocations the bundle is compiled from.
func source() bundle.Source {
	return bundle.Source{
		Version: 1,
		Roles: map[string][]string{
			"Admin":   {"analytics.report.view", "inventory.read", "inventory.write"},
			"Analyst": {"analytics.report.view", "inventory.read"},
			"Viewer":  {"inventory.read"},
			"Guest":   {}, // a role that grants nothing
		},
		TokenRevocations:   map[string]time.Time{revokedJTI: expires},
		SubjectRevocations: map[string]time.Time{subjectRevoked: notBefore},
	}
}

// permissions are asked of every token.
var permissions = []string{
	"inventory.read",
	"inventory.write",
	"analytics.report.view",
	"billing.invoice.pay", // granted to no role
	"",
	"INVENTORY.READ", // permissions are case-sensitive
}

// testKeys are the committed RSA test keys: the IAM's, which signs the
// bundle and the tokens, and a foreign one the JWKS does not publish.
type testKeys struct {
	iam, foreign tokens.Key
}

// loadKeys reads keys/*.pem, generating them once under -update.
func loadKeys(t *testing.T, dir string) testKeys {
	t.Helper()
	load := func(name string) tokens.Key {
		path := filepath.Join(dir, "keys", name)
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && *update {
			raw = generateKey(t, path)
		} else if err != nil {
			t.Fatalf("%v: run %s", err, updateCommand)
		}
		priv, err := tokens.ParsePrivateKeyPEM(raw)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		k, err := tokens.NewKey(priv, issuedAt)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return testKeys{iam: load("iam.pem"), foreign: load("foreign.pem")}
}

func generateKey(t *testing.T, path string) []byte {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, tokens.MinKeyBits)
	if err != nil {
		t.Fatal(err)
	}
	raw := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return raw
}

// publicPEM is k's public half as PKIX PEM, the form OPA's bundle
// verification takes.
func publicPEM(t *testing.T, k tokens.Key) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.Private.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
