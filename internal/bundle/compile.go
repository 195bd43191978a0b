package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/tokens"
	"github.com/gaia-platform/iam/policies"
)

// Root is the bundle's only root: its data lives under data.gaia and its
// policy in packages under gaia.
const Root = "gaia"

// Config is what every bundle of one IAM carries besides its source and
// its keys.
type Config struct {
	Issuer   string            // the iss of the IAM's tokens
	TokenTTL time.Duration     // access-token lifetime: how long a subject revocation matters
	Modules  []policies.Module // the Rego to ship
}

// Signed is one compiled bundle: a signed, gzipped tar, and the revision
// that names its content.
type Signed struct {
	Revision string
	Bytes    []byte
	// BuiltAt is when this process first published the revision (the
	// console's "built at"); zero from Compile alone.
	BuiltAt time.Time
}

// Compiler turns sources into signed bundles.
type Compiler struct {
	issuer  string
	ttl     time.Duration
	modules []opabundle.ModuleFile
	digest  string // PolicyDigest of modules
}

// NewCompiler checks cfg once, parsing the modules, so that a policy that
// OPA would refuse stops start-up instead of every compile.
func NewCompiler(cfg Config) (*Compiler, error) {
	if cfg.Issuer == "" || cfg.TokenTTL <= 0 {
		return nil, errors.New("bundle: issuer and token TTL are required")
	}
	modules, err := moduleFiles(cfg.Modules)
	if err != nil {
		return nil, err
	}
	return &Compiler{issuer: cfg.Issuer, ttl: cfg.TokenTTL, modules: modules, digest: PolicyDigest(cfg.Modules)}, nil
}

// Compile builds the bundle of src as of at, which decides which
// revocations are old enough to leave out, publishing keys.Published and
// signed by keys.Signing with its kid in the signature. The manifest's
// metadata.gaia.policy_digest is the PolicyDigest of its modules. The same src, at,
// keys and Config give byte-identical output on every replica: OPA's writer
// stamps no times in the tar or gzip headers, JSON objects are written with
// sorted keys, and RS256 signatures are deterministic.
func (c *Compiler) Compile(src Source, at time.Time, keys tokens.KeySet) (*Signed, error) {
	jwks, err := jsonValue(keys.JWKS())
	if err != nil {
		return nil, fmt.Errorf("bundle: encode JWKS: %w", err)
	}
	data := c.data(src, at, jwks)
	b := opabundle.Bundle{
		Manifest: opabundle.Manifest{Roots: &[]string{Root}},
		Data:     data,
		Modules:  c.modules,
	}
	b.Manifest.SetRegoVersion(ast.RegoV1)
	// In the signed manifest, for the record: consumers that check the
	// digest compute it from the modules they received.
	b.Manifest.Metadata = map[string]any{"gaia": map[string]any{"policy_digest": c.digest}}
	rev, err := revision(b, keys.Signing.ID)
	if err != nil {
		return nil, err
	}
	b.Manifest.Revision = rev
	// URL, not Path, names modules in both the signature and the tar
	// (useModulePath false); the two are equal here anyway.
	signing := opabundle.NewSigningConfig(string(keys.Signing.PrivatePEM()), "RS256", "")
	if err := b.GenerateSignature(signing, keys.Signing.ID, false); err != nil {
		return nil, fmt.Errorf("bundle: sign: %w", err)
	}
	var buf bytes.Buffer
	if err := opabundle.NewWriter(&buf).Write(b); err != nil {
		return nil, fmt.Errorf("bundle: write: %w", err)
	}
	return &Signed{Revision: rev, Bytes: buf.Bytes()}, nil
}

// revision is the hex SHA-256 of the bundle's content and signer: its
// manifest without the revision, its data as canonical JSON (sorted keys),
// each module's path and bytes, and the kid that signs it, each part
// length-prefixed so that no two contents hash the same stream. A new
// signing key is a new revision, so that consumers download the bundle
// signed by it rather than keep the one signed by the key it replaced.
func revision(b opabundle.Bundle, kid string) (string, error) {
	h := sha256.New()
	part := func(p []byte) {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	for _, v := range []any{b.Manifest, b.Data} {
		raw, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("bundle: encode: %w", err)
		}
		part(raw)
	}
	for _, m := range b.Modules {
		part([]byte(m.URL))
		part(m.Raw)
	}
	part([]byte(kid))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PolicyDigest names the Rego a bundle carries, so that an evaluator that
// implements only the stock policy, rather than running the bundle's Rego,
// can tell when it is handed another one. It is the hex SHA-256 of, for
// each module in byte order of its path, "<path>\n<hex SHA-256 of the
// module's bytes>\n", the path being the module's name in the bundle's tar
// without its leading "/": the tar holds "/policies/authz.rego", the digest
// hashes "policies/authz.rego". A leading "/" in m.Path is ignored, so the
// paths of policies.Modules and those OPA's bundle reader returns agree.
// testdata/conformance/README.md states the rule for other languages.
func PolicyDigest(modules []policies.Module) string {
	mods := make([]policies.Module, len(modules))
	for i, m := range modules {
		mods[i] = policies.Module{Path: strings.TrimPrefix(m.Path, "/"), Raw: m.Raw}
	}
	slices.SortFunc(mods, func(a, b policies.Module) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	for _, m := range mods {
		sum := sha256.Sum256(m.Raw)
		fmt.Fprintf(h, "%s\n%s\n", m.Path, hex.EncodeToString(sum[:]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func moduleFiles(mods []policies.Module) ([]opabundle.ModuleFile, error) {
	if len(mods) == 0 {
		return nil, errors.New("bundle: no policy modules")
	}
	root := ast.MustParseRef("data." + Root)
	out := make([]opabundle.ModuleFile, 0, len(mods))
	for _, m := range mods {
		parsed, err := ast.ParseModuleWithOpts(m.Path, string(m.Raw), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("bundle: policy %s: %w", m.Path, err)
		}
		if !parsed.Package.Path.HasPrefix(root) {
			return nil, fmt.Errorf("bundle: policy %s: package %s is outside the bundle root %s", m.Path, parsed.Package.Path, Root)
		}
		out = append(out, opabundle.ModuleFile{URL: m.Path, Path: m.Path, Raw: m.Raw, Parsed: parsed})
	}
	return out, nil
}

// jsonValue turns v into the plain maps, slices, strings and json.Numbers
// that OPA's signature hashing walks the same way its verifier does.
func jsonValue(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	return out, dec.Decode(&out)
}
