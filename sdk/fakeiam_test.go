package sdk_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/policies"
)

// fakeIAM serves a JWKS and a signed bundle the way the IAM does, with
// knobs to change roles, revoke, tamper and go down. The SDK's end-to-end
// tests against the real IAM live in cmd/example-inventory.
type fakeIAM struct {
	t      testing.TB
	srv    *httptest.Server
	key    *rsa.PrivateKey
	kid    string
	jwks   []byte
	down   atomic.Bool
	hits   atomic.Int64 // every request the IAM receives
	mu     sync.Mutex
	roles  map[string][]string
	revoke map[string]any // data.gaia.revocations.jti
	body   []byte         // the bundle being served
	etag   string
}

var (
	fakeKeyOnce sync.Once
	fakeKey     *rsa.PrivateKey
	otherKey    *rsa.PrivateKey
)

func newFakeIAM(t testing.TB) *fakeIAM {
	t.Helper()
	fakeKeyOnce.Do(func() {
		fakeKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		otherKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
	pub, err := jwk.FromRaw(&fakeKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.KeyIDKey, "fake-kid")
	_ = pub.Set(jwk.AlgorithmKey, jwa.RS256)
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	jwks, _ := json.Marshal(set)
	f := &fakeIAM{t: t, key: fakeKey, kid: "fake-kid", jwks: jwks, revoke: map[string]any{},
		roles: map[string][]string{"Analyst": {"analytics.report.view", "inventory.read"}, "Admin": {"inventory.read", "inventory.write"}}}
	f.publish()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIAM) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	if f.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/jwks.json":
		_, _ = w.Write(f.jwks)
	case "/bundles/gaia.tar.gz":
		f.mu.Lock()
		body, etag := f.body, f.etag
		f.mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIAM) data() map[string]any {
	var keys map[string]any
	_ = json.Unmarshal(f.jwks, &keys)
	roles := map[string]any{}
	for r, ps := range f.roles {
		roles[r] = ps
	}
	return map[string]any{"gaia": map[string]any{
		"config":      map[string]any{"issuer": "gaia-iam"},
		"keys":        keys,
		"roles":       roles,
		"revocations": map[string]any{"jti": f.revoke, "subjects": map[string]any{}},
	}}
}

// publish serves a bundle of the current state signed by the IAM's key.
func (f *fakeIAM) publish() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setBody(buildBundle(f.t, f.data(), f.key, f.kid))
}

func (f *fakeIAM) setBody(b []byte) {
	sum := sha256.Sum256(b)
	f.body, f.etag = b, `"`+hex.EncodeToString(sum[:8])+`"`
}

// serveRaw replaces the served bundle with arbitrary bytes.
func (f *fakeIAM) serveRaw(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setBody(b)
}

func (f *fakeIAM) setRole(role string, perms ...string) {
	f.mu.Lock()
	f.roles[role] = perms
	f.mu.Unlock()
	f.publish()
}

func (f *fakeIAM) revokeJTI(jti string) {
	f.mu.Lock()
	f.revoke[jti] = time.Now().Add(time.Hour).Unix()
	f.mu.Unlock()
	f.publish()
}

// buildBundle makes a bundle with OPA's library, signed when key is set.
func buildBundle(t testing.TB, data map[string]any, key *rsa.PrivateKey, kid string) []byte {
	t.Helper()
	mods, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	var files []bundle.ModuleFile
	for _, m := range mods {
		parsed, err := ast.ParseModuleWithOpts(m.Path, string(m.Raw), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, bundle.ModuleFile{URL: m.Path, Path: m.Path, Raw: m.Raw, Parsed: parsed})
	}
	raw, _ := json.Marshal(data)
	sum := sha256.Sum256(raw)
	roots := []string{"gaia"}
	b := bundle.Bundle{Manifest: bundle.Manifest{Revision: hex.EncodeToString(sum[:]), Roots: &roots}, Data: data, Modules: files}
	if key != nil {
		privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err := b.GenerateSignature(bundle.NewSigningConfig(string(privPEM), "RS256", ""), kid, false); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withExtraFile re-packs a bundle with one more file that its signature
// does not cover.
func withExtraFile(t testing.TB, signed []byte, name, content string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(body)
	}
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(content)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(content))
	_ = tw.Close()
	_ = zw.Close()
	return out.Bytes()
}

// token signs an access token as the IAM would.
func (f *fakeIAM) token(roles []string, edit func(map[string]any)) string {
	return signToken(f.t, f.key, f.kid, roles, edit)
}

func signToken(t testing.TB, key *rsa.PrivateKey, kid string, roles []string, edit func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": "gaia-iam", "sub": uuid.NewString(), "username": "alice", "type": "user",
		"roles": roles, "permissions": []string{}, "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"jti": uuid.NewString(),
	}
	if edit != nil {
		edit(claims)
	}
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}
