package consolesession_test

import (
	"testing"

	"github.com/gaia-platform/iam/internal/consolesession"
)

func TestValidCSRF_OnlyTheSessionsOwnToken(t *testing.T) {
	const a, b = "session-token-a", "session-token-b"
	for _, c := range []struct {
		name             string
		token, presented string
		want             bool
	}{
		{"the session's own CSRF token", a, consolesession.CSRFToken(a), true},
		{"another session's CSRF token", b, consolesession.CSRFToken(a), false},
		{"no CSRF token", a, "", false},
		{"no session token", "", consolesession.CSRFToken(""), false},
		{"the session token itself", a, a, false},
		{"the stored hash", a, consolesession.Hash(a), false},
	} {
		if got := consolesession.ValidCSRF(c.token, c.presented); got != c.want {
			t.Errorf("%s: ValidCSRF = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCSRFToken_SaysNothingOfTheStoredHash(t *testing.T) {
	const token = "session-token"
	if consolesession.CSRFToken(token) == consolesession.Hash(token) {
		t.Error("the CSRF token is the stored hash")
	}
	if consolesession.CSRFToken(token) == token || consolesession.Hash(token) == token {
		t.Error("a derived value is the session token")
	}
}
