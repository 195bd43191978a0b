package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/httpapi"
)

// openAPIDoc is the part of an OpenAPI 3.1 document the checks read.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string                       `json:"operationId"`
	Parameters  []openAPIParameter           `json:"parameters"`
	Responses   map[string]json.RawMessage   `json:"responses"`
	Security    []map[string]json.RawMessage `json:"security"`
}

type openAPIParameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

func serveHandler() http.Handler {
	return httpapi.New(httpapi.Deps{Log: slog.New(slog.DiscardHandler)})
}

func loadOpenAPI(t *testing.T) (openAPIDoc, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	serveHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc openAPIDoc
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc, rec.Body.Bytes()
}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// The document lists exactly the routes the server mounts: a route added
// without its description, or a description of a route that is gone,
// fails here.
func TestOpenAPI_PathsAndMethodsAreTheRouteTable(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	var routes, documented []string
	for _, r := range serveHandler().(*gin.Engine).Routes() {
		routes = append(routes, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.json describes %s, which the server does not mount", d)
		}
	}
}

// The document is well formed where clients and generators depend on it.
func TestOpenAPI_IsAWellFormedDocument(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") || doc.Info.Title == "" || doc.Info.Version == "" {
		t.Errorf("openapi %q, info %+v: want 3.1.x with a title and version", doc.OpenAPI, doc.Info)
	}
	ids := map[string]bool{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for path, ops := range doc.Paths {
		for method, op := range ops {
			what := strings.ToUpper(method) + " " + path
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: operationId %q missing or repeated", what, op.OperationID)
			}
			ids[op.OperationID] = true
			if len(op.Responses) == 0 {
				t.Errorf("%s: no responses", what)
			}
			var declared []string
			for _, p := range op.Parameters {
				if p.In == "path" {
					if !p.Required {
						t.Errorf("%s: path parameter %s not required", what, p.Name)
					}
					declared = append(declared, p.Name)
				}
			}
			var inPath []string
			for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
				inPath = append(inPath, m[1])
			}
			slices.Sort(declared)
			slices.Sort(inPath)
			if !slices.Equal(declared, inPath) {
				t.Errorf("%s: path parameters declared %q, in the path %q", what, declared, inPath)
			}
			if strings.HasPrefix(path, "/admin/") {
				if _, ok := op.Responses["403"]; !ok || len(op.Security) == 0 {
					t.Errorf("%s: an admin operation must name its security and its 403", what)
				}
			}
			for _, sec := range op.Security {
				for name := range sec {
					if _, ok := doc.Components.SecuritySchemes[name]; !ok {
						t.Errorf("%s: unknown security scheme %q", what, name)
					}
				}
			}
		}
	}
	for _, m := range regexp.MustCompile(`"\$ref": "#/components/schemas/([^"]+)"`).FindAllSubmatch(raw, -1) {
		if _, ok := doc.Components.Schemas[string(m[1])]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
}
