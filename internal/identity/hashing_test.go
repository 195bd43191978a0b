package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/identity"
)

func TestAuthenticate_AtCapacityShedsKnownAndUnknownUsersAlike(t *testing.T) {
	svc, store := limitedService(t, identity.HashLimits{Slots: 2, Queue: 0, MaxWait: time.Minute})
	release := identity.HoldHashSlots(svc, 2)
	for _, c := range []struct{ username, password string }{
		{"alice", "correct horse battery"}, {"alice", "wrong"}, {"nobody", "wrong"},
	} {
		if _, err := svc.Authenticate(t.Context(), c.username, c.password, "192.0.2.1"); !errors.Is(err, identity.ErrOverloaded) {
			t.Errorf("%s/%s with every slot busy and no queue: %v, want ErrOverloaded", c.username, c.password, err)
		}
	}
	if _, err := svc.Create(t.Context(), "test", "bob", "another long password", nil); !errors.Is(err, identity.ErrOverloaded) {
		t.Errorf("Create with every slot busy: %v, want ErrOverloaded", err)
	}
	wantActions(t, store)
	release()
	if _, err := svc.Authenticate(t.Context(), "alice", "correct horse battery", "192.0.2.1"); err != nil {
		t.Fatalf("login once the slots are free: %v", err)
	}
}

func TestAuthenticate_QueuedLoginWaitsForASlot(t *testing.T) {
	svc, _ := limitedService(t, identity.HashLimits{Slots: 1, Queue: 1, MaxWait: time.Minute})
	release := identity.HoldHashSlots(svc, 1)
	done := make(chan error, 1)
	go func() {
		_, err := svc.Authenticate(context.Background(), "alice", "correct horse battery", "192.0.2.1")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("queued login returned before a slot was free: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("queued login once a slot is free: %v", err)
	}
}

func TestAuthenticate_QueuedLoginIsShedAfterMaxWait(t *testing.T) {
	svc, store := limitedService(t, identity.HashLimits{Slots: 1, Queue: 1, MaxWait: 50 * time.Millisecond})
	defer identity.HoldHashSlots(svc, 1)()
	start := time.Now()
	_, err := svc.Authenticate(t.Context(), "alice", "correct horse battery", "192.0.2.1")
	if !errors.Is(err, identity.ErrOverloaded) {
		t.Fatalf("login queued past MaxWait: %v, want ErrOverloaded", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("shed after %v, before MaxWait", waited)
	}
	wantActions(t, store)
}

func TestHashLimits_Validate(t *testing.T) {
	for _, c := range []struct {
		limits identity.HashLimits
		ok     bool
	}{
		{identity.DefaultHashLimits(), true},
		{identity.HashLimits{Slots: 1, Queue: 0, MaxWait: time.Second}, true},
		{identity.HashLimits{Slots: 0, Queue: 4, MaxWait: time.Second}, false},
		{identity.HashLimits{Slots: 1, Queue: -1, MaxWait: time.Second}, false},
		{identity.HashLimits{Slots: 1, Queue: 4, MaxWait: 0}, false},
	} {
		if err := c.limits.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", c.limits, err, c.ok)
		}
	}
}

// limitedService is a service hashing within limits, with alice, whose
// password is "correct horse battery".
func limitedService(t *testing.T, limits identity.HashLimits) (*identity.Service, *fakeStore) {
	t.Helper()
	hash, err := identity.HashPassword("correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	store := newFakeStore(identity.StateActive, hash)
	svc, err := identity.NewService(store, cheap, limits, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}
