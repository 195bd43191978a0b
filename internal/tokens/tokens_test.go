package tokens_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/tokens"
)

func testKeyring(tb testing.TB) *tokens.Keyring {
	tb.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := tokens.NewKey(priv, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return tokens.NewKeyring(key)
}

var subject = tokens.Subject{ID: "550e8400-e29b-41d4-a716-446655440000", Username: "cj", Type: tokens.TypeUser,
	Roles: []string{"Admin"}, Permissions: []string{"analytics.report.view", "inventory.read", "inventory.write"}}

func TestIssueVerify_RoundTripAndExpiry(t *testing.T) {
	ring := testKeyring(t)
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	raw, issued, err := tokens.NewIssuer(ring, "gaia-iam", 15*time.Minute, clock).Issue(subject)
	if err != nil {
		t.Fatal(err)
	}
	v := tokens.NewVerifier(ring, "gaia-iam", clock)
	got, err := v.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != issued.ID || got.Username != "cj" || len(got.Permissions) != 3 || !got.ExpiresAt.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("verified claims %+v differ from issued %+v", got, issued)
	}
	now = now.Add(15*time.Minute + time.Second)
	if _, err := v.Verify(raw); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("expired token: err %v", err)
	}
	if _, err := tokens.NewVerifier(ring, "other", clock).Verify(raw); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("wrong issuer: err %v", err)
	}
}

func TestParsePrivateKeyPEM_AcceptsPKCS1AndPKCS8RSAOnly(t *testing.T) {
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	for name, block := range map[string]*pem.Block{
		"pkcs1": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)},
		"pkcs8": {Type: "PRIVATE KEY", Bytes: pkcs8},
	} {
		k, err := tokens.ParsePrivateKeyPEM(pem.EncodeToMemory(block))
		if err != nil || !k.Equal(priv) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := tokens.ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})); err == nil {
		t.Error("a public key was accepted as a signing key")
	}
}

func BenchmarkIssue(b *testing.B) {
	issuer := tokens.NewIssuer(testKeyring(b), "gaia-iam", 15*time.Minute, time.Now)
	for b.Loop() {
		if _, _, err := issuer.Issue(subject); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	ring := testKeyring(b)
	raw, _, _ := tokens.NewIssuer(ring, "gaia-iam", 15*time.Minute, time.Now).Issue(subject)
	v := tokens.NewVerifier(ring, "gaia-iam", time.Now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}
