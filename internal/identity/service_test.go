package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
)

// djangoLetmein is Django 1.11's test_pbkdf2 vector for "lètmein" (30000
// iterations: cheap enough for a unit test).
const djangoLetmein = "pbkdf2_sha256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY="

var cheap = identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestAuthenticate_LegacyHashIsUpgradedAtFirstLogin(t *testing.T) {
	store := newFakeStore(identity.StateActive, djangoLetmein)
	svc := newService(t, store)

	u, err := svc.Authenticate(t.Context(), "alice", "lètmein", "192.0.2.1")
	if err != nil {
		t.Fatalf("login with the Django password: %v", err)
	}
	stored := store.user.PasswordHash
	if !identity.IsArgon2id(stored) || !identity.VerifyPassword("lètmein", stored) || u.PasswordHash != stored {
		t.Fatalf("after the first login the stored hash is %q, want argon2id of the same password", identity.HashAlgorithm(stored))
	}
	if !strings.HasPrefix(stored, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("upgraded hash does not use the service's parameters: %s", stored[:30])
	}
	wantActions(t, store, audit.LoginSucceeded, audit.UserPasswordUpgraded)
	up := store.events[1]
	if up.IP != "192.0.2.1" || up.Details["from"] != "pbkdf2_sha256" || up.Details["to"] != "argon2id" {
		t.Errorf("upgrade event %+v", up)
	}
	for _, ev := range store.events {
		for k, v := range ev.Details {
			if s, _ := v.(string); strings.Contains(s, "seasalt") || strings.Contains(s, "lètmein") || strings.Contains(s, "$") {
				t.Errorf("%s detail %s = %q: no hash or password may be audited", ev.Action, k, s)
			}
		}
	}

	store.events = nil
	if _, err := svc.Authenticate(t.Context(), "alice", "lètmein", "192.0.2.1"); err != nil {
		t.Fatalf("second login, now against argon2id: %v", err)
	}
	if store.user.PasswordHash != stored {
		t.Error("the second login rehashed again")
	}
	wantActions(t, store, audit.LoginSucceeded)
}

func TestAuthenticate_LegacyHashKeptOnFailure(t *testing.T) {
	for name, tc := range map[string]struct {
		state    identity.State
		password string
		reason   string
	}{
		"wrong password":   {identity.StateActive, "lètmeinz", "wrong_password"},
		"disabled account": {identity.StateDisabled, "lètmein", "account_disabled"},
	} {
		t.Run(name, func(t *testing.T) {
			store := newFakeStore(tc.state, djangoLetmein)
			_, err := newService(t, store).Authenticate(t.Context(), "alice", tc.password, "192.0.2.1")
			if !errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("Authenticate = %v, want ErrInvalidCredentials", err)
			}
			if store.user.PasswordHash != djangoLetmein {
				t.Error("the legacy hash was replaced without a successful login")
			}
			wantActions(t, store, audit.LoginFailed)
			if r := store.events[0].Details["reason"]; r != tc.reason {
				t.Errorf("reason %v, want %s", r, tc.reason)
			}
		})
	}
}

func TestAuthenticate_UnusableOrUnsupportedHashNeverLogsIn(t *testing.T) {
	for _, hash := range []string{
		"!Jz8sQ4mFh0dLAy6nG2wXuV1bR3kTe9pCiM5oN7aZ",
		"md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", // Django's test vector of md5("seasalt"+"lètmein")
		"",
	} {
		store := newFakeStore(identity.StateActive, hash)
		_, err := newService(t, store).Authenticate(t.Context(), "alice", "lètmein", "192.0.2.1")
		if !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("hash %s: Authenticate = %v, want ErrInvalidCredentials", identity.HashAlgorithm(hash), err)
		}
		wantActions(t, store, audit.LoginFailed)
		if r := store.events[0].Details["reason"]; r != "unusable_password" {
			t.Errorf("hash %s: reason %v, want unusable_password", identity.HashAlgorithm(hash), r)
		}
	}
}

func newService(t *testing.T, store identity.Store) *identity.Service {
	t.Helper()
	svc, err := identity.NewService(store, cheap, identity.DefaultHashLimits(), func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func wantActions(t *testing.T, s *fakeStore, actions ...string) {
	t.Helper()
	var got []string
	for _, ev := range s.events {
		got = append(got, ev.Action)
	}
	if strings.Join(got, ",") != strings.Join(actions, ",") {
		t.Fatalf("audit actions %q, want %q", got, actions)
	}
}

// fakeStore holds one user, alice, and implements what Authenticate uses;
// any other method panics through the nil embedded interface.
type fakeStore struct {
	identity.Store
	mu     sync.Mutex
	user   identity.User
	events []audit.Event
}

func newFakeStore(state identity.State, hash string) *fakeStore {
	return &fakeStore{user: identity.User{ID: uuid.New(), Username: "alice", PasswordHash: hash, State: state}}
}

func (s *fakeStore) UserByUsernameKey(_ context.Context, key string) (identity.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key != "alice" {
		return identity.User{}, identity.ErrUserNotFound
	}
	return s.user, nil
}

func (s *fakeStore) AppendAudit(_ context.Context, ev audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	return nil
}

func (s *fakeStore) RecordLogin(_ context.Context, _ uuid.UUID, at time.Time, ev audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user.LastLoginAt = &at
	s.events = append(s.events, ev)
	return nil
}

// UserTx runs fn on the one user; a user transaction of Authenticate
// records a login, upgrading its hash.
func (s *fakeStore) UserTx(_ context.Context, fn func(identity.UserTx) error) error {
	return fn(fakeUserTx{s: s})
}

// fakeUserTx is the statements of fakeStore's user transactions that
// Authenticate uses; any other method panics through the nil embedded
// interface.
type fakeUserTx struct {
	identity.UserTx
	s *fakeStore
}

func (tx fakeUserTx) SetLastLogin(_ context.Context, _ uuid.UUID, at time.Time) error {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	tx.s.user.LastLoginAt = &at
	return nil
}

func (tx fakeUserTx) ReplacePasswordHash(_ context.Context, _ uuid.UUID, from, to string, _ time.Time) (bool, error) {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	if tx.s.user.PasswordHash != from {
		return false, nil
	}
	tx.s.user.PasswordHash = to
	return true, nil
}

func (tx fakeUserTx) Audit(ctx context.Context, ev audit.Event) error {
	return tx.s.AppendAudit(ctx, ev)
}
