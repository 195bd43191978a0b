package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// newThrottledIAM is an installation with alice, on a clock tests move.
func newThrottledIAM(t *testing.T) (*testkit.IAM, *testkit.Clock) {
	t.Helper()
	e := testkit.NewIAM(t)
	clock := testkit.NewClock()
	e.Clock = clock
	e.WithUser("alice", alicePassword, "Viewer")
	return e, clock
}

func TestThrottle_AccountLocksAfterFiveFailuresUntilTheLockEnds(t *testing.T) {
	t.Parallel()
	e, clock := newThrottledIAM(t)
	srv := e.Serve()
	srv.FailLogins(t, 5, "alice")
	// Locked: even the right password is refused, before any hashing.
	testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), time.Minute)
	testkit.AssertThrottled(t, srv.Login(t, "ALICE", "not the password!"), time.Minute)
	if n := len(e.AuditEvents("auth.login.failed")); n != 5 {
		t.Errorf("%d auth.login.failed events, want 5: a refused attempt is not a password check", n)
	}
	locked := e.AuditEvents("login.locked")
	if len(locked) != 1 || locked[0]["target"] != "username:alice" {
		t.Fatalf("login.locked events %v, want one on username:alice", locked)
	}

	clock.Advance(59 * time.Second)
	testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), time.Second)
	clock.Advance(time.Second)
	srv.Token(t, "alice", alicePassword)

	// The success forgot the failures: four more do not lock again.
	srv.FailLogins(t, 4, "alice")
	srv.Token(t, "alice", alicePassword)
}

func TestThrottle_SuccessiveLocksDouble(t *testing.T) {
	t.Parallel()
	e, clock := newThrottledIAM(t)
	srv := e.Serve("--login-lock-base", "1m", "--login-lock-max", "3m")
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		srv.FailLogins(t, 5, "alice")
		testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), want)
		clock.Advance(want)
	}
	srv.Token(t, "alice", alicePassword)
}

func TestThrottle_UnknownAccountLocksWithTheSameAnswer(t *testing.T) {
	t.Parallel()
	e, _ := newThrottledIAM(t)
	srv := e.Serve()
	// Different client IPs would not matter; the account names are what
	// lock here, one that exists and one that does not.
	srv.FailLogins(t, 5, "alice")
	srv.FailLogins(t, 5, "nobody")
	known := srv.Login(t, "alice", alicePassword)
	unknown := srv.Login(t, "nobody", alicePassword)
	if string(known.Body) != string(unknown.Body) || known.Status != unknown.Status ||
		known.Header.Get("Retry-After") != unknown.Header.Get("Retry-After") {
		t.Fatalf("locked existing account: %d %s (Retry-After %s); unknown: %d %s (Retry-After %s); want the same",
			known.Status, known.Body, known.Header.Get("Retry-After"), unknown.Status, unknown.Body, unknown.Header.Get("Retry-After"))
	}
	testkit.AssertThrottled(t, known, time.Minute)
	out := e.Must("", "security", "blocks")
	if !strings.Contains(out, "user  alice") || !strings.Contains(out, "user  nobody") {
		t.Errorf("iam security blocks:\n%s\nwant alice and nobody", out)
	}
}

func TestThrottle_IPBlockedAfterFailuresOverManyNames(t *testing.T) {
	t.Parallel()
	e, clock := newThrottledIAM(t)
	srv := e.Serve("--login-max-failures-ip", "6")
	for _, name := range []string{"a1", "a2", "a3", "a4", "a5", "a6"} {
		srv.FailLogins(t, 1, name)
	}
	testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), time.Minute)
	blocked := e.AuditEvents("ip.blocked")
	if len(blocked) != 1 || blocked[0]["target"] != "ip:127.0.0.1" || blocked[0]["ip"] != "127.0.0.1" {
		t.Fatalf("ip.blocked events %v, want one on ip:127.0.0.1", blocked)
	}
	if out := e.Must("", "security", "blocks"); !strings.Contains(out, "ip    127.0.0.1") {
		t.Errorf("iam security blocks:\n%s\nwant the IP", out)
	}
	clock.Advance(time.Minute)
	srv.Token(t, "alice", alicePassword)
}

func TestThrottle_ForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		e, _ := newThrottledIAM(t)
		srv := e.Serve("--login-max-failures-ip", "2", "--trusted-proxies", "10.0.0.0/8, 127.0.0.1/32")
		// The client is the right-most address that is not a trusted
		// proxy; what it wrote itself further left is not believed.
		xff := []string{"X-Forwarded-For", "198.51.100.66, 203.0.113.9, 10.1.2.3"}
		srv.FailLogins(t, 1, "a1", xff...)
		srv.FailLogins(t, 1, "a2", xff...)
		testkit.AssertThrottled(t, srv.LoginFrom(t, "alice", alicePassword, "X-Forwarded-For", "203.0.113.9"), time.Minute)
		// Another client behind the same proxy is not blocked.
		if r := srv.LoginFrom(t, "alice", alicePassword, "X-Forwarded-For", "203.0.113.10"); r.Status != http.StatusOK {
			t.Fatalf("another client behind the proxy: %d %s", r.Status, r.Body)
		}
		blocked := e.AuditEvents("ip.blocked")
		if len(blocked) != 1 || blocked[0]["target"] != "ip:203.0.113.9" || blocked[0]["ip"] != "203.0.113.9" {
			t.Fatalf("ip.blocked events %v, want one on ip:203.0.113.9", blocked)
		}
		failed := e.AuditEvents("auth.login.failed")
		if len(failed) != 2 || failed[0]["ip"] != "203.0.113.9" {
			t.Errorf("auth.login.failed events %v, want the forwarded client's IP", failed)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		e, _ := newThrottledIAM(t)
		srv := e.Serve("--login-max-failures-ip", "2", "--trusted-proxies", "10.0.0.0/8")
		srv.FailLogins(t, 1, "a1", "X-Forwarded-For", "203.0.113.9")
		srv.FailLogins(t, 1, "a2", "X-Forwarded-For", "203.0.113.10")
		// The peer is no trusted proxy: the header is ignored, and a new
		// one does not get around the block.
		testkit.AssertThrottled(t, srv.LoginFrom(t, "alice", alicePassword, "X-Forwarded-For", "192.0.2.77"), time.Minute)
		blocked := e.AuditEvents("ip.blocked")
		if len(blocked) != 1 || blocked[0]["target"] != "ip:127.0.0.1" {
			t.Fatalf("ip.blocked events %v, want one on the socket's ip:127.0.0.1", blocked)
		}
	})
}

func TestThrottle_PasswordGrantIsThrottledInOAuthShape(t *testing.T) {
	t.Parallel()
	e, _ := newThrottledIAM(t)
	srv := e.Serve("--allow-password-grant=true")
	for range 5 {
		assertOAuthError(t, postToken(t, srv, form("grant_type", "password", "username", "alice", "password", "not the password!")),
			http.StatusBadRequest, "invalid_grant")
	}
	r := postToken(t, srv, form("grant_type", "password", "username", "alice", "password", alicePassword))
	assertOAuthError(t, r, http.StatusTooManyRequests, "too_many_attempts")
	if ra := r.Header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After %q, want 60", ra)
	}
	// The lock is the account name's, on every password path.
	testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), time.Minute)
}

// Any storable name may be sent and is counted: one longer than an index
// holds is stored bounded, not a 500.
func TestThrottle_OverlongNamesAreCountedToo(t *testing.T) {
	t.Parallel()
	e, _ := newThrottledIAM(t)
	srv := e.Serve()
	name := strings.Repeat("ŋ", 20000)
	srv.FailLogins(t, 5, name)
	testkit.AssertThrottled(t, srv.Login(t, name, alicePassword), time.Minute)
}
