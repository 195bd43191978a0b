package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/testkit"
)

// The production shape (docs/storage.md, "Replicas"): three `iam serve`
// on one PostgreSQL database behind a round-robin load balancer, signing
// with the keys kept in the database. Clients go through the balancer;
// "every replica" is each replica asked directly.
func TestReplicas_ThreeBehindARoundRobinBalancerActAsOne(t *testing.T) {
	t.Parallel()
	e := postgresIAM(t)
	e.Clock = testkit.NewClock()
	e.WithUser("alice", alicePassword, "Analyst")
	for _, name := range []string{"carol", "load0", "load1", "load2"} {
		e.Must(alicePassword+"\n", "user", "create", name, "--password-stdin", "--role", "Viewer")
	}
	var replicas []*testkit.Server
	for range 3 {
		replicas = append(replicas, e.Serve("--signing-key-file="))
	}
	lb := newRoundRobin(t, replicas)
	front := &testkit.Server{URL: lb.URL}
	// Propagation is bound by one poll of the bundle publisher and of the
	// keyring; the wait allows for a loaded machine.
	within := 10 * bundle.PollInterval

	t.Run("a replayed refresh token revokes its family on every replica", func(t *testing.T) {
		login := front.Login(t, "alice", alicePassword)
		first := testkit.PairOf(t, login)
		refreshed := front.Refresh(t, first.Refresh)
		next := testkit.PairOf(t, refreshed)
		e.Clock.Advance(6 * time.Second) // past the 5s reuse grace: a replay, not a retry
		replay := front.Refresh(t, first.Refresh)
		testkit.AssertError(t, replay, http.StatusUnauthorized, "invalid_grant")
		if got := servedBy(login, refreshed, replay); got != "0 1 2" {
			t.Fatalf("login, refresh and replay served by replicas %s, want one each", got)
		}
		for i, r := range replicas {
			testkit.AssertError(t, r.Refresh(t, next.Refresh), http.StatusUnauthorized, "invalid_grant")
			testkit.Eventually(t, within, fmt.Sprintf("replica %d refuses the family's newest access token", i),
				func() bool { return refusedEverywhere(t, r, next.Access) })
		}
		if n := len(e.AuditEvents("refresh_token.reused")); n != 1 {
			t.Errorf("%d refresh_token.reused events, want 1", n)
		}
		if out := e.Must("", "session", "list", "alice"); strings.Count(out, "\n") != 1 {
			t.Errorf("alice's sessions after the reuse:\n%s\nwant none", out)
		}
		e.Clock.Advance(time.Second) // past the second the reuse voided alice's tokens in
	})

	t.Run("a role change by the CLI reaches every replica's bundle within a poll, one ETag", func(t *testing.T) {
		e.Must("", "role", "grant", "Viewer", "analytics.report.view")
		changed := time.Now()
		etags := make([]string, len(replicas))
		testkit.Eventually(t, within, "every replica serves a bundle with the grant", func() bool {
			for i, r := range replicas {
				resp, b := r.Bundle(t, "")
				if !slices.Contains(roleGrants(b, "Viewer"), "analytics.report.view") {
					return false
				}
				etags[i] = resp.Header.Get("ETag")
			}
			return true
		})
		t.Logf("the grant reached the three replicas' bundles %v after the command (poll %v)", time.Since(changed).Round(time.Millisecond), bundle.PollInterval)
		if etags[0] == "" || etags[1] != etags[0] || etags[2] != etags[0] {
			t.Fatalf("replicas serve ETags %q, want one", etags)
		}
	})

	t.Run("a key rotation is published by every replica within a poll", func(t *testing.T) {
		before := jwksOf(t, replicas[0])
		out := e.Must("", "keys", "rotate")
		m := regexp.MustCompile(`new signing key (\S+) is published now`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("keys rotate printed %q", out)
		}
		rotated := time.Now()
		testkit.Eventually(t, within, "every replica publishes the same JWKS with the new key", func() bool {
			first := jwksOf(t, replicas[0])
			if first == before || !strings.Contains(first, `"kid":"`+m[1]+`"`) {
				return false
			}
			for _, r := range replicas[1:] {
				if jwksOf(t, r) != first {
					return false
				}
			}
			return true
		})
		t.Logf("the new key reached the three replicas' JWKS %v after the command", time.Since(rotated).Round(time.Millisecond))
		set, err := jwk.Parse([]byte(jwksOf(t, replicas[0])))
		if err != nil || set.Len() != 2 {
			t.Fatalf("JWKS after the rotation holds %d keys (%v), want the old and the new", set.Len(), err)
		}
	})

	t.Run("failed logins spread over the replicas lock the name on all", func(t *testing.T) {
		var answers []testkit.Response
		for range 5 {
			r := front.Login(t, "carol", "not the password!")
			testkit.AssertError(t, r, http.StatusUnauthorized, "invalid_credentials")
			answers = append(answers, r)
		}
		if got := servedBy(answers...); !strings.Contains(got, "0") || !strings.Contains(got, "1") || !strings.Contains(got, "2") {
			t.Fatalf("the failures were served by replicas %s, want all three", got)
		}
		for _, r := range replicas {
			testkit.AssertThrottled(t, r.Login(t, "carol", alicePassword), time.Minute)
		}
		if n := len(e.AuditEvents("login.locked")); n != 1 {
			t.Errorf("%d login.locked events, want 1", n)
		}
	})

	t.Run("a replica stopped under load: the others answer, nothing is lost", func(t *testing.T) {
		load := startLoad(t, lb.URL, "load0", "load1", "load2")
		load.waitFor(t, 30)
		replicas[1].Stop() // graceful: requests in flight are answered
		load.waitFor(t, load.done()+60)
		families := load.stop(t)
		if !lb.down[1].Load() {
			t.Error("the balancer never found the stopped replica down: the load did not go on past it")
		}
		for _, f := range families {
			r := front.Refresh(t, f)
			if r.Status != http.StatusOK {
				t.Errorf("a session of the load refreshes %d after the load: %s", r.Status, r.Body)
			}
		}
		t.Logf("%d requests of the load, %d sessions; replica 1 served %d before its stop; %d sent on to another replica",
			load.done(), len(families), lb.served(1), lb.resent.Load())
		e.Must("", "audit", "verify")
	})
}

// roundRobin is the test's load balancer: each request goes to the next
// replica in turn; one that fails without an answer is sent to the next
// replica, and a replica that refuses connections is skipped from then
// on. A stopping replica closes its idle connections, so a request sent
// on one at that moment fails; whether it had been served or not, sending
// it again is safe: a refresh repeated within the reuse grace gets the
// same successor, a repeated login opens one more session.
type roundRobin struct {
	*httptest.Server
	backends []*url.URL
	down     []atomic.Bool
	count    []atomic.Int64
	next     atomic.Uint64
	resent   atomic.Int64 // requests sent on after a replica failed to answer
}

// replicaHeader names, in the balancer's answers, the replica that served.
const replicaHeader = "X-Test-Replica"

func newRoundRobin(t *testing.T, replicas []*testkit.Server) *roundRobin {
	t.Helper()
	lb := &roundRobin{down: make([]atomic.Bool, len(replicas)), count: make([]atomic.Int64, len(replicas))}
	for _, r := range replicas {
		u, err := url.Parse(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		lb.backends = append(lb.backends, u)
	}
	lb.Server = httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(lb.backends[0]) }, // RoundTrip picks the replica
		Transport: lb,
	})
	t.Cleanup(lb.Close)
	return lb
}

// RoundTrip sends req to the next live replica, and on to the next while
// one fails to answer.
func (lb *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	start := lb.next.Add(1) - 1
	err := errors.New("no replica is up")
	for i := range uint64(len(lb.backends)) {
		b := int((start + i) % uint64(len(lb.backends)))
		if lb.down[b].Load() {
			continue
		}
		out := req.Clone(req.Context())
		out.URL.Host, out.Host = lb.backends[b].Host, ""
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		var resp *http.Response
		resp, err = http.DefaultTransport.RoundTrip(out)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				lb.down[b].Store(true)
			}
			lb.resent.Add(1)
			continue
		}
		lb.count[b].Add(1)
		resp.Header.Set(replicaHeader, strconv.Itoa(b))
		return resp, nil
	}
	return nil, err
}

// served is how many requests replica b has answered.
func (lb *roundRobin) served(b int) int64 { return lb.count[b].Load() }

// servedBy lists the replicas that served the balancer's answers.
func servedBy(answers ...testkit.Response) string {
	var out []string
	for _, r := range answers {
		out = append(out, r.Header.Get(replicaHeader))
	}
	return strings.Join(out, " ")
}

// load is clients signing in and refreshing through the balancer, each
// as its own user: a refresh mostly, a new login (a new session) every
// fifth request. Every answer must be a 200.
type load struct {
	stopc    chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64
	mu       sync.Mutex
	errs     []string
	families [][]string // per client, the newest refresh token of each session
}

func startLoad(t *testing.T, base string, users ...string) *load {
	t.Helper()
	l := &load{stopc: make(chan struct{}), families: make([][]string, len(users))}
	for i, user := range users {
		l.wg.Go(func() { l.client(base, i, user) })
	}
	t.Cleanup(func() { l.halt() })
	return l
}

func (l *load) client(base string, i int, user string) {
	for n := 0; ; n++ {
		select {
		case <-l.stopc:
			return
		default:
		}
		l.mu.Lock()
		sessions := l.families[i]
		l.mu.Unlock()
		var path string
		var body any
		if n%5 == 0 {
			path, body = "/auth/login", map[string]string{"username": user, "password": alicePassword}
		} else {
			path, body = "/auth/refresh", map[string]string{"refresh_token": sessions[len(sessions)-1]}
		}
		refresh, err := postJSON(base+path, body)
		l.requests.Add(1)
		l.mu.Lock()
		switch {
		case err != nil:
			l.errs = append(l.errs, fmt.Sprintf("%s %s: %v", user, path, err))
		case n%5 == 0:
			l.families[i] = append(l.families[i], refresh)
		default:
			l.families[i][len(sessions)-1] = refresh
		}
		l.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// postJSON posts body and returns the refresh token of a 200 answer.
func postJSON(url string, body any) (string, error) {
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%d %s", resp.StatusCode, raw)
	}
	var pair struct {
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(raw, &pair); err != nil || pair.Refresh == "" {
		return "", fmt.Errorf("answer without a refresh token: %s", raw)
	}
	return pair.Refresh, nil
}

func (l *load) done() int64 { return l.requests.Load() }

// waitFor waits until n requests have been answered, failing on the
// first error.
func (l *load) waitFor(t *testing.T, n int64) {
	t.Helper()
	testkit.Eventually(t, time.Minute, fmt.Sprintf("%d requests of the load answered", n), func() bool {
		if errs := l.errors(); len(errs) > 0 {
			t.Fatalf("the load got errors: %s", strings.Join(errs, "; "))
		}
		return l.done() >= n
	})
}

func (l *load) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

func (l *load) halt() {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	l.wg.Wait()
}

// stop ends the load, fails on any error it got, and returns the newest
// refresh token of every session it opened.
func (l *load) stop(t *testing.T) []string {
	t.Helper()
	l.halt()
	if errs := l.errors(); len(errs) > 0 {
		t.Fatalf("the load got errors: %s", strings.Join(errs, "; "))
	}
	var all []string
	for _, f := range l.families {
		all = append(all, f...)
	}
	return all
}

// jwksOf is the JWKS a server publishes, as served.
func jwksOf(t *testing.T, s *testkit.Server) string {
	t.Helper()
	return string(s.Do(t, http.MethodGet, "/.well-known/jwks.json", "").Body)
}
