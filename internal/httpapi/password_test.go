package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

const newAlicePassword = "a brand new passphrase"

func changePassword(t *testing.T, srv *testkit.Server, access string, fields map[string]string) testkit.Response {
	t.Helper()
	body, _ := json.Marshal(fields)
	return srv.Do(t, http.MethodPost, "/auth/password", string(body), "Content-Type", "application/json", "Authorization", "Bearer "+access)
}

// twoSessions serves an installation where alice has logged in twice.
func twoSessions(t *testing.T) (e *testkit.IAM, srv *testkit.Server, mine, other testkit.Pair) {
	t.Helper()
	e = testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv = e.Serve()
	return e, srv, srv.LoginPair(t, "alice", alicePassword), srv.LoginPair(t, "alice", alicePassword)
}

func TestPasswordChange_KeepsTheCallersSessionAndEndsTheOthers(t *testing.T) {
	t.Parallel()
	e, srv, mine, other := twoSessions(t)

	r := changePassword(t, srv, mine.Access, map[string]string{
		"current_password": alicePassword, "new_password": newAlicePassword, "refresh_token": mine.Refresh})
	if r.Status != http.StatusOK {
		t.Fatalf("POST /auth/password: %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	if body["sessions_revoked"] != 1.0 || body["kept_session"] == nil {
		t.Fatalf("answer %s, want one session revoked and the caller's kept", r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	testkit.AssertError(t, srv.Refresh(t, other.Refresh), http.StatusUnauthorized, "invalid_grant")
	srv.MustRefresh(t, mine.Refresh)
	testkit.AssertError(t, srv.Login(t, "alice", alicePassword), http.StatusUnauthorized, "invalid_credentials")
	srv.Token(t, "alice", newAlicePassword)

	changed := e.AuditEvents("user.password.changed")
	if len(changed) != 1 {
		t.Fatalf("user.password.changed events %v, want 1", changed)
	}
	if d, _ := changed[0]["details"].(map[string]any); d["sessions_revoked"] != 1.0 {
		t.Errorf("event details %v, want sessions_revoked 1", changed[0]["details"])
	}
}

func TestPasswordChange_WithoutARefreshTokenEndsEverySession(t *testing.T) {
	t.Parallel()
	_, srv, mine, other := twoSessions(t)
	r := changePassword(t, srv, mine.Access, map[string]string{"current_password": alicePassword, "new_password": newAlicePassword})
	if body := r.JSON(t); r.Status != http.StatusOK || body["sessions_revoked"] != 2.0 || body["kept_session"] != nil {
		t.Fatalf("POST /auth/password: %d %s, want both sessions revoked", r.Status, r.Body)
	}
	for _, p := range []testkit.Pair{mine, other} {
		testkit.AssertError(t, srv.Refresh(t, p.Refresh), http.StatusUnauthorized, "invalid_grant")
	}
}

func TestPasswordChange_Refusals(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Clock = testkit.NewClock()
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve()
	access := srv.Token(t, "alice", alicePassword)
	for _, tc := range []struct {
		fields map[string]string
		status int
		code   string
	}{
		{map[string]string{"current_password": alicePassword}, http.StatusBadRequest, "invalid_request"},
		{map[string]string{"current_password": alicePassword, "new_password": "too short"}, http.StatusBadRequest, "invalid_request"},
		{map[string]string{"current_password": alicePassword, "new_password": "alice's new password"}, http.StatusBadRequest, "invalid_request"},
		{map[string]string{"current_password": alicePassword, "new_password": "1qaz2wsx3edc4rfv"}, http.StatusBadRequest, "invalid_request"},
	} {
		testkit.AssertError(t, changePassword(t, srv, access, tc.fields), tc.status, tc.code)
	}
	testkit.AssertError(t, changePassword(t, srv, "not-a-token", map[string]string{}), http.StatusUnauthorized, "invalid_token")

	// A wrong current password counts like a failed login: the fifth
	// locks the account, for logins too.
	wrong := map[string]string{"current_password": "not the password!", "new_password": newAlicePassword}
	for range 5 {
		testkit.AssertError(t, changePassword(t, srv, access, wrong), http.StatusForbidden, "invalid_credentials")
	}
	right := map[string]string{"current_password": alicePassword, "new_password": newAlicePassword}
	testkit.AssertThrottled(t, changePassword(t, srv, access, right), time.Minute)
	testkit.AssertThrottled(t, srv.Login(t, "alice", alicePassword), time.Minute)
	e.Clock.Advance(time.Minute)
	if r := changePassword(t, srv, access, right); r.Status != http.StatusOK {
		t.Fatalf("after the lock: %d %s", r.Status, r.Body)
	}
}

func TestPasswordChange_ServiceTokenIsForbidden(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	c := e.NewService("reporter", "Viewer")
	srv := e.Serve()
	r := postToken(t, srv, form("grant_type", "client_credentials"), "Authorization", basic(c.ClientID, c.ClientSecret))
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
	access := r.JSON(t)["access_token"].(string)
	testkit.AssertError(t, changePassword(t, srv, access, map[string]string{"current_password": "x", "new_password": newAlicePassword}),
		http.StatusForbidden, "forbidden")
}
