package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/gaia-platform/iam/internal/audit"
)

// Service manages users and checks passwords.
type Service struct {
	store  Store
	params Argon2Params
	now    func() time.Time
	// dummyHash is verified when no real hash is, so that an unknown
	// username costs the same time as a wrong password.
	dummyHash string
	// hashing bounds concurrent password hashes, each of which holds
	// params.MemoryKiB of memory: a login flood queues briefly, then is
	// shed, instead of exhausting the server's memory.
	hashing *hashGate
}

// NewService returns a Service hashing new passwords with params, at most
// as many at once as limits allow.
func NewService(store Store, params Argon2Params, limits HashLimits, now func() time.Time) (*Service, error) {
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	dummy, err := HashPassword("gaia-dummy-password", params)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, params: params, now: now, dummyHash: dummy, hashing: newHashGate(limits)}, nil
}

// Create makes a new active user with the given roles. An empty password
// creates a user who cannot log in until a password is set.
func (s *Service) Create(ctx context.Context, actor, username, password string, roles []string) (User, error) {
	display, _ := NormalizeUsername(username)
	if err := ValidateUsername(display); err != nil {
		return User{}, err
	}
	var hash string
	if password != "" {
		if err := ValidatePassword(display, password); err != nil {
			return User{}, err
		}
		var err error
		if hash, err = s.hash(ctx, password); err != nil {
			return User{}, err
		}
	}
	now := s.now().UTC()
	u := User{ID: uuid.New(), Username: display, PasswordHash: hash, State: StateActive, CreatedAt: now, UpdatedAt: now}
	ev := audit.Event{At: now, Actor: actor, Action: audit.UserCreated, Target: Target(u.ID),
		Details: map[string]any{"username": display, "roles": nonNil(roles)}}
	if err := CreateUser(ctx, s.store, u, roles, ev); err != nil {
		return User{}, err
	}
	return u, nil
}

// Authenticate checks a username and password. Unknown users, wrong
// passwords, unusable hashes and inactive accounts all return
// ErrInvalidCredentials after hashing work (the same as for an unknown user
// when the stored hash cannot verify anything); every attempt is audited
// with the client IP. A legacy hash that verifies is replaced by argon2id
// in the transaction that records the login. When hashing is at capacity
// it returns ErrOverloaded, unaudited, for known and unknown usernames
// alike: the dummy hash waits for the same slots as a real one.
func (s *Service) Authenticate(ctx context.Context, username, password, ip string) (User, error) {
	display, key := NormalizeUsername(username)
	u, err := User{}, ErrUserNotFound
	// No account has a name that fails validation, such as one with a NUL
	// byte, which PostgreSQL text cannot even hold: it is unknown without
	// asking the store.
	if ValidateUsername(display) == nil {
		u, err = s.store.UserByUsernameKey(ctx, key)
	}
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		return User{}, err
	}
	found := err == nil
	usable := found && CheckHash(u.PasswordHash) == nil
	hash := s.dummyHash
	if usable {
		hash = u.PasswordHash
	}
	verified, err := s.verify(ctx, password, hash)
	if err != nil {
		return User{}, err
	}
	match := verified && usable

	now := s.now().UTC()
	reason := ""
	switch {
	case !found:
		reason = "unknown_user"
	case !usable:
		reason = "unusable_password"
	case !match:
		reason = "wrong_password"
	case u.State != StateActive:
		reason = "account_" + string(u.State)
	}
	if reason != "" {
		ev := audit.Event{At: now, Actor: "anonymous", Action: audit.LoginFailed, IP: ip,
			Details: map[string]any{"username": audit.Recordable(display, MaxUsernameLen), "reason": reason}}
		if found {
			ev.Target = Target(u.ID)
		}
		if err := s.store.AppendAudit(ctx, ev); err != nil {
			return User{}, err
		}
		return User{}, ErrInvalidCredentials
	}
	login := audit.Event{At: now, Actor: Target(u.ID), Action: audit.LoginSucceeded, Target: Target(u.ID), IP: ip,
		Details: map[string]any{"username": u.Username}}
	if IsArgon2id(u.PasswordHash) {
		err = s.store.RecordLogin(ctx, u.ID, now, login)
	} else {
		err = s.upgrade(ctx, &u, password, now, login)
	}
	if err != nil {
		return User{}, err
	}
	u.LastLoginAt = &now
	return u, nil
}

// upgrade records a login with a legacy hash, replacing the hash with an
// argon2id one of the password that just verified.
func (s *Service) upgrade(ctx context.Context, u *User, password string, now time.Time, login audit.Event) error {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	upgraded := audit.Event{At: now, Actor: Target(u.ID), Action: audit.UserPasswordUpgraded, Target: Target(u.ID), IP: login.IP,
		Details: map[string]any{"username": u.Username, "from": HashAlgorithm(u.PasswordHash), "to": "argon2id"}}
	replaced, err := RecordLoginUpgradingHash(ctx, s.store, u.ID, now, u.PasswordHash, hash, login, upgraded)
	if err != nil {
		return err
	}
	if replaced {
		u.PasswordHash, u.UpdatedAt = hash, now
	}
	return nil
}

// hash computes a new argon2id hash in a hashing slot, or returns
// ErrOverloaded.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	ctx, span := tracer().Start(ctx, "argon2id.hash")
	defer span.End()
	var hash string
	var err error
	if gateErr := s.hashing.do(ctx, func() { hash, err = HashPassword(password, s.params) }); gateErr != nil {
		return "", gateErr
	}
	return hash, err
}

// verify checks a password in a hashing slot, or returns ErrOverloaded.
// Its span includes the wait for the slot.
func (s *Service) verify(ctx context.Context, password, hash string) (bool, error) {
	ctx, span := tracer().Start(ctx, "argon2id.verify")
	defer span.End()
	var ok bool
	err := s.hashing.do(ctx, func() { ok = VerifyPassword(password, hash) })
	return ok, err
}

// tracer starts the password-hashing spans (internal/tracing). It is
// looked up at each span: the provider is installed after package init.
func tracer() trace.Tracer { return otel.Tracer("github.com/gaia-platform/iam/internal/identity") }

// Lookup finds a user by username, case-insensitively.
func (s *Service) Lookup(ctx context.Context, username string) (User, error) {
	display, key := NormalizeUsername(username)
	u, err := s.store.UserByUsernameKey(ctx, key)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, fmt.Errorf("%w: %q", ErrUserNotFound, display)
	}
	return u, err
}

// ByID finds a user by id.
func (s *Service) ByID(ctx context.Context, id uuid.UUID) (User, error) {
	return s.store.UserByID(ctx, id)
}

// Active returns user id while the account may still act on a token it
// holds: ErrNotActive when it no longer exists or is not active.
func (s *Service) Active(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, ErrUserNotFound) || (err == nil && u.State != StateActive) {
		return User{}, ErrNotActive
	}
	return u, err
}

// List returns every user, ordered by username.
func (s *Service) List(ctx context.Context) ([]User, error) {
	return s.store.Users(ctx)
}

// Page lists up to limit users whose username contains search (both
// case-insensitively), ordered by username, after the one whose
// username is after (the previous page's last; "" for the first page).
func (s *Service) Page(ctx context.Context, search, after string, limit int) ([]User, error) {
	_, searchKey := NormalizeUsername(search)
	_, afterKey := NormalizeUsername(after)
	return s.store.UserPage(ctx, UserQuery{Search: searchKey, After: afterKey, Limit: limit})
}

// Disable stops a user from logging in and voids the user's tokens.
// Disabling a disabled user is a no-op.
func (s *Service) Disable(ctx context.Context, actor, username string) error {
	return s.setState(ctx, actor, username, StateDisabled, audit.UserDisabled)
}

// Enable lets a disabled or locked user log in again; tokens voided
// meanwhile stay void. Enabling an active user is a no-op.
func (s *Service) Enable(ctx context.Context, actor, username string) error {
	return s.setState(ctx, actor, username, StateActive, audit.UserEnabled)
}

func (s *Service) setState(ctx context.Context, actor, username string, state State, action string) error {
	u, err := s.Lookup(ctx, username)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ev := audit.Event{At: now, Actor: actor, Action: action, Target: Target(u.ID),
		Details: map[string]any{"username": u.Username, "previous_state": string(u.State)}}
	_, err = SetUserState(ctx, s.store, u.ID, state, now, ev)
	return err
}

// Actor is the actor as audit events record it that a filter names: a
// username becomes its user's Target; anything else, such as "cli:root"
// or an unknown username, is taken as recorded.
func (s *Service) Actor(ctx context.Context, name string) (string, error) {
	if name == "" || strings.Contains(name, ":") {
		return name, nil
	}
	u, err := s.Lookup(ctx, name)
	if errors.Is(err, ErrUserNotFound) {
		return name, nil
	}
	if err != nil {
		return "", err
	}
	return Target(u.ID), nil
}

// SetPassword replaces a user's password.
func (s *Service) SetPassword(ctx context.Context, actor, username, password string) error {
	u, err := s.Lookup(ctx, username)
	if err != nil {
		return err
	}
	if err := ValidatePassword(u.Username, password); err != nil {
		return err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ev := audit.Event{At: now, Actor: actor, Action: audit.UserPasswordSet, Target: Target(u.ID),
		Details: map[string]any{"username": u.Username}}
	return SetPasswordHash(ctx, s.store, u.ID, hash, now, ev)
}

// ChangePassword is a user changing their own password: current must be
// their password (else ErrInvalidCredentials, audited as a failed login),
// next must pass the policy. Every other session of theirs ends: all but
// keep (uuid.Nil: none kept). It returns how many ended.
func (s *Service) ChangePassword(ctx context.Context, id uuid.UUID, current, next string, keep uuid.UUID, ip string) (int, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := ValidatePassword(u.Username, next); err != nil {
		return 0, err
	}
	usable := u.State == StateActive && CheckHash(u.PasswordHash) == nil
	hash := s.dummyHash
	if usable {
		hash = u.PasswordHash
	}
	ok, err := s.verify(ctx, current, hash)
	if err != nil {
		return 0, err
	}
	now := s.now().UTC()
	if !ok || !usable {
		ev := audit.Event{At: now, Actor: Target(u.ID), Action: audit.LoginFailed, Target: Target(u.ID), IP: ip,
			Details: map[string]any{"username": u.Username, "reason": "password_change_wrong_password"}}
		if err := s.store.AppendAudit(ctx, ev); err != nil {
			return 0, err
		}
		return 0, ErrInvalidCredentials
	}
	newHash, err := s.hash(ctx, next)
	if err != nil {
		return 0, err
	}
	ev := audit.Event{At: now, Actor: Target(u.ID), Action: audit.UserPasswordChanged, Target: Target(u.ID), IP: ip,
		Details: map[string]any{"username": u.Username}}
	return changePassword(ctx, s.store, u.ID, newHash, now, keep, ev)
}

// Target names a user in audit events and actor fields.
func Target(id uuid.UUID) string { return "user:" + id.String() }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
