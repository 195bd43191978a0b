package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gaia-platform/iam/internal/testkit"
)

func TestRefresh_RotatesAndTheOldTokenIsSpent(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	first := srv.LoginPair(t, "alice", alicePassword)
	if len(first.Refresh) != 43 {
		t.Errorf("refresh token %d characters, want 43 (32 bytes base64url)", len(first.Refresh))
	}
	second := srv.MustRefresh(t, first.Refresh)
	if second.Refresh == first.Refresh {
		t.Fatal("refresh returned the same refresh token")
	}
	if r := srv.Me(t, second.Access); r.Status != http.StatusOK {
		t.Fatalf("the refreshed access token: %d %s", r.Status, r.Body)
	}
	third := srv.MustRefresh(t, second.Refresh)
	if len(e.AuditEvents("refresh_token.rotated")) != 2 {
		t.Error("want two refresh_token.rotated events")
	}
	for _, ev := range e.AuditEvents("") {
		line, _ := json.Marshal(ev)
		for _, secret := range []string{first.Refresh, second.Refresh, third.Refresh} {
			if strings.Contains(string(line), secret) {
				t.Fatalf("an audit event holds a refresh token: %s", line)
			}
		}
	}
	for _, secret := range []string{first.Refresh, second.Refresh} {
		if strings.Contains(srv.Logs.String(), secret) {
			t.Fatal("the server log holds a refresh token")
		}
	}
}

// refreshEndpoint is one way to present a refresh token: /auth/refresh or
// the refresh grant of /oauth/token, which rotate the same sessions.
type refreshEndpoint struct {
	name    string
	post    func(t *testing.T, srv *testkit.Server, refresh string) testkit.Response
	refused func(t *testing.T, r testkit.Response) // its invalid_grant answer
}

var refreshEndpoints = []refreshEndpoint{
	{name: "auth_refresh", post: func(t *testing.T, srv *testkit.Server, refresh string) testkit.Response {
		return srv.Refresh(t, refresh)
	}, refused: func(t *testing.T, r testkit.Response) {
		testkit.AssertError(t, r, http.StatusUnauthorized, "invalid_grant")
	}},
	{name: "oauth_token", post: refreshGrant, refused: func(t *testing.T, r testkit.Response) {
		assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	}},
}

func TestRefresh_ReuseRevokesTheFamilyAndTheSubjectInTheBundle(t *testing.T) {
	t.Parallel()
	for _, ep := range refreshEndpoints {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			e := testkit.NewIAM(t)
			e.WithUser("alice", alicePassword, "Analyst")
			aliceID := e.UserID("alice")
			srv := e.Serve("--refresh-reuse-grace", "0") // any second use is theft
			first := srv.LoginPair(t, "alice", alicePassword)
			stale, _ := srv.Bundle(t, "")
			second := testkit.PairOf(t, ep.post(t, srv, first.Refresh)) // the legitimate client
			before := time.Now().Unix()
			// The thief presents the stolen, now spent, token.
			ep.refused(t, ep.post(t, srv, first.Refresh))
			// The whole family is dead: the legitimate successor too.
			ep.refused(t, ep.post(t, srv, second.Refresh))
			if ev := e.AuditEvents("refresh_token.reused"); len(ev) != 1 || ev[0]["actor"] != "user:"+aliceID {
				t.Errorf("refresh_token.reused events %v, want one of alice's", ev)
			}
			var notBefore json.Number
			srv.BundleWhere(t, stale.Header.Get("ETag"), func(b opabundle.Bundle) bool {
				notBefore, _ = revocations(b, "subjects")[aliceID].(json.Number)
				return notBefore != ""
			})
			if nb, _ := notBefore.Int64(); nb < before-1 {
				t.Errorf("alice's tokens void up to %s, want at least %d", notBefore, before)
			}
			// A fresh login is a new family and works.
			testkit.PairOf(t, ep.post(t, srv, srv.LoginPair(t, "alice", alicePassword).Refresh))
		})
	}
}

func TestRefresh_ConcurrentRefreshesOfOneTokenHaveOneWinner(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve("--refresh-reuse-grace", "0")
	p := srv.LoginPair(t, "alice", alicePassword)
	const n = 6
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = srv.Refresh(t, p.Refresh).Status })
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			won++
		case http.StatusUnauthorized:
		default:
			t.Errorf("a concurrent refresh answered %d", s)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent refreshes won (statuses %v), want exactly 1", won, n, statuses)
	}
	if r := len(e.AuditEvents("refresh_token.rotated")); r != 1 {
		t.Errorf("%d rotations recorded, want 1", r)
	}
}

// Within the grace, concurrent presentations of one token (a client
// retrying while its first request is still in flight) all continue the
// one session: one rotation, every answer the same successor.
func TestRefresh_ConcurrentRefreshesWithinTheGraceShareOneSuccessor(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	p := srv.LoginPair(t, "alice", alicePassword)
	const n = 6
	answers := make([]testkit.Response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i] = srv.Refresh(t, p.Refresh) })
	}
	wg.Wait()
	successors := map[string]bool{}
	for _, r := range answers {
		if r.Status != http.StatusOK {
			t.Fatalf("a concurrent refresh within the grace answered %d %s", r.Status, r.Body)
		}
		successors[testkit.PairOf(t, r).Refresh] = true
	}
	if len(successors) != 1 {
		t.Errorf("%d different successors, want 1: the family branched", len(successors))
	}
	if r := len(e.AuditEvents("refresh_token.rotated")); r != 1 {
		t.Errorf("%d rotations recorded, want 1", r)
	}
	if r := len(e.AuditEvents("refresh_token.retried")); r != n-1 {
		t.Errorf("%d retries recorded, want %d", r, n-1)
	}
}

// A client whose refresh answer was lost (the replica died after
// spending the token) retries on another replica within the grace and
// gets the same successor: the session goes on, in one branch.
func TestRefresh_RetryWithinGraceOnAnotherReplicaGetsTheSameSuccessor(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Clock = testkit.NewClock()
	e.WithUser("alice", alicePassword, "Analyst")
	a, b := e.Serve(), e.Serve() // the default grace, 5s
	first := a.LoginPair(t, "alice", alicePassword)
	lost := a.MustRefresh(t, first.Refresh) // the answer the client lost
	e.Clock.Advance(4 * time.Second)
	retried := b.MustRefresh(t, first.Refresh)
	if retried.Refresh != lost.Refresh {
		t.Fatal("the retry got another refresh token than the lost answer: the family branched")
	}
	if retried.Access == lost.Access {
		t.Error("the retry got the lost answer's access token again, want a fresh one")
	}
	if r := b.Me(t, retried.Access); r.Status != http.StatusOK {
		t.Fatalf("/auth/me with the retry's access token: %d %s", r.Status, r.Body)
	}
	if n := len(e.AuditEvents("refresh_token.retried")); n != 1 {
		t.Errorf("%d retry events, want 1", n)
	}
	next := a.MustRefresh(t, retried.Refresh) // the session goes on
	if s := b.Sessions(t, next.Access); len(s) != 1 {
		t.Errorf("sessions %v, want the one family", s)
	}
	// Once its successor is spent, the old token is no retry but reuse.
	testkit.AssertError(t, b.Refresh(t, first.Refresh), http.StatusUnauthorized, "invalid_grant")
	if n := len(e.AuditEvents("refresh_token.reused")); n != 1 {
		t.Errorf("%d reuse events, want 1", n)
	}
}

func TestRefresh_RetryAfterTheGraceRevokesTheFamily(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Clock = testkit.NewClock()
	e.WithUser("alice", alicePassword, "Analyst")
	a, b := e.Serve("--refresh-reuse-grace", "5s"), e.Serve("--refresh-reuse-grace", "5s")
	first := a.LoginPair(t, "alice", alicePassword)
	lost := a.MustRefresh(t, first.Refresh)
	e.Clock.Advance(6 * time.Second)
	testkit.AssertError(t, b.Refresh(t, first.Refresh), http.StatusUnauthorized, "invalid_grant")
	testkit.AssertError(t, a.Refresh(t, lost.Refresh), http.StatusUnauthorized, "invalid_grant")
	if n := len(e.AuditEvents("refresh_token.reused")); n != 1 {
		t.Errorf("%d reuse events, want 1", n)
	}
	assertRefusedEverywhere(t, b, lost.Access, "token revoked")
}

func TestRefresh_IdleTokenAndDisabledUserAreInvalidGrant(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve("--refresh-idle-timeout", "1s")
	idle := srv.LoginPair(t, "alice", alicePassword)
	time.Sleep(1100 * time.Millisecond)
	testkit.AssertError(t, srv.Refresh(t, idle.Refresh), http.StatusUnauthorized, "invalid_grant")

	live := srv.LoginPair(t, "alice", alicePassword)
	e.Must("", "user", "disable", "alice")
	testkit.AssertError(t, srv.Refresh(t, live.Refresh), http.StatusUnauthorized, "invalid_grant")
	testkit.AssertError(t, srv.Refresh(t, "not-a-token"), http.StatusUnauthorized, "invalid_grant")
	testkit.AssertError(t, srv.Refresh(t, ""), http.StatusBadRequest, "invalid_request")
}

func TestRefresh_TokenPastItsLifetimeIsInvalidGrant(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve("--refresh-token-ttl", "1s")
	p := srv.LoginPair(t, "alice", alicePassword)
	time.Sleep(1100 * time.Millisecond)
	testkit.AssertError(t, srv.Refresh(t, p.Refresh), http.StatusUnauthorized, "invalid_grant")
}

func TestLogout_RevokesTheFamilyAndPublishesTheJTI(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	p := srv.LoginPair(t, "alice", alicePassword)
	other := srv.LoginPair(t, "alice", alicePassword)
	stale, _ := srv.Bundle(t, "")
	// A body with a string that cannot be stored is refused, as on every
	// endpoint, before anything is revoked.
	testkit.AssertError(t, srv.Do(t, http.MethodPost, "/auth/logout", `{"refresh_token":"\u0000"}`,
		"Authorization", "Bearer "+p.Access, "Content-Type", "application/json"), http.StatusBadRequest, "invalid_request")
	body, _ := json.Marshal(map[string]string{"refresh_token": p.Refresh})
	r := srv.Do(t, http.MethodPost, "/auth/logout", string(body), "Authorization", "Bearer "+p.Access, "Content-Type", "application/json")
	if r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s\n%s", r.Status, r.Body, srv.Logs)
	}
	testkit.AssertError(t, srv.Refresh(t, p.Refresh), http.StatusUnauthorized, "invalid_grant")
	jti := claimsOf(t, p.Access)["jti"].(string)
	srv.BundleWhere(t, stale.Header.Get("ETag"), func(b opabundle.Bundle) bool {
		_, ok := revocations(b, "jti")[jti]
		return ok
	})
	// The other session is untouched, and logout without a body works.
	q := srv.MustRefresh(t, other.Refresh)
	if r := srv.Do(t, http.MethodPost, "/auth/logout", "", "Authorization", "Bearer "+q.Access); r.Status != http.StatusNoContent {
		t.Fatalf("logout without a body: %d %s", r.Status, r.Body)
	}
	testkit.AssertError(t, srv.Do(t, http.MethodPost, "/auth/logout", ""), http.StatusUnauthorized, "invalid_token")
}

func TestSessions_ListAndDeleteOnlyOwnFamilies(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must(alicePassword+"\n", "user", "create", "bob", "--password-stdin", "--role", "Viewer")
	srv := e.Serve()
	a1 := srv.LoginPair(t, "alice", alicePassword)
	a2 := srv.LoginPair(t, "alice", alicePassword)
	b := srv.LoginPair(t, "bob", alicePassword)
	sessions := srv.Sessions(t, a1.Access)
	if len(sessions) != 2 {
		t.Fatalf("alice's sessions %v, want 2", sessions)
	}
	for _, s := range sessions {
		for _, k := range []string{"id", "created_at", "last_used_at", "expires_at"} {
			if _, ok := s[k]; !ok {
				t.Errorf("session %v lacks %s", s, k)
			}
		}
	}
	bobs := srv.Sessions(t, b.Access)
	if len(bobs) != 1 {
		t.Fatalf("bob's sessions %v, want 1", bobs)
	}
	del := func(token, id string) testkit.Response {
		return srv.Do(t, http.MethodDelete, "/auth/sessions/"+id, "", "Authorization", "Bearer "+token)
	}
	testkit.AssertError(t, del(a1.Access, str(bobs[0]["id"])), http.StatusNotFound, "not_found")
	testkit.AssertError(t, del(a1.Access, "00000000-0000-0000-0000-000000000000"), http.StatusNotFound, "not_found")
	testkit.AssertError(t, del(a1.Access, "nonsense"), http.StatusNotFound, "not_found")
	srv.MustRefresh(t, b.Refresh) // bob's session survived

	// Sessions are newest first: the first is a2's login.
	a2ID := str(sessions[0]["id"])
	if r := del(a1.Access, a2ID); r.Status != http.StatusNoContent {
		t.Fatalf("delete own session: %d %s", r.Status, r.Body)
	}
	testkit.AssertError(t, srv.Refresh(t, a2.Refresh), http.StatusUnauthorized, "invalid_grant")
	srv.MustRefresh(t, a1.Refresh)
	if left := srv.Sessions(t, a1.Access); len(left) != 1 || str(left[0]["id"]) == a2ID {
		t.Errorf("sessions after delete %v", left)
	}
	testkit.AssertError(t, del(a1.Access, a2ID), http.StatusNotFound, "not_found")
	if n := len(e.AuditEvents("session.revoked")); n != 1 {
		t.Errorf("%d session.revoked events, want 1", n)
	}
}
