package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
)

// Service manages service accounts and authenticates them as OAuth2
// clients.
type Service struct {
	store  Store
	hasher hasher
	now    func() time.Time
}

// NewService returns a Service hashing client secrets with pepper.
func NewService(store Store, pepper []byte, now func() time.Time) *Service {
	return &Service{store: store, hasher: newHasher(pepper), now: now}
}

// Create makes an active service account with roles (stored names) and
// returns it with its client secret, which exists nowhere else.
func (s *Service) Create(ctx context.Context, actor, name string, roles []string) (Account, string, error) {
	if err := ValidateName(name); err != nil {
		return Account{}, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return Account{}, "", err
	}
	now := s.now().UTC()
	a := Account{ID: uuid.New(), Name: name, SecretHash: s.hasher.hash(secret), State: StateActive, CreatedAt: now, UpdatedAt: now}
	ev := audit.Event{At: now, Actor: actor, Action: audit.ServiceAccountCreated, Target: Target(a.ID),
		Details: map[string]any{"name": name, "roles": nonNil(roles)}}
	if err := CreateServiceAccount(ctx, s.store, a, roles, ev); err != nil {
		return Account{}, "", err
	}
	a.Roles = roles
	return a, secret, nil
}

// RotateSecret gives an account a new client secret and returns it; the
// old one stops working at once.
func (s *Service) RotateSecret(ctx context.Context, actor, name string) (Account, string, error) {
	a, err := s.Lookup(ctx, name)
	if err != nil {
		return Account{}, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return Account{}, "", err
	}
	now := s.now().UTC()
	ev := audit.Event{At: now, Actor: actor, Action: audit.ServiceAccountSecretRotated, Target: Target(a.ID),
		Details: map[string]any{"name": a.Name}}
	if err := SetServiceAccountSecret(ctx, s.store, a.ID, s.hasher.hash(secret), now, ev); err != nil {
		return Account{}, "", err
	}
	return a, secret, nil
}

// Disable stops an account from getting tokens and voids those it has.
// Disabling a disabled account changes nothing and reports false.
func (s *Service) Disable(ctx context.Context, actor, name string) (bool, error) {
	a, err := s.Lookup(ctx, name)
	if err != nil {
		return false, err
	}
	now := s.now().UTC()
	ev := audit.Event{At: now, Actor: actor, Action: audit.ServiceAccountDisabled, Target: Target(a.ID),
		Details: map[string]any{"name": a.Name, "previous_state": string(a.State)}}
	return DisableServiceAccount(ctx, s.store, a.ID, now, ev)
}

// Lookup finds an account by name.
func (s *Service) Lookup(ctx context.Context, name string) (Account, error) {
	a, err := s.store.ServiceAccountByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return Account{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return a, err
}

// ByID finds an account by id (its client id).
func (s *Service) ByID(ctx context.Context, id uuid.UUID) (Account, error) {
	return s.store.ServiceAccountByID(ctx, id)
}

// List returns every account, ordered by name, with its roles.
func (s *Service) List(ctx context.Context) ([]Account, error) {
	return s.store.ServiceAccounts(ctx)
}

// Authenticate checks a client id and secret and returns the account with
// its grants. Unknown clients, wrong secrets and disabled accounts all
// return ErrInvalidClient; every attempt is audited with the client IP.
func (s *Service) Authenticate(ctx context.Context, clientID, secret, ip string) (Account, authz.Grants, error) {
	a, reason, err := s.check(ctx, clientID, secret)
	if err != nil {
		return Account{}, authz.Grants{}, err
	}
	now := s.now().UTC()
	if reason != "" {
		ev := audit.Event{At: now, Actor: "anonymous", Action: audit.ClientAuthFailed, IP: ip,
			Details: map[string]any{"client_id": audit.Recordable(clientID, 64), "reason": reason}}
		if a.ID != uuid.Nil {
			ev.Target = Target(a.ID)
		}
		if err := s.store.AppendAudit(ctx, ev); err != nil {
			return Account{}, authz.Grants{}, err
		}
		return Account{}, authz.Grants{}, ErrInvalidClient
	}
	g, err := s.store.ServiceAccountGrants(ctx, a.ID)
	if err != nil {
		return Account{}, authz.Grants{}, err
	}
	ev := audit.Event{At: now, Actor: Target(a.ID), Action: audit.ClientAuthSucceeded, Target: Target(a.ID), IP: ip,
		Details: map[string]any{"name": a.Name}}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return Account{}, authz.Grants{}, err
	}
	a.Roles = g.Roles
	return a, g, nil
}

// check finds the account and says why it may not authenticate, if so.
func (s *Service) check(ctx context.Context, clientID, secret string) (Account, string, error) {
	id, err := uuid.Parse(clientID)
	if err != nil {
		return Account{}, "unknown_client", nil
	}
	a, err := s.store.ServiceAccountByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Account{}, "unknown_client", nil
	}
	if err != nil {
		return Account{}, "", err
	}
	match, otherPepper := s.hasher.verify(secret, a.SecretHash)
	switch {
	case otherPepper:
		// The secret was hashed under another IAM_CLIENT_SECRET_PEPPER:
		// the server and the CLI disagree on it.
		return a, "secret_hashed_with_another_pepper", nil
	case !match:
		return a, "wrong_secret", nil
	case a.State != StateActive:
		return a, "account_" + string(a.State), nil
	}
	return a, "", nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
