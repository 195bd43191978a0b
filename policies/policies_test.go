package policies_test

import (
	"context"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/gaia-platform/iam/policies"
)

// TestRego is `opa test policies/` run by OPA's own test runner at the
// version this module pins: each Rego test is a Go subtest.
func TestRego(t *testing.T) {
	results, err := tester.Run(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 20 {
		t.Fatalf("only %d Rego tests ran", len(results))
	}
	for _, r := range results {
		t.Run(strings.TrimPrefix(r.Package, "data.")+"."+r.Name, func(t *testing.T) {
			if r.Error != nil {
				t.Fatalf("%s: error: %v", r.Location, r.Error)
			}
			if r.Fail {
				t.Fatalf("%s: failed at %v", r.Location, r.FailedAt)
			}
		})
	}
}

func TestModules_ShipsPolicyWithoutTests(t *testing.T) {
	mods, err := policies.Modules()
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 || mods[0].Path != "policies/authz.rego" {
		t.Fatalf("modules %v, want only policies/authz.rego", mods)
	}
	m, err := ast.ParseModuleWithOpts(mods[0].Path, string(mods[0].Raw), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Package.Path.String() != "data.gaia.authz" {
		t.Fatalf("package %s, want data.gaia.authz", m.Package.Path)
	}
}
