// Package signin is how a user or a client gets and gives up tokens: it
// walks a sign-in, a refresh, a password change and a logout through the
// throttle, the users, the grants, the sessions and the issuer, so that
// every door (/auth/*, /oauth/token, the console) follows one rule. It
// speaks no HTTP and never writes an audit event or a store row itself:
// the services it calls do, each in the transaction of its change.
package signin

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Deps are the services a sign-in walks through.
type Deps struct {
	Users    *identity.Service
	Grants   *authz.Service
	Clients  *serviceaccount.Service
	Throttle *throttle.Throttle
	Sessions *tokens.Sessions
	Issuer   *tokens.Issuer
	Verifier *tokens.Verifier
	Revoker  *tokens.Revoker
	// Observer hears every password check's and grant's outcome; nil:
	// nobody does.
	Observer Observer
}

// Service signs users and clients in and out.
type Service struct{ d Deps }

// NewService returns the sign-in service over d.
func NewService(d Deps) *Service {
	if d.Observer == nil {
		d.Observer = nobody{}
	}
	return &Service{d: d}
}

// Tokens are what a sign-in or a refresh hands the client.
type Tokens struct {
	Access    string        // the signed access token
	Claims    tokens.Claims // what Access says
	ExpiresIn time.Duration // Access's lifetime
	// Refresh is the session's current refresh token, kept by the server
	// only as a hash; "" for a grant without a session.
	Refresh string
	Session tokens.RefreshFamily // the zero family without a session
}

// SignIn checks username's password from ip and opens a session: an
// access token and the session's first refresh token. The throttle is
// asked first, before any password hashing: a locked account name (known
// or not) or blocked IP gets *throttle.Throttled, the same for both. A
// wrong password, an unknown user and an inactive account are alike
// identity.ErrInvalidCredentials, and count towards the next lock;
// identity.ErrOverloaded sheds a login when hashing is at capacity.
func (s *Service) SignIn(ctx context.Context, username, password, ip string) (t Tokens, err error) {
	defer func() { s.d.Observer.TokenGranted(GrantPassword, OutcomeOf(err)) }()
	user, err := s.Authenticate(ctx, username, password, ip)
	if err != nil {
		return Tokens{}, err
	}
	refresh, session, err := s.d.Sessions.Start(ctx, user.ID, ip)
	if err != nil {
		return Tokens{}, err
	}
	return s.userTokens(ctx, user, refresh, session)
}

// Authenticate is SignIn's password check, under the same throttle, with
// the same errors and the same audit event, opening no session: the
// console keeps its own.
func (s *Service) Authenticate(ctx context.Context, username, password, ip string) (identity.User, error) {
	var user identity.User
	err := s.throttled(ctx, username, ip, func() error {
		var err error
		user, err = s.d.Users.Authenticate(ctx, username, password, ip)
		return err
	})
	s.d.Observer.PasswordChecked(OutcomeOf(err))
	return user, err
}

// Operator signs an access token, without a session, for the user id
// with the grants they hold now; identity.ErrNotActive when the account
// is gone or not active. It is how the console asks the policy what its
// signed-in operator may do, as the admin API asks it of a bearer token:
// the token never leaves the server.
func (s *Service) Operator(ctx context.Context, id uuid.UUID) (Tokens, error) {
	user, err := s.d.Users.Active(ctx, id)
	if err != nil {
		return Tokens{}, err
	}
	return s.userTokens(ctx, user, "", tokens.RefreshFamily{})
}

// SignInClient is the client-credentials grant: a service account's
// access token, with no session. serviceaccount.ErrInvalidClient refuses
// an unknown, disabled or wrongly authenticated client.
func (s *Service) SignInClient(ctx context.Context, clientID, secret, ip string) (t Tokens, err error) {
	defer func() { s.d.Observer.TokenGranted(GrantClientCredentials, OutcomeOf(err)) }()
	acct, grants, err := s.d.Clients.Authenticate(ctx, clientID, secret, ip)
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, tokens.Subject{ID: acct.ID.String(), Username: acct.Name, Type: tokens.TypeService,
		Roles: grants.Roles, Permissions: grants.Permissions}, "", tokens.RefreshFamily{})
}

// Refresh spends a refresh token (rotation, reuse detection and the
// retry grace are tokens.Sessions') and signs a fresh access token for
// the session's user, who must still be active, with the grants they
// hold now. Every refusal is tokens.ErrInvalidGrant; a spent token
// presented again (tokens.ErrRefreshReused) has revoked its session and
// the user's access tokens.
func (s *Service) Refresh(ctx context.Context, raw, ip string) (t Tokens, err error) {
	defer func() { s.d.Observer.TokenGranted(GrantRefreshToken, OutcomeOf(err)) }()
	next, session, err := s.d.Sessions.Rotate(ctx, raw, ip)
	if err != nil {
		return Tokens{}, err
	}
	user, err := s.d.Users.Active(ctx, session.UserID)
	if errors.Is(err, identity.ErrNotActive) {
		return Tokens{}, tokens.ErrInvalidGrant
	}
	if err != nil {
		return Tokens{}, err
	}
	return s.userTokens(ctx, user, next, session)
}

// userTokens signs an access token for user with their grants and pairs
// it with refresh, the refresh token of session.
func (s *Service) userTokens(ctx context.Context, user identity.User, refresh string, session tokens.RefreshFamily) (Tokens, error) {
	grants, err := s.d.Grants.Grants(ctx, user.ID)
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, tokens.Subject{
		ID: user.ID.String(), Username: user.Username, Type: tokens.TypeUser,
		Roles: grants.Roles, Permissions: grants.Permissions,
	}, refresh, session)
}

// tracer starts the signing spans (internal/tracing). It is looked up at
// each span: the provider is installed after package init.
func tracer() trace.Tracer { return otel.Tracer("github.com/gaia-platform/iam/internal/signin") }

// issue signs an access token for sub.
func (s *Service) issue(ctx context.Context, sub tokens.Subject, refresh string, session tokens.RefreshFamily) (Tokens, error) {
	_, span := tracer().Start(ctx, "jwt.sign")
	access, claims, err := s.d.Issuer.Issue(sub)
	span.End()
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{Access: access, Claims: claims, ExpiresIn: s.d.Issuer.TTL(), Refresh: refresh, Session: session}, nil
}

// throttled runs check, a password check of username from ip, under the
// login throttle: a locked account name or blocked IP is refused before
// check and its password hashing, a wrong password
// (identity.ErrInvalidCredentials) counts towards the next lock, and a
// right one forgets the account's failures.
func (s *Service) throttled(ctx context.Context, username, ip string, check func() error) error {
	if err := s.d.Throttle.Check(ctx, username, ip); err != nil {
		return err
	}
	err := check()
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		if ferr := s.d.Throttle.Failed(ctx, username, ip); ferr != nil {
			return ferr
		}
	case err == nil:
		return s.d.Throttle.Succeeded(ctx, username)
	}
	return err
}
