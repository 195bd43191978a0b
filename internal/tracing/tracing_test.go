package tracing_test

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gaia-platform/iam/internal/testkit"
)

// span is what the collector received of one span.
type span struct {
	Name, TraceID, ParentID string
	Attrs                   map[string]string
}

// collector is an OTLP/HTTP trace receiver: it keeps every span posted
// to /v1/traces.
type collector struct {
	mu    sync.Mutex
	spans []span
	posts int
}

func newCollector(t *testing.T) (*collector, string) {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.posts++
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					attrs := map[string]string{}
					for _, kv := range s.Attributes {
						attrs[kv.Key] = kv.Value.GetStringValue()
					}
					c.spans = append(c.spans, span{Name: s.Name, TraceID: hex.EncodeToString(s.TraceId),
						ParentID: hex.EncodeToString(s.ParentSpanId), Attrs: attrs})
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// trace is the spans received of the trace id.
func (c *collector) trace(id string) []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []span
	for _, s := range c.spans {
		if s.TraceID == id {
			out = append(out, s)
		}
	}
	return out
}

func names(spans []span) map[string]int {
	n := map[string]int{}
	for _, s := range spans {
		n[s.Name]++
	}
	return n
}

const (
	traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID = "00f067aa0ba902b7"
	password = "tracing password 77"
)

func TestTracing_ALoginIsOneTraceUnderTheClientsTraceparent(t *testing.T) {
	c, url := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // ms: export at once
	e := testkit.NewIAM(t)
	e.Must(password+"\n", "user", "create", "tracy", "--password-stdin")
	s := e.Serve()

	body, _ := json.Marshal(map[string]string{"username": "tracy", "password": password})
	r := s.Do(t, http.MethodPost, "/auth/login", string(body), "Content-Type", "application/json",
		"traceparent", "00-"+traceID+"-"+parentID+"-01")
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	var spans []span
	testkit.Eventually(t, 10*time.Second, "the login's spans at the collector", func() bool {
		spans = c.trace(traceID)
		n := names(spans)
		return n["POST /auth/login"] == 1 && n["argon2id.verify"] == 1 && n["jwt.sign"] == 1 && n["db.query"] > 0
	})
	for _, s := range spans {
		if s.Name == "POST /auth/login" && (s.ParentID != parentID || s.Attrs["http.route"] != "/auth/login") {
			t.Errorf("server span %+v: want the client's span %s as parent and the route", s, parentID)
		}
		if s.Name == "db.query" && s.Attrs["db.system"] != "postgresql" && !strings.HasPrefix(e.DatabaseURL, "sqlite") {
			t.Errorf("db span without db.system=postgresql: %+v", s)
		}
		for k, v := range s.Attrs {
			if strings.Contains(v, password) {
				t.Errorf("span %s attribute %s holds the password", s.Name, k)
			}
		}
	}
	if !strings.HasPrefix(e.DatabaseURL, "sqlite") && names(spans)["db.query"] == 0 {
		t.Error("no database spans")
	}
	if !strings.Contains(s.Logs.String(), `"route":"/auth/login"`) || !strings.Contains(s.Logs.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("the login's request line does not name its trace %s: %s", traceID, s.Logs.String())
	}
}

func TestTracing_AnUnknownProtocolStopsServeWithOneLine(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")
	e := testkit.NewIAM(t)
	r := e.Run("", "serve", "--http-addr", "127.0.0.1:0", "--signing-key-file", e.KeyFile)
	if r.Code == 0 || !strings.Contains(r.Stderr, "OTEL_EXPORTER_OTLP_PROTOCOL") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Errorf("serve with protocol thrift: exit %d, stderr %q: want one line naming the variable", r.Code, r.Stderr)
	}
}
