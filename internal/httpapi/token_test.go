package httpapi_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gaia-platform/iam/internal/testkit"
)

func TestMe_ReturnsVerifiedClaimsAndProfile(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	r := srv.Me(t, srv.Token(t, "alice", alicePassword))
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var body struct {
		Claims map[string]any `json:"claims"`
		User   map[string]any `json:"user"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	id := e.UserID("alice")
	if body.Claims["sub"] != id || body.Claims["username"] != "alice" || body.User["id"] != id ||
		body.User["username"] != "alice" || body.User["state"] != "active" || body.User["last_login_at"] == nil {
		t.Fatalf("unexpected /auth/me body: %s", r.Body)
	}
	if exp, ok := body.Claims["exp"].(float64); !ok || exp < float64(time.Now().Unix()) {
		t.Fatalf("claims exp %v is not the token's expiry in seconds", body.Claims["exp"])
	}
	if _, leaked := body.User["password_hash"]; leaked {
		t.Fatal("/auth/me exposes the password hash")
	}
}

// TestMe_RejectsUntrustworthyTokens covers the JWT attacks of RFC 8725.
func TestMe_RejectsUntrustworthyTokens(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	good := srv.Token(t, "alice", alicePassword)
	realKey := readKey(t, e.KeyFile)
	set, err := jwk.Fetch(context.Background(), srv.URL+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := set.Key(0)
	kid := pub.KeyID()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)

	now := time.Now()
	sign := func(alg jwa.SignatureAlgorithm, key any, kid string, edit func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		if edit != nil {
			edit(c)
		}
		body, _ := json.Marshal(c)
		hdr := jws.NewHeaders()
		_ = hdr.Set(jws.TypeKey, "JWT")
		if kid != "" {
			_ = hdr.Set(jws.KeyIDKey, kid)
		}
		out, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&realKey.PublicKey))})

	tampered := func() string {
		c := map[string]any{}
		_ = json.Unmarshal(payload, &c)
		c["permissions"] = []string{"inventory.read", "inventory.write", "iam.users.write"}
		return parts[0] + "." + b64(c) + "." + parts[2]
	}()

	cases := map[string]string{
		"missing":               "",
		"malformed":             "not-a-jwt",
		"two parts":             parts[0] + "." + parts[1],
		"alg none":              b64(map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + parts[1] + ".",
		"HS256 with public key": sign(jwa.HS256, pubPEM, kid, nil),
		"tampered payload":      tampered,
		"unknown kid":           sign(jwa.RS256, otherKey, "some-other-kid", nil),
		"no kid":                sign(jwa.RS256, realKey, "", nil),
		"other key, same kid":   sign(jwa.RS256, otherKey, kid, nil),
		"wrong issuer":          sign(jwa.RS256, realKey, kid, func(c map[string]any) { c["iss"] = "evil-iam" }),
		"expired by one second": sign(jwa.RS256, realKey, kid, func(c map[string]any) {
			c["iat"] = now.Add(-16 * time.Minute).Unix()
			c["exp"] = now.Add(-time.Second).Unix()
		}),
		"missing jti":     sign(jwa.RS256, realKey, kid, func(c map[string]any) { delete(c, "jti") }),
		"roles not array": sign(jwa.RS256, realKey, kid, func(c map[string]any) { c["roles"] = "Admin" }),
	}
	// The real key with the original claims is accepted: the cases fail for
	// the one reason each names.
	if r := srv.Me(t, sign(jwa.RS256, realKey, kid, nil)); r.Status != http.StatusOK {
		t.Fatalf("control token rejected: %d %s", r.Status, r.Body)
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := srv.Me(t, tok)
			if name == "missing" {
				r = srv.Do(t, http.MethodGet, "/auth/me", "")
			}
			testkit.AssertError(t, r, http.StatusUnauthorized, "invalid_token")
			if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
		})
	}

	e.Must("", "user", "disable", "alice")
	testkit.AssertError(t, srv.Me(t, good), http.StatusUnauthorized, "invalid_token")
}

func TestJWKS_PublishesOnlyThePublicKey(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve()
	r := srv.Do(t, http.MethodGet, "/.well-known/jwks.json", "")
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", r.Body, err)
	}
	k := doc.Keys[0]
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := k[private]; ok {
			t.Fatalf("JWKS publishes private member %q", private)
		}
	}
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" {
		t.Fatalf("JWKS key %v", k)
	}
	// kid is the RFC 7638 thumbprint of the configured key.
	want, _ := jwk.FromRaw(&readKey(t, e.KeyFile).PublicKey)
	tp, _ := want.Thumbprint(crypto.SHA256)
	if k["kid"] != base64.RawURLEncoding.EncodeToString(tp) {
		t.Fatalf("kid %v is not the key's RFC 7638 thumbprint", k["kid"])
	}

	d := srv.Do(t, http.MethodGet, "/.well-known/openid-configuration", "").JSON(t)
	if d["issuer"] != "gaia-iam" || d["jwks_uri"] != srv.URL+"/.well-known/jwks.json" ||
		d["token_endpoint"] != srv.URL+"/oauth/token" {
		t.Fatalf("discovery document %v", d)
	}
	if r := srv.Do(t, http.MethodGet, "/healthz", ""); r.Status != http.StatusOK {
		t.Fatalf("healthz %d", r.Status)
	}
	testkit.AssertError(t, srv.Do(t, http.MethodGet, "/no/such/path", ""), http.StatusNotFound, "not_found")
	testkit.AssertError(t, srv.Do(t, http.MethodDelete, "/auth/login", ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

func readKey(t *testing.T, path string) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
