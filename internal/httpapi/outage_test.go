package httpapi_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// TestDatabaseOutage_503WhileDownThenRecoversAlone stops the IAM's
// PostgreSQL (a server of the test's own) under load and starts it again:
// while it is down every answer that needs it is 503 unavailable, never a
// 500, none hangs, /readyz is 503; once it is back the server recovers by
// itself, the audit chain verifies and a session from before the outage
// still refreshes.
func TestDatabaseOutage_503WhileDownThenRecoversAlone(t *testing.T) {
	pg := testkit.StartPostgres(t)
	e := testkit.NewIAMAt(t, pg.URL())
	e.WithUser("alice", "correct horse battery", "Viewer")
	e.Must("quiet admin pass 123\n", "createsuperuser", "--username", "root", "--password-stdin")
	s := e.Serve()
	before := s.LoginPair(t, "alice", "correct horse battery")
	admin := s.Token(t, "root", "quiet admin pass 123")

	var mu sync.Mutex
	statuses := map[int]int{}
	codes := map[string]int{}
	var slowest time.Duration
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for !stop.Load() {
				start := time.Now()
				var r testkit.Response
				if w%2 == 0 {
					r = s.Login(t, "alice", "correct horse battery")
				} else {
					r = s.Admin(t, admin, http.MethodGet, "/users", "")
				}
				d := time.Since(start)
				var body struct{ Error string }
				_ = json.Unmarshal(r.Body, &body)
				mu.Lock()
				statuses[r.Status]++
				codes[body.Error]++
				slowest = max(slowest, d)
				mu.Unlock()
			}
		})
	}
	// Before the server's and the database's own cleanups, which run
	// after this one.
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
	ready := func(want int) func() bool {
		return func() bool { return s.Do(t, http.MethodGet, "/readyz", "").Status == want }
	}
	time.Sleep(300 * time.Millisecond) // some load before the outage
	pg.Stop()
	testkit.Eventually(t, 15*time.Second, "/readyz 503 with the database down", ready(http.StatusServiceUnavailable))
	testkit.Eventually(t, 15*time.Second, "503 unavailable answers while the database is down", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return codes["unavailable"] >= 4
	})
	pg.Start()
	testkit.Eventually(t, 30*time.Second, "/readyz 200 again", ready(http.StatusOK))
	testkit.Eventually(t, 30*time.Second, "logins succeed again", func() bool {
		return s.Login(t, "alice", "correct horse battery").Status == http.StatusOK
	})
	stop.Store(true)
	wg.Wait()

	t.Logf("answers: %v, error codes: %v, slowest %v", statuses, codes, slowest)
	if statuses[http.StatusInternalServerError] != 0 {
		t.Errorf("%d answers were 500 during the outage: want 503 unavailable", statuses[http.StatusInternalServerError])
	}
	for status, n := range statuses {
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Errorf("%d answers of status %d: want only 200 and 503", n, status)
		}
	}
	if slowest > 10*time.Second {
		t.Errorf("the slowest answer took %v: a request must not hang on a dead database", slowest)
	}
	if p := s.MustRefresh(t, before.Refresh); p.Refresh == "" {
		t.Error("a session from before the outage does not refresh after it")
	}
	e.Must("", "audit", "verify")
}
