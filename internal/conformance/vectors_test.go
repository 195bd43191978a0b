package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/tokens"
	"github.com/gaia-platform/iam/policies"
)

// vectors is vectors.json; README.md documents each field.
type vectors struct {
	Time               int64             `json:"time"`
	Issuer             string            `json:"issuer"`
	Revision           string            `json:"revision"`
	PolicyDigest       string            `json:"policy_digest"`
	Tokens             map[string]string `json:"tokens"`
	Cases              []decisionCase    `json:"cases"`
	Principals         map[string]any    `json:"principals"` // claims, or nil for null
	RefusedBundles     []refusedBundle   `json:"refused_bundles"`
	CustomPolicyBundle string            `json:"custom_policy_bundle"`
}

type decisionCase struct {
	Token      string   `json:"token"`
	Permission string   `json:"permission"`
	Allow      bool     `json:"allow"`
	Reasons    []string `json:"reasons"`
}

type refusedBundle struct {
	File string `json:"file"`
	Why  string `json:"why"`
}

const customBundleFile = "custom/custom-policy.tar.gz"

// generated is the whole of testdata/conformance but keys/, by path.
type generated struct {
	files   map[string][]byte
	vectors vectors
}

// generate compiles the bundle, signs the tokens and asks the policy, at
// evalTime, for every decision and principal.
func generate(t *testing.T, k testKeys) generated {
	t.Helper()
	c, err := bundle.NewCompiler(bundle.Config{Issuer: issuer, TokenTTL: tokenTTL, Modules: stockModules(t)})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := c.Compile(source(), evalTime, keySet(k))
	if err != nil {
		t.Fatal(err)
	}
	b, err := readBundle(signed.Bytes, sdkVerification(t, k))
	if err != nil {
		t.Fatalf("OPA refuses the IAM's own bundle: %v", err)
	}
	jwks, err := json.MarshalIndent(keySet(k).JWKS(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	g := generated{files: map[string][]byte{
		"bundle.tar.gz":  signed.Bytes,
		"jwks.json":      append(jwks, '\n'),
		customBundleFile: compileCustom(t, k),
	}}
	v := vectors{
		Time: evalTime.Unix(), Issuer: issuer, Revision: signed.Revision, PolicyDigest: digestOf(b),
		Tokens: map[string]string{}, Principals: map[string]any{}, CustomPolicyBundle: customBundleFile,
	}
	p := preparePolicy(t, &b)
	for _, spec := range tokenSpecs {
		tok := spec.make(t, k)
		v.Tokens[spec.name] = tok
		v.Principals[spec.name] = p.principal(t, tok)
		for _, perm := range permissions {
			allow, reasons := p.decide(t, tok, perm)
			v.Cases = append(v.Cases, decisionCase{Token: spec.name, Permission: perm, Allow: allow, Reasons: reasons})
		}
	}
	files := untar(t, signed.Bytes)
	for _, r := range refusedSpecs {
		name := "refused/" + r.file
		g.files[name] = retar(t, r.make(t, k, files))
		v.RefusedBundles = append(v.RefusedBundles, refusedBundle{File: name, Why: r.why})
	}
	g.vectors = v
	g.files["vectors.json"] = encodeVectors(t, v)
	return g
}

func stockModules(t *testing.T) []policies.Module {
	t.Helper()
	mods, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

func keySet(k testKeys) tokens.KeySet {
	return tokens.KeySet{Signing: k.iam, Published: []tokens.Key{k.iam}}
}

// digestOf is the policy digest of the Rego files b holds, computed from
// the files, not read from the manifest.
func digestOf(b opabundle.Bundle) string {
	mods := make([]policies.Module, 0, len(b.Modules))
	for _, m := range b.Modules {
		mods = append(mods, policies.Module{Path: m.Path, Raw: m.Raw})
	}
	return bundle.PolicyDigest(mods)
}

// policy evaluates the bundle's Rego with OPA's rego package, as the
// source of every expected answer.
type policy struct {
	decision, principalQuery rego.PreparedEvalQuery
}

func preparePolicy(t *testing.T, b *opabundle.Bundle) policy {
	t.Helper()
	prepare := func(query string) rego.PreparedEvalQuery {
		pq, err := rego.New(rego.Query(query), rego.ParsedBundle("gaia", b)).PrepareForEval(context.Background())
		if err != nil {
			t.Fatalf("prepare %s: %v", query, err)
		}
		return pq
	}
	return policy{decision: prepare("data.gaia.authz.decision"), principalQuery: prepare("data.gaia.authz.principal")}
}

func (p policy) eval(t *testing.T, pq rego.PreparedEvalQuery, input map[string]any) (any, bool) {
	t.Helper()
	rs, err := pq.Eval(context.Background(), rego.EvalInput(input), rego.EvalTime(evalTime))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		return nil, false
	}
	return rs[0].Expressions[0].Value, true
}

func (p policy) decide(t *testing.T, token, permission string) (bool, []string) {
	t.Helper()
	v, ok := p.eval(t, p.decision, map[string]any{"token": token, "permission": permission})
	d, _ := v.(map[string]any)
	allow, isBool := d["allow"].(bool)
	list, isList := d["reasons"].([]any)
	if !ok || !isBool || !isList {
		t.Fatalf("decision for %q / %q is %v, not {allow, reasons}", token, permission, v)
	}
	reasons := []string{}
	for _, r := range list {
		reasons = append(reasons, r.(string))
	}
	return allow, reasons
}

// principal is the token's verified claims, or nil when the policy leaves
// data.gaia.authz.principal undefined.
func (p policy) principal(t *testing.T, token string) any {
	t.Helper()
	v, ok := p.eval(t, p.principalQuery, map[string]any{"token": token})
	if !ok {
		return nil
	}
	return v
}

// encodeVectors writes v indented, its cases and refused bundles one to a
// line so that a change shows as the lines of the cases it changes.
func encodeVectors(t *testing.T, v vectors) []byte {
	t.Helper()
	var buf bytes.Buffer
	marshal := func(x any, indent bool) []byte {
		var raw []byte
		var err error
		if indent {
			raw, err = json.MarshalIndent(x, "  ", "  ")
		} else {
			raw, err = json.Marshal(x)
		}
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	list := func(n int, item func(i int) any) []byte {
		var b bytes.Buffer
		b.WriteString("[\n")
		for i := range n {
			b.WriteString("    ")
			b.Write(marshal(item(i), false))
			if i < n-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("  ]")
		return b.Bytes()
	}
	fields := []struct {
		name  string
		value []byte
	}{
		{"time", marshal(v.Time, true)},
		{"issuer", marshal(v.Issuer, true)},
		{"revision", marshal(v.Revision, true)},
		{"policy_digest", marshal(v.PolicyDigest, true)},
		{"tokens", marshal(v.Tokens, true)},
		{"cases", list(len(v.Cases), func(i int) any { return v.Cases[i] })},
		{"principals", marshal(v.Principals, true)},
		{"refused_bundles", list(len(v.RefusedBundles), func(i int) any { return v.RefusedBundles[i] })},
		{"custom_policy_bundle", marshal(v.CustomPolicyBundle, true)},
	}
	buf.WriteString("{\n")
	for i, f := range fields {
		buf.WriteString("  " + mustJSON(t, f.name) + ": ")
		buf.Write(f.value)
		if i < len(fields)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}\n")
	// The fields above are the struct's, in its order.
	var compact bytes.Buffer
	if err := json.Compact(&compact, buf.Bytes()); err != nil {
		t.Fatalf("vectors.json is not JSON: %v", err)
	}
	if !bytes.Equal(compact.Bytes(), marshal(v, false)) {
		t.Fatal("encodeVectors writes other fields than type vectors holds")
	}
	return buf.Bytes()
}

func mustJSON(t *testing.T, s string) string {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}
