package bundle_test

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
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/tokens"
	"github.com/gaia-platform/iam/policies"
)

const ttl = 15 * time.Minute

var now = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

var source = bundle.Source{
	Version: 7,
	Roles: map[string][]string{
		"Admin":   {"inventory.read", "inventory.write"},
		"Analyst": {"analytics.report.view", "inventory.read"},
		"Empty":   {},
	},
	SubjectRevocations: map[string]time.Time{"550e8400-e29b-41d4-a716-446655440000": now.Add(-time.Minute)},
	TokenRevocations:   map[string]time.Time{"jti-1": now.Add(10 * time.Minute)},
}

func TestCompile_VerifiesWithOPAAndCarriesTheSource(t *testing.T) {
	ring := keyring(t)
	signed := compile(t, ring, source, now)
	b := read(t, signed.Bytes, ring)

	if b.Manifest.Revision != signed.Revision || len(signed.Revision) != 64 {
		t.Errorf("manifest revision %q, compiled revision %q: want the same 64 hex digits", b.Manifest.Revision, signed.Revision)
	}
	if b.Manifest.Roots == nil || len(*b.Manifest.Roots) != 1 || (*b.Manifest.Roots)[0] != "gaia" {
		t.Errorf("manifest roots %v, want [gaia]", b.Manifest.Roots)
	}
	if len(b.Modules) != 1 || b.Modules[0].Path != "/policies/authz.rego" || b.Modules[0].Parsed.Package.Path.String() != "data.gaia.authz" {
		t.Fatalf("modules %+v, want /policies/authz.rego in package gaia.authz", b.Modules)
	}

	got := asJSON(t, b.Data)
	want := asJSON(t, map[string]any{"gaia": map[string]any{
		"config": map[string]any{"issuer": "gaia-iam"},
		"keys":   ring.At(now).JWKS(),
		"roles":  source.Roles,
		"revocations": map[string]any{
			"jti":      map[string]int64{"jti-1": now.Add(10 * time.Minute).Unix()},
			"subjects": map[string]int64{"550e8400-e29b-41d4-a716-446655440000": now.Add(-time.Minute).Unix()},
		},
	}})
	if got != want {
		t.Errorf("data.json\n got %s\nwant %s", got, want)
	}
}

func TestCompile_OtherKeyFailsVerification(t *testing.T) {
	signed := compile(t, keyring(t), source, now)
	other := otherKeyring(t)
	_, err := opabundle.NewReader(bytes.NewReader(signed.Bytes)).WithBundleVerificationConfig(verification(t, other)).Read()
	if err == nil {
		t.Fatal("a bundle verified with a key that did not sign it")
	}
}

// During a rotation the bundle carries every published key, and is signed
// by the signing key under its kid; a new signer is a new revision, so that
// consumers fetch the bundle it signs.
func TestCompile_PublishesEveryKeySignedByTheSigningKid(t *testing.T) {
	old, next := ring(t, rsaKey(t, 0)).At(now).Signing, ring(t, rsaKey(t, 1)).At(now).Signing
	trustBoth := map[string]*opabundle.KeyConfig{}
	for _, k := range []tokens.Key{old, next} {
		der, err := x509.MarshalPKIXPublicKey(&k.Private.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		trustBoth[k.ID] = &opabundle.KeyConfig{Key: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), Algorithm: "RS256"}
	}
	revisions := map[string]bool{}
	for _, signer := range []tokens.Key{old, next} {
		keys := tokens.KeySet{Signing: signer, Published: []tokens.Key{old, next}}
		signed, err := newCompiler(t).Compile(source, now, keys)
		if err != nil {
			t.Fatal(err)
		}
		b, err := opabundle.NewReader(bytes.NewReader(signed.Bytes)).
			WithBundleVerificationConfig(opabundle.NewVerificationConfig(trustBoth, "", "", nil)).Read()
		if err != nil {
			t.Fatalf("signed by %s: %v", signer.ID, err)
		}
		if got := asJSON(t, b.Data["gaia"].(map[string]any)["keys"]); got != asJSON(t, keys.JWKS()) {
			t.Errorf("bundle keys %s, want both published keys", got)
		}
		only := map[string]*opabundle.KeyConfig{signer.ID: trustBoth[signer.ID]}
		if _, err := opabundle.NewReader(bytes.NewReader(signed.Bytes)).
			WithBundleVerificationConfig(opabundle.NewVerificationConfig(only, "", "", nil)).Read(); err != nil {
			t.Errorf("the bundle does not verify with its signer %s alone, by kid: %v", signer.ID, err)
		}
		revisions[signed.Revision] = true
	}
	if len(revisions) != 2 {
		t.Error("the same content signed by another key has the same revision")
	}
}

// Replicas on one database must serve the same bytes under the same ETag,
// or every poll through a load balancer downloads the bundle again.
func TestCompile_SameSourceGivesByteIdenticalBundles(t *testing.T) {
	ring := keyring(t)
	a := compile(t, ring, source, now)
	b := compile(t, ring, source, now.Add(time.Second))
	if a.Revision != b.Revision || !bytes.Equal(a.Bytes, b.Bytes) {
		t.Fatalf("two compiles of one source differ: revisions %s, %s", a.Revision, b.Revision)
	}

	changed := source
	changed.Roles = maps.Clone(source.Roles)
	changed.Roles["Viewer"] = []string{"inventory.read"}
	if c := compile(t, ring, changed, now); c.Revision == a.Revision {
		t.Error("adding a role left the revision unchanged")
	}
	// The version counts changes; it is not content.
	moved := source
	moved.Version++
	if c := compile(t, ring, moved, now); c.Revision != a.Revision {
		t.Error("a new version with the same content changed the revision")
	}
}

func TestCompile_TarAndGzipCarryNoTimestamps(t *testing.T) {
	signed := compile(t, keyring(t), source, now)
	gz, err := gzip.NewReader(bytes.NewReader(signed.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("gzip header: mtime %v, name %q; want none", gz.ModTime, gz.Name)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.ModTime.Unix() != 0 || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v atime %v ctime %v owner %q:%q; want epoch and none", h.Name, h.ModTime, h.AccessTime, h.ChangeTime, h.Uname, h.Gname)
		}
	}
	if want := "/data.json /policies/authz.rego /.signatures.json /.manifest"; strings.Join(names, " ") != want {
		t.Errorf("tar holds %q, want %q", names, want)
	}
}

// A revocation stays while a token it voids can still be accepted
// somewhere, allowing a minute of clock skew, and no longer.
func TestCompile_PrunesRevocationsThatCanNoLongerMatter(t *testing.T) {
	const skew = time.Minute
	src := bundle.Source{
		Roles: map[string][]string{},
		TokenRevocations: map[string]time.Time{
			"live":             now.Add(time.Second),
			"expired-now":      now,
			"within-skew":      now.Add(-skew + time.Second),
			"expired-too-long": now.Add(-skew),
		},
		SubjectRevocations: map[string]time.Time{
			"recent":         now.Add(-time.Minute),
			"one-ttl-ago":    now.Add(-ttl),
			"at-the-horizon": now.Add(-ttl - skew),
			"beyond-a-ttl":   now.Add(-ttl - skew - time.Microsecond),
			"future":         now.Add(time.Hour),
		},
	}
	ring := keyring(t)
	revs := func(at time.Time) (jti, subjects []string) {
		t.Helper()
		r := read(t, compile(t, ring, src, at).Bytes, ring).Data["gaia"].(map[string]any)["revocations"].(map[string]any)
		for _, k := range []struct {
			name string
			into *[]string
		}{{"jti", &jti}, {"subjects", &subjects}} {
			for id := range r[k.name].(map[string]any) {
				*k.into = append(*k.into, id)
			}
		}
		slices.Sort(jti)
		slices.Sort(subjects)
		return jti, subjects
	}

	jti, subjects := revs(now)
	wantList(t, "token revocations", jti, "expired-now", "live", "within-skew")
	wantList(t, "subject revocations", subjects, "at-the-horizon", "future", "one-ttl-ago", "recent")

	// The clock moves on and the same source compiles to less.
	jti, subjects = revs(now.Add(ttl))
	wantList(t, "token revocations a TTL later", jti)
	wantList(t, "subject revocations a TTL later", subjects, "future", "recent")
}

// The digest is computed from the files as the tar names them, by the rule
// testdata/conformance/README.md gives other languages.
func TestCompile_ManifestCarriesThePolicyDigestOfItsModules(t *testing.T) {
	b := read(t, compile(t, keyring(t), source, now).Bytes, keyring(t))
	var received []policies.Module
	for _, m := range b.Modules {
		received = append(received, policies.Module{Path: m.Path, Raw: m.Raw})
	}
	mods, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	want := bundle.PolicyDigest(mods)
	if got := bundle.PolicyDigest(received); got != want {
		t.Errorf("digest of the modules read back (%s) %s, of policies.Modules %s", received[0].Path, got, want)
	}
	meta, _ := b.Manifest.Metadata["gaia"].(map[string]any)
	if got := meta["policy_digest"]; got != want {
		t.Errorf("manifest metadata.gaia.policy_digest = %v, want %s", got, want)
	}

	fileSum := sha256.Sum256(mods[0].Raw)
	byHand := sha256.Sum256([]byte("policies/authz.rego\n" + hex.EncodeToString(fileSum[:]) + "\n"))
	if len(mods) != 1 || want != hex.EncodeToString(byHand[:]) {
		t.Errorf("PolicyDigest %s does not follow the documented rule (%x)", want, byHand)
	}
	extra := policies.Module{Path: "policies/a.rego", Raw: []byte("package gaia.a\n")}
	if bundle.PolicyDigest(append(slices.Clone(mods), extra)) != bundle.PolicyDigest([]policies.Module{extra, mods[0]}) {
		t.Error("PolicyDigest depends on the order modules are given in")
	}
	if bundle.PolicyDigest(append(slices.Clone(mods), extra)) == want {
		t.Error("an extra module left the digest unchanged")
	}
}

func TestNewCompiler_RefusesPolicyOPAWouldRefuse(t *testing.T) {
	for name, mod := range map[string]policies.Module{
		"syntax error":     {Path: "policies/bad.rego", Raw: []byte("package gaia.authz\nallow if {")},
		"v0 syntax":        {Path: "policies/v0.rego", Raw: []byte("package gaia.authz\nallow { true }")},
		"outside the root": {Path: "policies/other.rego", Raw: []byte("package other\nallow := true")},
		"root look-alike":  {Path: "policies/gaiax.rego", Raw: []byte("package gaiax\nallow := true")},
	} {
		_, err := bundle.NewCompiler(bundle.Config{Issuer: "gaia-iam", TokenTTL: ttl, Modules: []policies.Module{mod}})
		if err == nil {
			t.Errorf("%s: NewCompiler accepted it", name)
		}
	}
}

// --- helpers -------------------------------------------------------------

var (
	keysOnce sync.Once
	testKeys [2]*rsa.PrivateKey
)

func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	keysOnce.Do(func() {
		for j := range testKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			testKeys[j] = k
		}
	})
	return testKeys[i]
}

func ring(t testing.TB, priv *rsa.PrivateKey) *tokens.Keyring {
	t.Helper()
	key, err := tokens.NewKey(priv, now)
	if err != nil {
		t.Fatal(err)
	}
	return tokens.NewKeyring(key)
}

func keyring(t testing.TB) *tokens.Keyring      { return ring(t, rsaKey(t, 0)) }
func otherKeyring(t testing.TB) *tokens.Keyring { return ring(t, rsaKey(t, 1)) }

func newCompiler(t testing.TB) *bundle.Compiler {
	t.Helper()
	mods, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	c, err := bundle.NewCompiler(bundle.Config{Issuer: "gaia-iam", TokenTTL: ttl, Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// compile compiles src at at with a fresh compiler, signed with keys.
func compile(t testing.TB, keys *tokens.Keyring, src bundle.Source, at time.Time) *bundle.Signed {
	t.Helper()
	s, err := newCompiler(t).Compile(src, at, keys.At(at))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// verification trusts the public key keys publishes, under its kid, as a
// service configured from the JWKS does.
func verification(t testing.TB, keys *tokens.Keyring) *opabundle.VerificationConfig {
	t.Helper()
	signing := keys.At(now).Signing
	der, err := x509.MarshalPKIXPublicKey(&signing.Private.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kid := signing.ID
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return opabundle.NewVerificationConfig(map[string]*opabundle.KeyConfig{kid: {Key: pub, Algorithm: "RS256"}}, kid, "", nil)
}

func read(t testing.TB, raw []byte, keys *tokens.Keyring) opabundle.Bundle {
	t.Helper()
	b, err := opabundle.NewReader(bytes.NewReader(raw)).WithBundleVerificationConfig(verification(t, keys)).Read()
	if err != nil {
		t.Fatalf("read and verify bundle: %v", err)
	}
	return b
}

func asJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var plain any
	if err := json.Unmarshal(raw, &plain); err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(plain)
	return string(raw)
}

func wantList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
