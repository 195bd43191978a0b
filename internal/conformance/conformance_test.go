package conformance

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

var update = flag.Bool("update", false, "rewrite testdata/conformance from the real policy, bundle and tokens")

const (
	dir           = "../../testdata/conformance"
	updateCommand = "go test ./internal/conformance -run TestConformance -update"
)

// TestConformance regenerates testdata/conformance and fails when the
// checked-in copy differs; then checks that OPA refuses the refused
// bundles, and that the Go SDK and a stock OPA decide every case as the
// vectors say.
func TestConformance(t *testing.T) {
	k := loadKeys(t, dir)
	g := generate(t, k)
	if *update {
		write(t, g)
	} else {
		compare(t, g)
	}
	t.Run("fixture", func(t *testing.T) { checkFixture(t, g.vectors) })
	t.Run("bundles", func(t *testing.T) { checkBundles(t, k, g) })
	t.Run("clients", func(t *testing.T) {
		srv := serveIAM(t, g)
		t.Run("sdk", func(t *testing.T) {
			t.Parallel()
			checkSDK(t, srv.URL, g.vectors)
		})
		t.Run("stock-opa", func(t *testing.T) {
			t.Parallel()
			checkStockOPA(t, srv.URL, k, g.vectors)
		})
	})
}

// generatedDirs hold only generated files: any other file there is stale.
var generatedDirs = []string{"refused", "custom"}

func write(t *testing.T, g generated) {
	t.Helper()
	for _, d := range generatedDirs {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	for name, raw := range g.files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func compare(t *testing.T, g generated) {
	t.Helper()
	var stale []string
	for name, raw := range g.files {
		onDisk, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(onDisk, raw) {
			stale = append(stale, name)
		}
	}
	for _, d := range generatedDirs {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range entries {
			if name := d + "/" + e.Name(); g.files[name] == nil {
				stale = append(stale, name+" (no longer generated)")
			}
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		t.Fatalf("testdata/conformance is out of date (the Rego, the bundle format or the token format changed?): %s\nrun: %s",
			strings.Join(stale, ", "), updateCommand)
	}
}

// checkFixture guards the vectors against a fixture that no longer tests
// what its names say: answers are the policy's, these are only their gist.
func checkFixture(t *testing.T, v vectors) {
	decided := map[[2]string]decisionCase{}
	for _, c := range v.Cases {
		decided[[2]string{c.Token, c.Permission}] = c
	}
	for _, want := range []struct {
		token, permission string
		allow             bool
		reason            string
	}{
		{"analyst", "inventory.read", true, ""},
		{"analyst", "inventory.write", false, "permission_missing"},
		{"admin", "inventory.write", true, ""},
		{"service", "analytics.report.view", true, ""},
		{"analyst", "INVENTORY.READ", false, "permission_missing"},
		{"admin", "", false, "permission_missing"},
		{"stale_permission_claim", "inventory.write", false, "permission_missing"},
		{"missing_permission_claim", "analytics.report.view", true, ""},
		{"expired", "inventory.read", false, "token_expired"},
		{"revoked_jti", "inventory.read", false, "token_revoked"},
		{"revoked_subject", "inventory.read", false, "token_revoked"},
		{"revoked_subject_earlier", "inventory.read", false, "token_revoked"},
		{"issued_after_subject_revocation", "inventory.read", true, ""},
		{"unknown_kid", "inventory.read", false, "token_invalid"},
		{"foreign_key_iam_kid", "inventory.read", false, "token_invalid"},
		{"alg_none", "inventory.read", false, "token_invalid"},
		{"hs256_public_key", "inventory.read", false, "token_invalid"},
		{"tampered_payload", "inventory.write", false, "token_invalid"},
		{"with_audience", "inventory.read", false, "token_invalid"},
		{"malformed_bad_base64", "inventory.read", false, "token_invalid"},
	} {
		c, ok := decided[[2]string{want.token, want.permission}]
		if !ok {
			t.Errorf("no case %s / %q", want.token, want.permission)
			continue
		}
		if c.Allow != want.allow || (want.reason != "" && !slices.Contains(c.Reasons, want.reason)) {
			t.Errorf("%s / %q: allow %v, reasons %v; the fixture means allow %v, reason %q",
				c.Token, c.Permission, c.Allow, c.Reasons, want.allow, want.reason)
		}
	}
	if v.Principals["analyst"] == nil || v.Principals["revoked_jti"] != nil {
		t.Errorf("principals: analyst %v, revoked_jti %v; want claims and null", v.Principals["analyst"], v.Principals["revoked_jti"])
	}
}

// checkBundles reads every bundle with OPA's bundle reader, configured as
// the SDK configures it (the JWKS's key under its kid, the signature's kid
// choosing) and as bundles/opa-config.yaml does (one key, named keyid).
func checkBundles(t *testing.T, k testKeys, g generated) {
	for name, vc := range map[string]*opabundle.VerificationConfig{
		"as the SDK verifies":         sdkVerification(t, k),
		"as opa-config.yaml verifies": stockVerification(t, k),
	} {
		b, err := readBundle(g.files["bundle.tar.gz"], vc)
		if err != nil {
			t.Fatalf("%s: bundle.tar.gz refused: %v", name, err)
		}
		custom, err := readBundle(g.files[customBundleFile], vc)
		if err != nil {
			t.Fatalf("%s: %s refused: %v", name, customBundleFile, err)
		}
		for _, r := range g.vectors.RefusedBundles {
			if _, err := readBundle(g.files[r.File], vc); err == nil {
				t.Errorf("%s: %s (%s) accepted", name, r.File, r.Why)
			}
		}
		if got := digestOf(b); got != g.vectors.PolicyDigest || manifestDigest(b) != got {
			t.Errorf("bundle.tar.gz: digest of its files %s, in its manifest %s, in vectors.json %s", got, manifestDigest(b), g.vectors.PolicyDigest)
		}
		if got := digestOf(custom); got == g.vectors.PolicyDigest || manifestDigest(custom) != got {
			t.Errorf("%s: digest of its files %s, in its manifest %s; stock %s", customBundleFile, got, manifestDigest(custom), g.vectors.PolicyDigest)
		}
	}
	// Refused for their signatures alone: each is otherwise a bundle OPA loads.
	for _, r := range g.vectors.RefusedBundles {
		if _, err := opabundle.NewReader(bytes.NewReader(g.files[r.File])).WithSkipBundleVerification(true).Read(); err != nil {
			t.Errorf("%s is not a well-formed bundle: %v", r.File, err)
		}
	}
}

func readBundle(raw []byte, vc *opabundle.VerificationConfig) (opabundle.Bundle, error) {
	return opabundle.NewReader(bytes.NewReader(raw)).WithBundleVerificationConfig(vc).Read()
}

func sdkVerification(t *testing.T, k testKeys) *opabundle.VerificationConfig {
	keys := map[string]*opabundle.KeyConfig{k.iam.ID: {Key: publicPEM(t, k.iam), Algorithm: "RS256"}}
	return opabundle.NewVerificationConfig(keys, "", "", nil)
}

func stockVerification(t *testing.T, k testKeys) *opabundle.VerificationConfig {
	keys := map[string]*opabundle.KeyConfig{"gaia-iam": {Key: publicPEM(t, k.iam), Algorithm: "RS256"}}
	return opabundle.NewVerificationConfig(keys, "gaia-iam", "", nil)
}

func manifestDigest(b opabundle.Bundle) string {
	meta, _ := b.Manifest.Metadata["gaia"].(map[string]any)
	s, _ := meta["policy_digest"].(string)
	return s
}
