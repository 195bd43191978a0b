package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// bearerRoute is one route of the IAM that authenticates its caller by a
// bearer access token.
type bearerRoute struct {
	method, path, body string
}

// bearerRoutes are every bearer-authenticated route outside the admin
// API's table, and one admin route (the admin API's own test walks all
// of them). The session id is one no session has: a refused token must
// be refused before the handler could look.
var bearerRoutes = []bearerRoute{
	{http.MethodGet, "/auth/me", ""},
	{http.MethodGet, "/auth/sessions", ""},
	{http.MethodDelete, "/auth/sessions/00000000-0000-4000-8000-000000000000", ""},
	{http.MethodPost, "/auth/password", `{"current_password":"` + alicePassword + `","new_password":"another passphrase of length"}`},
	{http.MethodPost, "/auth/logout", ""},
	{http.MethodGet, "/admin/v1/users", ""},
}

func (r bearerRoute) call(t *testing.T, srv *testkit.Server, token string) testkit.Response {
	t.Helper()
	h := []string{"Authorization", "Bearer " + token}
	if r.body != "" {
		h = append(h, "Content-Type", "application/json")
	}
	return srv.Do(t, r.method, r.path, r.body, h...)
}

// assertRefusedEverywhere checks that every bearer route answers token
// with 401 invalid_token, a Bearer challenge and why in the message.
func assertRefusedEverywhere(t *testing.T, srv *testkit.Server, token, why string) {
	t.Helper()
	for _, route := range bearerRoutes {
		r := route.call(t, srv, token)
		testkit.AssertError(t, r, http.StatusUnauthorized, "invalid_token")
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
			t.Errorf("%s %s: WWW-Authenticate %q", route.method, route.path, got)
		}
		if msg := str(r.JSON(t)["message"]); !strings.Contains(msg, why) {
			t.Errorf("%s %s: message %q does not say %q", route.method, route.path, msg, why)
		}
	}
}

// refusedEverywhere reports whether every bearer route answers token 401.
func refusedEverywhere(t *testing.T, srv *testkit.Server, token string) bool {
	t.Helper()
	for _, route := range bearerRoutes {
		if route.call(t, srv, token).Status != http.StatusUnauthorized {
			return false
		}
	}
	return true
}

func TestBearerRoutes_AcceptAValidToken(t *testing.T) {
	t.Parallel()
	e, srv := adminIAM(t)
	for _, route := range bearerRoutes {
		// A token of its own per route: logout and a password change end
		// what the token belongs to.
		r := route.call(t, srv, srv.Token(t, "alice", alicePassword))
		want := http.StatusOK
		switch route.path {
		case "/auth/logout":
			want = http.StatusNoContent
		case "/admin/v1/users":
			want = http.StatusForbidden // an Analyst: valid, but not an administrator
		case bearerRoutes[2].path:
			want = http.StatusNotFound
		}
		if r.Status != want {
			t.Errorf("%s %s with a valid token: %d %s, want %d", route.method, route.path, r.Status, r.Body, want)
		}
		if route.path == "/auth/password" {
			e.Must(alicePassword+"\n", "user", "set-password", "alice", "--password-stdin")
		}
	}
}

// Each way a token is voided through this replica's own API is enforced
// by this replica before it answers the request that voided it.
func TestBearerRoutes_RefuseRevokedTokensAtOnceOnTheReplicaThatRevoked(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.WithUser("bob", alicePassword, "Analyst")
	e.WithUser("carol", alicePassword, "Analyst")
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	svc := e.NewService("reporting", "Analyst")
	srv := e.Serve("--refresh-reuse-grace", "0")
	root := srv.Token(t, "root", rootPassword)

	t.Run("logged out", func(t *testing.T) {
		tok := srv.Token(t, "alice", alicePassword)
		r := srv.Do(t, http.MethodPost, "/auth/logout", "", "Authorization", "Bearer "+tok)
		if r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		assertRefusedEverywhere(t, srv, tok, "token revoked")
	})
	t.Run("reused refresh family", func(t *testing.T) {
		stolen := srv.LoginPair(t, "alice", alicePassword)
		srv.MustRefresh(t, stolen.Refresh)
		testkit.AssertError(t, srv.Refresh(t, stolen.Refresh), http.StatusUnauthorized, "invalid_grant")
		assertRefusedEverywhere(t, srv, stolen.Access, "token revoked")
	})
	t.Run("subject revoked", func(t *testing.T) {
		tok := srv.Token(t, "bob", alicePassword)
		body, _ := json.Marshal(map[string]string{"subject": e.UserID("bob")})
		srv.MustAdmin(t, root, http.MethodPost, "/revocations", string(body), http.StatusCreated)
		assertRefusedEverywhere(t, srv, tok, "token revoked")
	})
	t.Run("disabled user", func(t *testing.T) {
		tok := srv.Token(t, "carol", alicePassword)
		srv.MustAdmin(t, root, http.MethodPost, "/users/"+e.UserID("carol")+"/disable", "", http.StatusOK)
		assertRefusedEverywhere(t, srv, tok, "token revoked")
	})
	t.Run("disabled service account", func(t *testing.T) {
		tok := srv.ServiceToken(t, svc)
		if r := srv.Me(t, tok); r.Status != http.StatusOK {
			t.Fatalf("/auth/me with the service token before: %d %s", r.Status, r.Body)
		}
		srv.MustAdmin(t, root, http.MethodPost, "/service-accounts/"+svc.ClientID+"/disable", "", http.StatusOK)
		assertRefusedEverywhere(t, srv, tok, "token revoked")
	})
}

// A token voided through one replica, or by the CLI, is refused by every
// replica within one bundle poll (500 ms; the bound leaves room for a
// loaded machine).
func TestBearerRoutes_RefuseRevokedTokensOnEveryReplicaWithinAPoll(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.WithUser("bob", alicePassword, "Analyst")
	svc := e.NewService("reporting", "Analyst")
	a, b := e.Serve(), e.Serve()

	loggedOut := a.Token(t, "alice", alicePassword)
	if r := a.Do(t, http.MethodPost, "/auth/logout", "", "Authorization", "Bearer "+loggedOut); r.Status != http.StatusNoContent {
		t.Fatalf("logout on a: %d %s", r.Status, r.Body)
	}
	disabled := b.Token(t, "bob", alicePassword)
	service := b.ServiceToken(t, svc)
	e.Must("", "user", "disable", "bob")
	e.Must("", "service", "disable", "reporting")

	for name, tok := range map[string]string{"logged out on the other replica": loggedOut,
		"user disabled by the CLI": disabled, "service account disabled by the CLI": service} {
		for _, srv := range []*testkit.Server{a, b} {
			testkit.Eventually(t, 3*time.Second, name+": every bearer route refuses the token", func() bool {
				return refusedEverywhere(t, srv, tok)
			})
		}
	}
}
