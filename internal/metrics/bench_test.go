package metrics_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/metrics"
)

// What the HTTP middleware adds to a request: one counter and one
// histogram, found by their labels.
func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("/admin/v1/users/:id", http.MethodGet, http.StatusOK, 3*time.Millisecond)
	}
}
