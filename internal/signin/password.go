package signin

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/tokens"
)

// PasswordChange is a signed-in user changing their own password.
type PasswordChange struct {
	User    uuid.UUID
	Current string // checked under the login throttle, as a sign-in would be
	New     string // must pass identity's password policy
	// Keep is a refresh token of the session that stays open, the
	// caller's own: an access token does not say which session it came
	// from. "" (or a token that is not a live session of User's) keeps
	// none.
	Keep string
	IP   string
}

// PasswordChanged is what a password change ended.
type PasswordChanged struct {
	SessionsEnded int
	Kept          uuid.UUID // the session kept open; uuid.Nil: none
}

// ChangePassword checks c.Current, sets c.New and ends every other
// session of the user's. A wrong current password is
// identity.ErrInvalidCredentials and counts towards a lock of the
// user's name, as a failed sign-in does; a locked name gets
// *throttle.Throttled before any hashing.
func (s *Service) ChangePassword(ctx context.Context, c PasswordChange) (PasswordChanged, error) {
	user, err := s.d.Users.ByID(ctx, c.User)
	if err != nil {
		return PasswordChanged{}, err
	}
	var out PasswordChanged
	if c.Keep != "" {
		f, err := s.d.Sessions.FamilyOf(ctx, c.User, c.Keep)
		switch {
		case err == nil:
			out.Kept = f.ID
		case !errors.Is(err, tokens.ErrInvalidGrant):
			return PasswordChanged{}, err
		}
	}
	err = s.throttled(ctx, user.Username, c.IP, func() error {
		var err error
		out.SessionsEnded, err = s.d.Users.ChangePassword(ctx, c.User, c.Current, c.New, out.Kept, c.IP)
		return err
	})
	if err != nil {
		return PasswordChanged{}, err
	}
	return out, nil
}
