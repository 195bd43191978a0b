package conformance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/policies"
)

// Names of the files in the IAM's bundle tar.
const (
	tarSignatures = "/.signatures.json"
	tarManifest   = "/.manifest"
	tarData       = "/data.json"
	tarPolicy     = "/policies/authz.rego"
)

// refusedSpec is a bundle that every client must refuse, made from the
// real bundle's tar.
type refusedSpec struct {
	file string // under refused/
	why  string
	make func(t *testing.T, k testKeys, files []tarFile) []tarFile
}

var refusedSpecs = []refusedSpec{
	{"unsigned.tar.gz", "no .signatures.json",
		func(t *testing.T, _ testKeys, files []tarFile) []tarFile {
			return without(t, files, tarSignatures)
		}},
	{"foreign-key.tar.gz", "signed by a key the JWKS does not publish, under that key's kid",
		func(t *testing.T, k testKeys, files []tarFile) []tarFile {
			return withSignatures(t, files, resign(t, k.foreign.PrivatePEM(), k.foreign.ID, files))
		}},
	{"foreign-key-iam-kid.tar.gz", "signed by a key the JWKS does not publish, under the IAM key's kid",
		func(t *testing.T, k testKeys, files []tarFile) []tarFile {
			return withSignatures(t, files, resign(t, k.foreign.PrivatePEM(), k.iam.ID, files))
		}},
	{"data-tampered.tar.gz", "data.json changed after signing (Viewer granted inventory.write)",
		func(t *testing.T, _ testKeys, files []tarFile) []tarFile {
			return edited(t, files, tarData, func(raw []byte) []byte {
				var data map[string]any
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.UseNumber()
				if err := dec.Decode(&data); err != nil {
					t.Fatal(err)
				}
				data["gaia"].(map[string]any)["roles"].(map[string]any)["Viewer"] = []string{"inventory.read", "inventory.write"}
				out, err := json.Marshal(data)
				if err != nil {
					t.Fatal(err)
				}
				return out
			})
		}},
	{"rego-tampered.tar.gz", "policies/authz.rego changed after signing (default allow := true)",
		func(t *testing.T, _ testKeys, files []tarFile) []tarFile {
			return edited(t, files, tarPolicy, func(raw []byte) []byte {
				return replaceOnce(t, raw, "default allow := false", "default allow := true")
			})
		}},
	{"manifest-tampered.tar.gz", ".manifest changed after signing (another revision)",
		func(t *testing.T, _ testKeys, files []tarFile) []tarFile {
			return edited(t, files, tarManifest, func(raw []byte) []byte {
				return replaceOnce(t, raw, `"revision":"`, `"revision":"0`)
			})
		}},
	{"extra-file.tar.gz", "a file the signature does not cover (policies/backdoor.rego)",
		func(t *testing.T, _ testKeys, files []tarFile) []tarFile {
			hdr := *find(t, files, tarPolicy).hdr
			hdr.Name = "/policies/backdoor.rego"
			return append(files, tarFile{hdr: &hdr, body: []byte("package gaia.authz\n\nallow if true\n")})
		}},
	{"missing-file.tar.gz", "a file the signature lists is missing (policies/authz.rego)",
		func(t *testing.T, _ testKeys, files []tarFile) []tarFile {
			return without(t, files, tarPolicy)
		}},
	{"two-signatures.tar.gz", "two signatures in .signatures.json (the IAM key's, then a foreign key's under the IAM key's kid)",
		func(t *testing.T, k testKeys, files []tarFile) []tarFile {
			var sc opabundle.SignaturesConfig
			if err := json.Unmarshal(find(t, files, tarSignatures).body, &sc); err != nil {
				t.Fatal(err)
			}
			return withSignatures(t, files, sc.Signatures[0], resign(t, k.foreign.PrivatePEM(), k.iam.ID, files))
		}},
}

// customModule is a service's own rule beside the stock policy.
var customModule = policies.Module{
	Path: "policies/custom.rego",
	Raw:  []byte("# A service's own rule: not the stock policy.\npackage gaia.custom\n\nallow if input.method == \"GET\"\n"),
}

// compileCustom compiles the same source with customModule added, signed
// validly by the IAM's key.
func compileCustom(t *testing.T, k testKeys) []byte {
	t.Helper()
	mods := append(stockModules(t), customModule)
	c, err := bundle.NewCompiler(bundle.Config{Issuer: issuer, TokenTTL: tokenTTL, Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(source(), evalTime, keySet(k))
	if err != nil {
		t.Fatal(err)
	}
	return s.Bytes
}

type tarFile struct {
	hdr  *tar.Header
	body []byte
}

func untar(t *testing.T, gz []byte) []tarFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var files []tarFile
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, tarFile{hdr: h, body: body})
	}
}

// retar packs files as OPA's writer does: no name or time in the gzip
// header, the tar headers as they were.
func retar(t *testing.T, files []tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		h := *f.hdr
		h.Size = int64(len(f.body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func find(t *testing.T, files []tarFile, name string) tarFile {
	t.Helper()
	for _, f := range files {
		if f.hdr.Name == name {
			return f
		}
	}
	t.Fatalf("the bundle has no %s", name)
	return tarFile{}
}

func without(t *testing.T, files []tarFile, name string) []tarFile {
	t.Helper()
	find(t, files, name)
	var out []tarFile
	for _, f := range files {
		if f.hdr.Name != name {
			out = append(out, f)
		}
	}
	return out
}

// edited is files with name's body replaced by edit's result.
func edited(t *testing.T, files []tarFile, name string, edit func([]byte) []byte) []tarFile {
	t.Helper()
	find(t, files, name)
	out := make([]tarFile, len(files))
	for i, f := range files {
		if f.hdr.Name == name {
			f.body = edit(bytes.Clone(f.body))
		}
		out[i] = f
	}
	return out
}

func withSignatures(t *testing.T, files []tarFile, signatures ...string) []tarFile {
	t.Helper()
	return edited(t, files, tarSignatures, func([]byte) []byte {
		raw, err := json.Marshal(opabundle.SignaturesConfig{Signatures: signatures})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	})
}

// resign signs the file list of the bundle's own signature again, with
// privPEM under kid.
func resign(t *testing.T, privPEM []byte, kid string, files []tarFile) string {
	t.Helper()
	var sc opabundle.SignaturesConfig
	if err := json.Unmarshal(find(t, files, tarSignatures).body, &sc); err != nil || len(sc.Signatures) != 1 {
		t.Fatalf(".signatures.json: %v, %d signatures", err, len(sc.Signatures))
	}
	parts := strings.Split(sc.Signatures[0], ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		Files []opabundle.FileInfo `json:"files"`
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	tok, err := opabundle.GenerateSignedToken(payload.Files, opabundle.NewSigningConfig(string(privPEM), "RS256", ""), kid)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func replaceOnce(t *testing.T, raw []byte, old, new string) []byte {
	t.Helper()
	if bytes.Count(raw, []byte(old)) != 1 {
		t.Fatalf("%q is not in the file exactly once", old)
	}
	return bytes.Replace(raw, []byte(old), []byte(new), 1)
}
