package throttle

import (
	"context"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// TestRecordLoginFailure_ALockStoredConcurrentlyIsNotStoredOrAuditedAgain
// plays the failure that loses the race: it decides to lock, but a
// concurrent failure's lock is stored first.
func TestRecordLoginFailure_ALockStoredConcurrentlyIsNotStoredOrAuditedAgain(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := Policy{MaxUserFailures: 1, MaxIPFailures: 1, Window: time.Minute, LockBase: time.Minute, LockMax: time.Hour}
	tx := &lostRaceTx{}
	locks, err := RecordLoginFailure(t.Context(), lostRaceStore{tx}, Failure{UserKey: "alice", IP: "192.0.2.1", At: t0}, p)
	if err != nil || len(locks) != 0 {
		t.Fatalf("RecordLoginFailure = %+v, %v; want no new lock", locks, err)
	}
	if tx.puts != 2 || len(tx.events) != 0 {
		t.Errorf("%d locks tried and events %+v, want both kinds tried and no event", tx.puts, tx.events)
	}
}

// lostRaceStore runs every throttle transaction on its tx.
type lostRaceStore struct{ tx *lostRaceTx }

func (s lostRaceStore) ThrottleTx(_ context.Context, fn func(Tx) error) error { return fn(s.tx) }

func (lostRaceStore) LoginBlockedUntil(context.Context, string, string, time.Time) (time.Time, error) {
	panic("not used")
}
func (lostRaceStore) Blocks(context.Context, time.Time) ([]Block, error) { panic("not used") }
func (lostRaceStore) RecordLoginFailure(context.Context, Failure, Policy) ([]Block, error) {
	panic("not used")
}
func (lostRaceStore) ClearLoginFailures(context.Context, string) error { panic("not used") }
func (lostRaceStore) Unblock(context.Context, Kind, string, audit.Event) (bool, error) {
	panic("not used")
}

// lostRaceTx has no lock and one failure per subject, and finds every
// lock it is asked to store already stored.
type lostRaceTx struct {
	puts   int
	events []audit.Event
}

func (*lostRaceTx) InsertFailure(context.Context, Failure) error               { return nil }
func (*lostRaceTx) PruneFailures(context.Context, time.Time) error             { return nil }
func (*lostRaceTx) DeleteFailures(context.Context, Kind, string) (bool, error) { return false, nil }
func (*lostRaceTx) Block(context.Context, Kind, string) (*Block, error)        { return nil, nil }
func (*lostRaceTx) DeleteBlock(context.Context, Kind, string) (bool, error)    { return false, nil }
func (*lostRaceTx) EndStreak(context.Context, string) error                    { return nil }
func (*lostRaceTx) CountFailures(context.Context, Kind, string, time.Time) (int, error) {
	return 1, nil
}
func (tx *lostRaceTx) PutBlock(context.Context, Block) (bool, error) { tx.puts++; return false, nil }
func (tx *lostRaceTx) Audit(_ context.Context, ev audit.Event) error {
	tx.events = append(tx.events, ev)
	return nil
}
