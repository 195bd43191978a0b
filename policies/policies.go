// Package policies holds Gaia IAM's Rego, embedded so that the IAM can
// compile it into the bundle it serves. *_test.rego files are the policy's
// own tests; they are never shipped in a bundle.
package policies

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.rego
var files embed.FS

// Module is one Rego source file.
type Module struct {
	Path string // e.g. "policies/authz.rego"
	Raw  []byte
}

// Modules returns the policy's Rego files without their tests, by path.
func Modules() ([]Module, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var out []Module
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_test.rego") {
			continue
		}
		raw, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Module{Path: "policies/" + e.Name(), Raw: raw})
	}
	return out, nil
}
