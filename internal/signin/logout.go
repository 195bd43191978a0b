package signin

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/tokens"
)

// Logout voids access, the access token presented, by its jti until it
// expires and, when refresh is set and access is a user's, ends the
// session refresh belongs to. A refresh token that is unknown, another
// user's or already over has no session of the caller's to end: the
// logout still succeeds.
func (s *Service) Logout(ctx context.Context, access tokens.Claims, refresh, ip string) error {
	if err := s.d.Revoker.RevokeAccess(ctx, access, ip, "logout"); err != nil {
		return err
	}
	if refresh == "" || access.Type != tokens.TypeUser {
		return nil
	}
	user, err := uuid.Parse(access.Subject)
	if err != nil {
		return fmt.Errorf("%w: subject is not a user id", tokens.ErrInvalidToken)
	}
	err = s.d.Sessions.EndByToken(ctx, user, refresh, ip)
	if errors.Is(err, tokens.ErrInvalidGrant) || errors.Is(err, tokens.ErrSessionNotFound) {
		return nil
	}
	return err
}

// Revoke is RFC 7009 revocation by the token's holder: raw, when it
// verifies as one of this issuer's access tokens, is voided by its jti
// until it expires; otherwise it is taken for a refresh token and its
// whole session ends. Unknown, expired and already revoked tokens have
// nothing left to revoke, and are no error.
func (s *Service) Revoke(ctx context.Context, raw, ip string) error {
	if claims, err := s.d.Verifier.Verify(raw); err == nil {
		return s.d.Revoker.RevokeAccess(ctx, claims, ip, "revocation")
	}
	err := s.d.Sessions.Revoke(ctx, raw, ip)
	if errors.Is(err, tokens.ErrInvalidGrant) || errors.Is(err, tokens.ErrSessionNotFound) {
		return nil
	}
	return err
}
