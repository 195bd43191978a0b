package tokens_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

// memKeyTx is tokens.KeyTx over a slice, oldest key first.
type memKeyTx struct {
	keys   []tokens.StoredKey
	events []audit.Event
}

func (m *memKeyTx) KeyTx(_ context.Context, fn func(tokens.KeyTx) error) error { return fn(m) }

func (m *memKeyTx) NewestSigningKey(context.Context) (tokens.StoredKey, bool, error) {
	if len(m.keys) == 0 {
		return tokens.StoredKey{}, false, nil
	}
	return m.keys[len(m.keys)-1], true, nil
}

func (m *memKeyTx) InsertSigningKey(_ context.Context, k tokens.StoredKey) error {
	m.keys = append(m.keys, k)
	return nil
}

func (m *memKeyTx) RetireSigningKeys(_ context.Context, retireAfter time.Time) ([]string, error) {
	var kids []string
	for i := range m.keys {
		if m.keys[i].RetireAfter.IsZero() {
			m.keys[i].RetireAfter = retireAfter
			kids = append(kids, m.keys[i].ID)
		}
	}
	return kids, nil
}

func (m *memKeyTx) DeleteSigningKeys(context.Context) ([]string, error) {
	var kids []string
	for _, k := range m.keys {
		kids = append(kids, k.ID)
	}
	m.keys = nil
	return kids, nil
}

func (m *memKeyTx) DeleteRetiredSigningKeys(_ context.Context, at time.Time) ([]tokens.StoredKey, error) {
	var pruned []tokens.StoredKey
	m.keys = slices.DeleteFunc(m.keys, func(k tokens.StoredKey) bool {
		retired := !k.RetireAfter.IsZero() && !k.RetireAfter.After(at)
		if retired {
			pruned = append(pruned, k)
		}
		return retired
	})
	return pruned, nil
}

func (m *memKeyTx) Audit(_ context.Context, ev audit.Event) error {
	m.events = append(m.events, ev)
	return nil
}

// The first key is generated once, stored and audited as the system's;
// after that the stored key is returned and nothing is generated.
func TestEnsureSigningKey_StoresTheFirstKeyOnceAndAuditsIt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &memKeyTx{}
	calls := 0
	generate := func() (tokens.StoredKey, error) {
		calls++
		return tokens.StoredKey{ID: "kid-1", CreatedAt: t0, ActivatesAt: t0}, nil
	}
	for range 2 {
		if k, err := tokens.EnsureSigningKey(t.Context(), m, generate); err != nil || k.ID != "kid-1" {
			t.Fatalf("EnsureSigningKey = %q, %v; want kid-1", k.ID, err)
		}
	}
	want := []audit.Event{{At: t0, Actor: "system", Action: audit.SigningKeyCreated, Target: "signing_key:kid-1"}}
	if calls != 1 || len(m.keys) != 1 || !slices.EqualFunc(m.events, want, func(a, b audit.Event) bool {
		return a.At.Equal(b.At) && a.Actor == b.Actor && a.Action == b.Action && a.Target == b.Target && a.Details == nil
	}) {
		t.Errorf("generated %d times, %d keys stored, events %+v; want once, one key, %+v", calls, len(m.keys), m.events, want)
	}
}

// A revoking rotation deletes every key before storing the new one, so
// the new key survives and every old one is audited as revoked.
func TestRotateSigningKey_RevokeOthersKeepsOnlyTheNewKey(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &memKeyTx{keys: []tokens.StoredKey{{ID: "old-1"}, {ID: "old-2"}}}
	r := tokens.Rotation{Key: tokens.StoredKey{ID: "new", CreatedAt: t0, ActivatesAt: t0}, RevokeOthers: true, Actor: "cli"}
	if err := tokens.RotateSigningKey(t.Context(), m, r); err != nil {
		t.Fatal(err)
	}
	if len(m.keys) != 1 || m.keys[0].ID != "new" {
		t.Errorf("keys after a revoking rotation: %+v, want only new", m.keys)
	}
	var got []string
	for _, ev := range m.events {
		got = append(got, ev.Action+" "+ev.Target)
	}
	want := []string{audit.SigningKeyRotated + " signing_key:new", audit.SigningKeyRevoked + " signing_key:old-1", audit.SigningKeyRevoked + " signing_key:old-2"}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}
