package signin_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/signin"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

func TestSignIn_IssuesAnAccessTokenWithTheGrantsAndOpensASession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.role(t, "reporter", "reports.read")
		alice := e.user(t, "alice", "reporter")

		tok := e.signIn(t, "Alice") // usernames match case-insensitively
		claims, err := e.verifier.Verify(tok.Access)
		if err != nil {
			t.Fatalf("the access token does not verify: %v", err)
		}
		if claims.Subject != alice.ID.String() || claims.Username != "alice" || claims.Type != tokens.TypeUser ||
			!slices.Equal(claims.Roles, []string{"reporter"}) || !slices.Equal(claims.Permissions, []string{"reports.read"}) {
			t.Errorf("claims = %+v, want alice's, with reporter and reports.read", claims)
		}
		if claims.ID != tok.Claims.ID || tok.ExpiresIn != accessTTL {
			t.Errorf("Tokens: claims %+v, expires in %s; want the access token's claims and %s", tok.Claims, tok.ExpiresIn, accessTTL)
		}
		if tok.Refresh == "" || tok.Session.UserID != alice.ID || !e.activeSessions(t, alice)[tok.Session.ID.String()] {
			t.Errorf("Tokens: refresh %q, session %+v; want a refresh token of a new session of alice's", tok.Refresh, tok.Session)
		}
		if n := len(e.events(t, audit.LoginSucceeded)); n != 1 {
			t.Errorf("%d %s events, want 1", n, audit.LoginSucceeded)
		}
	})
}

func TestSignIn_WrongPasswordIsRecordedAsAFailureThatCountsTowardsALock(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.user(t, "alice")
		for range policy.MaxUserFailures - 1 {
			if _, err := e.SignIn(t.Context(), "alice", "wrong password!", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("SignIn with a wrong password: %v, want ErrInvalidCredentials", err)
			}
		}
		failed := e.events(t, audit.LoginFailed)
		if len(failed) != policy.MaxUserFailures-1 || failed[0].Details["reason"] != "wrong_password" {
			t.Fatalf("failed logins recorded: %+v, want %d for a wrong password", failed, policy.MaxUserFailures-1)
		}

		e.signIn(t, "alice") // a right password forgets the failures
		for range policy.MaxUserFailures - 1 {
			_, _ = e.SignIn(t.Context(), "alice", "wrong password!", ip)
		}
		e.signIn(t, "alice")

		for range policy.MaxUserFailures {
			_, _ = e.SignIn(t.Context(), "alice", "wrong password!", ip)
		}
		var throttled *throttle.Throttled
		if _, err := e.SignIn(t.Context(), "alice", password, ip); !errors.As(err, &throttled) {
			t.Fatalf("SignIn after %d failures in a row: %v, want *throttle.Throttled", policy.MaxUserFailures, err)
		}
		if throttled.RetryAfter != policy.LockBase {
			t.Errorf("RetryAfter = %s, want the first lock's %s", throttled.RetryAfter, policy.LockBase)
		}
	})
}

func TestSignIn_LockedNameIsRefusedBeforeThePasswordCheck_KnownAndUnknownAlike(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.user(t, "alice")
		for _, name := range []string{"alice", "nobody"} {
			for range policy.MaxUserFailures {
				if _, err := e.SignIn(t.Context(), name, "wrong password!", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
					t.Fatalf("SignIn(%s) with a wrong password: %v, want ErrInvalidCredentials", name, err)
				}
			}
		}
		checked := len(e.events(t, "auth.login"))

		var known, unknown *throttle.Throttled
		_, errKnown := e.SignIn(t.Context(), "alice", password, ip)
		_, errUnknown := e.SignIn(t.Context(), "nobody", password, ip)
		if !errors.As(errKnown, &known) || !errors.As(errUnknown, &unknown) {
			t.Fatalf("locked names: %v and %v, want *throttle.Throttled for both", errKnown, errUnknown)
		}
		if *known != *unknown || errKnown.Error() != errUnknown.Error() {
			t.Errorf("an existing name gets %v, an unknown one %v: want the same answer", errKnown, errUnknown)
		}
		// Every password check is audited, so no new login event means the
		// lock answered before a hash was computed.
		if n := len(e.events(t, "auth.login")); n != checked {
			t.Errorf("%d login events after the locked attempts, want %d: the password was checked", n, checked)
		}

		e.clock.Advance(policy.LockBase)
		e.signIn(t, "alice") // the lock is over
	})
}

func TestSignIn_DisabledUserIsRefusedAsAWrongPasswordIs(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.user(t, "alice")
		before := e.signIn(t, "alice")
		if err := e.users.Disable(t.Context(), audit.CLI, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.SignIn(t.Context(), "alice", password, ip); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Errorf("SignIn of a disabled user: %v, want ErrInvalidCredentials", err)
		}
		if failed := e.events(t, audit.LoginFailed); len(failed) != 1 || failed[0].Details["reason"] != "account_disabled" {
			t.Errorf("failed logins recorded: %+v, want one for a disabled account", failed)
		}
		if _, err := e.Refresh(t.Context(), before.Refresh, ip); !errors.Is(err, tokens.ErrInvalidGrant) {
			t.Errorf("Refresh of a disabled user's session: %v, want ErrInvalidGrant", err)
		}
	})
}

func TestRefresh_RotatesTheTokenAndRereadsTheGrants(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.user(t, "alice")
		first := e.signIn(t, "alice")
		e.role(t, "reporter", "reports.read")
		if _, err := e.rbac.AddUserRole(t.Context(), audit.CLI, alice.ID, "reporter"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)

		next, err := e.Refresh(t.Context(), first.Refresh, ip)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if next.Refresh == "" || next.Refresh == first.Refresh || next.Session.ID != first.Session.ID {
			t.Errorf("Refresh gave %q of session %s, want a new token of session %s", next.Refresh, next.Session.ID, first.Session.ID)
		}
		claims, err := e.verifier.Verify(next.Access)
		if err != nil {
			t.Fatalf("the refreshed access token does not verify: %v", err)
		}
		if claims.Subject != alice.ID.String() || !slices.Equal(claims.Permissions, []string{"reports.read"}) {
			t.Errorf("refreshed claims = %+v, want alice's with the permission granted since sign-in", claims)
		}
		if _, err := e.Refresh(t.Context(), next.Refresh, ip); err != nil {
			t.Errorf("Refresh of the successor: %v", err)
		}
	})
}

func TestRefresh_ReusingASpentTokenRevokesTheSession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.user(t, "alice")
		first := e.signIn(t, "alice")
		next, err := e.Refresh(t.Context(), first.Refresh, ip)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Refresh(t.Context(), first.Refresh, ip); !errors.Is(err, tokens.ErrRefreshReused) {
			t.Fatalf("Refresh of a spent token: %v, want ErrRefreshReused", err)
		}
		if _, err := e.Refresh(t.Context(), next.Refresh, ip); !errors.Is(err, tokens.ErrInvalidGrant) {
			t.Errorf("Refresh of the successor after a reuse: %v, want ErrInvalidGrant", err)
		}
		if active := e.activeSessions(t, alice); len(active) != 0 {
			t.Errorf("sessions after a reuse: %v, want none", active)
		}
		if n := len(e.events(t, audit.RefreshTokenReused)); n != 1 {
			t.Errorf("%d %s events, want 1", n, audit.RefreshTokenReused)
		}
	})
}

func TestRefresh_UnknownTokenIsAnInvalidGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		if _, err := e.Refresh(t.Context(), "not-a-token", ip); !errors.Is(err, tokens.ErrInvalidGrant) {
			t.Errorf("Refresh of an unknown token: %v, want ErrInvalidGrant", err)
		}
	})
}

func TestChangePassword_EndsTheOtherSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.user(t, "alice")
		kept, other := e.signIn(t, "alice"), e.signIn(t, "alice")

		changed, err := e.ChangePassword(t.Context(), signin.PasswordChange{
			User: alice.ID, Current: password, New: newPassword, Keep: kept.Refresh, IP: ip})
		if err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if changed != (signin.PasswordChanged{SessionsEnded: 1, Kept: kept.Session.ID}) {
			t.Errorf("ChangePassword = %+v, want one session ended and %s kept", changed, kept.Session.ID)
		}
		if _, err := e.Refresh(t.Context(), other.Refresh, ip); !errors.Is(err, tokens.ErrInvalidGrant) {
			t.Errorf("Refresh of another session after the change: %v, want ErrInvalidGrant", err)
		}
		if _, err := e.Refresh(t.Context(), kept.Refresh, ip); err != nil {
			t.Errorf("Refresh of the kept session: %v", err)
		}
		if _, err := e.SignIn(t.Context(), "alice", password, ip); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Errorf("SignIn with the old password: %v, want ErrInvalidCredentials", err)
		}
		if _, err := e.SignIn(t.Context(), "alice", newPassword, ip); err != nil {
			t.Errorf("SignIn with the new password: %v", err)
		}
	})
}

func TestChangePassword_WithoutAKeptSessionEndsAll(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice, bob := e.user(t, "alice"), e.user(t, "bob")
		e.signIn(t, "alice")
		e.signIn(t, "alice")
		bobs := e.signIn(t, "bob")

		// Another user's refresh token keeps nothing of alice's open.
		changed, err := e.ChangePassword(t.Context(), signin.PasswordChange{
			User: alice.ID, Current: password, New: newPassword, Keep: bobs.Refresh, IP: ip})
		if err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if changed != (signin.PasswordChanged{SessionsEnded: 2, Kept: uuid.Nil}) {
			t.Errorf("ChangePassword = %+v, want both sessions ended and none kept", changed)
		}
		if len(e.activeSessions(t, alice)) != 0 || len(e.activeSessions(t, bob)) != 1 {
			t.Errorf("sessions: alice %v, bob %v; want none of alice's and bob's one", e.activeSessions(t, alice), e.activeSessions(t, bob))
		}
	})
}

func TestChangePassword_WrongCurrentPasswordCountsTowardsALock(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.user(t, "alice")
		session := e.signIn(t, "alice")
		wrong := signin.PasswordChange{User: alice.ID, Current: "wrong password!", New: newPassword, IP: ip}
		for range policy.MaxUserFailures {
			if _, err := e.ChangePassword(t.Context(), wrong); !errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("ChangePassword with a wrong current password: %v, want ErrInvalidCredentials", err)
			}
		}
		right := signin.PasswordChange{User: alice.ID, Current: password, New: newPassword, IP: ip}
		var throttled *throttle.Throttled
		if _, err := e.ChangePassword(t.Context(), right); !errors.As(err, &throttled) {
			t.Fatalf("ChangePassword after %d failures: %v, want *throttle.Throttled", policy.MaxUserFailures, err)
		}
		if _, err := e.SignIn(t.Context(), "alice", password, ip); !errors.As(err, &throttled) {
			t.Errorf("SignIn of the locked name: %v, want *throttle.Throttled", err)
		}

		e.clock.Advance(policy.LockBase)
		e.signIn(t, "alice") // the password is unchanged
		if !e.activeSessions(t, alice)[session.Session.ID.String()] {
			t.Error("a refused change ended a session")
		}
	})
}

func TestChangePassword_NewPasswordMustPassThePolicy(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.user(t, "alice")
		_, err := e.ChangePassword(t.Context(), signin.PasswordChange{User: alice.ID, Current: password, New: "short", IP: ip})
		if !errors.Is(err, identity.ErrInvalidPassword) {
			t.Errorf("ChangePassword to a short password: %v, want ErrInvalidPassword", err)
		}
	})
}

func TestLogout_EndsTheSessionAndRevokesTheAccessToken(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.user(t, "alice")
		tok := e.signIn(t, "alice")
		if err := e.Logout(t.Context(), tok.Claims, tok.Refresh, ip); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		if _, err := e.Refresh(t.Context(), tok.Refresh, ip); !errors.Is(err, tokens.ErrInvalidGrant) {
			t.Errorf("Refresh after logout: %v, want ErrInvalidGrant", err)
		}
		revoked := e.events(t, audit.TokenRevoked)
		if len(revoked) != 1 || revoked[0].Target != "jti:"+tok.Claims.ID || revoked[0].Actor != identity.Target(alice.ID) ||
			revoked[0].IP != ip || revoked[0].Details["reason"] != "logout" {
			t.Errorf("token revocations recorded: %+v, want alice's access token's, for logout", revoked)
		}
		ended := e.events(t, audit.RefreshFamilyRevoked)
		if len(ended) != 1 || ended[0].Target != "session:"+tok.Session.ID.String() {
			t.Errorf("sessions ended: %+v, want the logged-out one", ended)
		}
	})
}

func TestLogout_AnotherUsersRefreshTokenEndsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.user(t, "alice")
		bob := e.user(t, "bob")
		alices, bobs := e.signIn(t, "alice"), e.signIn(t, "bob")
		if err := e.Logout(t.Context(), alices.Claims, bobs.Refresh, ip); err != nil {
			t.Fatalf("Logout naming another user's session: %v, want success", err)
		}
		if !e.activeSessions(t, bob)[bobs.Session.ID.String()] {
			t.Error("alice's logout ended bob's session")
		}
		if err := e.Logout(t.Context(), alices.Claims, "", ip); err != nil {
			t.Errorf("Logout without a refresh token: %v", err)
		}
	})
}

func TestRevoke_EndsARefreshTokensSessionOrVoidsAnAccessToken(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.user(t, "alice")
		tok := e.signIn(t, "alice")
		if err := e.Revoke(t.Context(), tok.Refresh, ip); err != nil {
			t.Fatalf("Revoke of a refresh token: %v", err)
		}
		if len(e.activeSessions(t, alice)) != 0 {
			t.Error("the session outlived the revocation of its refresh token")
		}
		for _, raw := range []string{tok.Refresh, "not-a-token"} {
			if err := e.Revoke(t.Context(), raw, ip); err != nil {
				t.Errorf("Revoke of a token with nothing left to revoke: %v, want success", err)
			}
		}
		if err := e.Revoke(t.Context(), tok.Access, ip); err != nil {
			t.Fatalf("Revoke of an access token: %v", err)
		}
		revoked := e.events(t, audit.TokenRevoked)
		if len(revoked) != 1 || revoked[0].Target != "jti:"+tok.Claims.ID || revoked[0].Details["reason"] != "revocation" {
			t.Errorf("token revocations recorded: %+v, want the access token's, for revocation", revoked)
		}
	})
}

func TestSignInClient_IssuesAServiceTokenWithoutASession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		acct, secret, err := e.clients.Create(t.Context(), audit.CLI, "billing", nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.SignInClient(t.Context(), acct.ID.String(), secret, ip)
		if err != nil {
			t.Fatalf("SignInClient: %v", err)
		}
		if tok.Claims.Type != tokens.TypeService || tok.Claims.Subject != acct.ID.String() || tok.Refresh != "" || tok.ExpiresIn != accessTTL {
			t.Errorf("SignInClient = %+v, want a service token of billing's and no refresh token", tok)
		}
		if _, err := e.SignInClient(t.Context(), acct.ID.String(), "wrong", ip); !errors.Is(err, serviceaccount.ErrInvalidClient) {
			t.Errorf("SignInClient with a wrong secret: %v, want ErrInvalidClient", err)
		}
	})
}
