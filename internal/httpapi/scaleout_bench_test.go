package httpapi_test

import (
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkThroughput_ClientCredentialsReplicas: the client-credentials
// grant spread round-robin over 1 and 2 replicas of iam serve on one
// PostgreSQL database. On this 2-core machine the replicas share the
// cores, so the second replica shows the cost of sharing, not a gain;
// db-cpu-ms/grant (the PostgreSQL backends' CPU time per grant) is what
// sizes the database of a bigger installation.
func BenchmarkThroughput_ClientCredentialsReplicas(b *testing.B) {
	for _, replicas := range []int{1, 2} {
		b.Run("replicas="+strconv.Itoa(replicas), func(b *testing.B) {
			l := newLoadTarget(b)
			urls := []string{l.srv.URL}
			for len(urls) < replicas {
				urls = append(urls, l.iam.Serve("--signing-key-file", l.keyFile).URL)
			}
			l.workers *= replicas
			l.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: l.workers}}
			var next atomic.Int64
			db := l.databaseCPU(b)
			n, elapsed := l.drive(b, func(int) error { return l.clientCredentials(urls[int(next.Add(1))%len(urls)]) })
			db = l.databaseCPU(b) - db
			b.ReportMetric(float64(n)/elapsed.Seconds(), "grants/s")
			b.ReportMetric(float64(db.Microseconds())/1000/float64(n), "db-cpu-ms/grant")
		})
	}
}

// BenchmarkLatency_PasswordLoginUnderTheSheddingLimit: as many logins at
// once as the server hashes and queues (IAM_HASH_CONCURRENCY slots, four
// queued per slot by default), so none is shed; reports the p50 and p99
// of a login's latency at that load.
func BenchmarkLatency_PasswordLoginUnderTheSheddingLimit(b *testing.B) {
	l := newLoadTarget(b)
	l.workers = 5 * runtime.GOMAXPROCS(0) // slots + 4 × slots queued
	l.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: l.workers}}
	var mu sync.Mutex
	var latencies []time.Duration
	l.drive(b, func(int) error {
		start := time.Now()
		_, err := l.login()
		d := time.Since(start)
		mu.Lock()
		latencies = append(latencies, d)
		mu.Unlock()
		return err
	})
	slices.Sort(latencies)
	at := func(q float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
