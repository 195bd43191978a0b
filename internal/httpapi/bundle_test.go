package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/httpapi"
)

var signed = &bundle.Signed{Revision: "4f2a", Bytes: []byte("\x1f\x8b not really a bundle")}

func bundleServer(b *bundle.Signed) http.Handler {
	return httpapi.New(httpapi.Deps{Bundle: func() *bundle.Signed { return b }, Log: slog.New(slog.DiscardHandler)})
}

func TestBundle_ETagAndIfNoneMatch(t *testing.T) {
	h := bundleServer(signed)
	for _, tc := range []struct {
		ifNoneMatch string
		want        int
	}{
		{"", http.StatusOK},
		{`"4f2a"`, http.StatusNotModified},
		{`W/"4f2a"`, http.StatusNotModified},
		{`"0000", "4f2a"`, http.StatusNotModified},
		{`*`, http.StatusNotModified},
		{`"0000"`, http.StatusOK},
		{`4f2a`, http.StatusOK}, // an ETag is quoted
		{`"4f2a0"`, http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, "/bundles/gaia.tar.gz", nil)
		if tc.ifNoneMatch != "" {
			req.Header.Set("If-None-Match", tc.ifNoneMatch)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want || rec.Header().Get("ETag") != `"4f2a"` {
			t.Errorf("If-None-Match %q: %d ETag %q, want %d with ETag \"4f2a\"", tc.ifNoneMatch, rec.Code, rec.Header().Get("ETag"), tc.want)
		}
		wantBody := string(signed.Bytes)
		if tc.want == http.StatusNotModified {
			wantBody = ""
		}
		if rec.Body.String() != wantBody {
			t.Errorf("If-None-Match %q: body %q, want %q", tc.ifNoneMatch, rec.Body.String(), wantBody)
		}
		if ct := rec.Header().Get("Content-Type"); tc.want == http.StatusOK && ct != "application/gzip" {
			t.Errorf("Content-Type %q, want application/gzip (not OPA's long-polling type)", ct)
		}
	}
}

func TestBundle_NoneCompiledYetIs503(t *testing.T) {
	rec := httptest.NewRecorder()
	bundleServer(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bundles/gaia.tar.gz", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusServiceUnavailable || body["error"] != "not_ready" {
		t.Fatalf("no bundle: %d %s, want 503 not_ready", rec.Code, rec.Body)
	}
}

// BenchmarkBundle_NotModified is what every service's poll costs while
// nothing changes: routing, logging and a 304 from memory.
func BenchmarkBundle_NotModified(b *testing.B) {
	h := bundleServer(signed)
	req := httptest.NewRequest(http.MethodGet, "/bundles/gaia.tar.gz", nil)
	req.Header.Set("If-None-Match", `"4f2a"`)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
