package tokens_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/tokens"
)

// memRefreshTx is tokens.RefreshTx over maps, for flows whose interleaving
// a real store only shows now and then.
type memRefreshTx struct {
	families map[uuid.UUID]*tokens.RefreshFamily
	tokens   map[string]*memToken
	// beforeSpend, when set, runs once before the next spend: another
	// rotation getting there first.
	beforeSpend func()
	revoked     []uuid.UUID // subjects whose tokens were revoked
	events      []audit.Event
}

type memToken struct {
	family    uuid.UUID
	spentAt   *time.Time
	successor string
	sealed    []byte
}

func (m *memRefreshTx) RefreshTx(_ context.Context, fn func(tokens.RefreshTx) error) error {
	return fn(m)
}

func (m *memRefreshTx) RefreshState(_ context.Context, hash string) (tokens.RefreshState, error) {
	t, ok := m.tokens[hash]
	if !ok {
		return tokens.RefreshState{}, tokens.ErrInvalidGrant
	}
	st := tokens.RefreshState{Family: *m.families[t.family], SpentAt: t.spentAt, UserActive: true, Successor: t.sealed}
	if n, ok := m.tokens[t.successor]; ok {
		st.SuccessorSpent = n.spentAt != nil
	}
	return st, nil
}

func (m *memRefreshTx) SpendRefreshToken(_ context.Context, hash string, at time.Time, next string, sealed []byte) (bool, error) {
	if m.beforeSpend != nil {
		m.beforeSpend()
		m.beforeSpend = nil
	}
	t := m.tokens[hash]
	if t.spentAt != nil {
		return false, nil
	}
	t.spentAt, t.successor, t.sealed = &at, next, sealed
	return true, nil
}

func (m *memRefreshTx) InsertRefreshFamily(_ context.Context, f tokens.RefreshFamily) error {
	m.families[f.ID] = &f
	return nil
}

func (m *memRefreshTx) InsertRefreshToken(_ context.Context, hash string, family uuid.UUID, _ time.Time) error {
	m.tokens[hash] = &memToken{family: family}
	return nil
}

func (m *memRefreshTx) TouchRefreshFamily(_ context.Context, id uuid.UUID, at time.Time) error {
	m.families[id].LastUsedAt = at
	return nil
}

func (m *memRefreshTx) RevokeRefreshFamily(_ context.Context, user, id uuid.UUID, at time.Time) (bool, error) {
	f, ok := m.families[id]
	if !ok || f.UserID != user || f.RevokedAt != nil {
		return false, nil
	}
	f.RevokedAt = &at
	return true, nil
}

func (m *memRefreshTx) RevokeSubject(_ context.Context, user uuid.UUID, _ time.Time) error {
	m.revoked = append(m.revoked, user)
	return nil
}

func (m *memRefreshTx) Audit(_ context.Context, ev audit.Event) error {
	m.events = append(m.events, ev)
	return nil
}

func (m *memRefreshTx) actions() []string {
	var out []string
	for _, ev := range m.events {
		out = append(out, ev.Action)
	}
	return out
}

// A rotation that loses the spend to a concurrent one judges the token
// the winner left: within the grace it is a retry answered with the
// winner's successor; without a grace it is a reuse.
func TestRotateRefreshToken_LostSpendJudgesWhatTheWinnerLeft(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		grace       time.Duration
		wantErr     error
		wantActions []string
		wantRevoked bool
	}{
		{"within the grace", time.Minute, nil, []string{audit.RefreshFamilyCreated, audit.RefreshTokenRetried}, false},
		{"no grace", 0, tokens.ErrRefreshReused, []string{audit.RefreshFamilyCreated, audit.RefreshTokenReused}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memRefreshTx{families: map[uuid.UUID]*tokens.RefreshFamily{}, tokens: map[string]*memToken{}}
			f := tokens.RefreshFamily{ID: uuid.New(), UserID: uuid.New(), CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := tokens.CreateRefreshFamily(t.Context(), m, f, "t1", audit.Event{Action: audit.RefreshFamilyCreated}); err != nil {
				t.Fatal(err)
			}
			at := t0.Add(time.Second)
			m.beforeSpend = func() {
				m.tokens["t1"].spentAt, m.tokens["t1"].successor, m.tokens["t1"].sealed = &at, "winner", []byte("winner sealed")
				m.tokens["winner"] = &memToken{family: f.ID}
			}
			r := tokens.RefreshRotation{Presented: "t1", Next: "loser", NextSealed: []byte("loser sealed"), At: at, ReuseGrace: tc.grace}
			got, sealed, err := tokens.RotateRefreshToken(t.Context(), m, r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RotateRefreshToken after losing the spend: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && (string(sealed) != "winner sealed" || got.ID != f.ID || !got.LastUsedAt.Equal(at)) {
				t.Errorf("retry = family %v used %v, successor %q; want %v used %v, the winner's successor", got.ID, got.LastUsedAt, sealed, f.ID, at)
			}
			if _, ok := m.tokens["loser"]; ok {
				t.Error("the losing rotation stored its own successor")
			}
			if !slices.Equal(m.actions(), tc.wantActions) {
				t.Errorf("audit actions %v, want %v", m.actions(), tc.wantActions)
			}
			if revoked := m.families[f.ID].RevokedAt != nil; revoked != tc.wantRevoked || (len(m.revoked) == 1) != tc.wantRevoked {
				t.Errorf("family revoked %v, subjects revoked %v; want revoked %v", revoked, m.revoked, tc.wantRevoked)
			}
		})
	}
}

// Ending a family that is not the user's records nothing.
func TestRevokeRefreshFamily_OnlyTheOwnersAndAuditedOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &memRefreshTx{families: map[uuid.UUID]*tokens.RefreshFamily{}, tokens: map[string]*memToken{}}
	f := tokens.RefreshFamily{ID: uuid.New(), UserID: uuid.New(), CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	m.families[f.ID] = &f
	ev := audit.Event{Action: audit.RefreshFamilyRevoked}
	for _, tc := range []struct {
		name string
		user uuid.UUID
		want bool
	}{
		{"another user's", uuid.New(), false},
		{"the owner's", f.UserID, true},
		{"already revoked", f.UserID, false},
	} {
		if ok, err := tokens.RevokeRefreshFamily(t.Context(), m, tc.user, f.ID, t0, ev); ok != tc.want || err != nil {
			t.Errorf("%s: RevokeRefreshFamily = %v, %v; want %v", tc.name, ok, err, tc.want)
		}
	}
	if got := m.actions(); !slices.Equal(got, []string{audit.RefreshFamilyRevoked}) {
		t.Errorf("audit actions %v, want one revocation", got)
	}
}
