package identity

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrOverloaded is returned instead of hashing a password when every
// hashing slot is busy and the wait queue is full, or a slot did not free
// up in time. Callers should answer "try again shortly", never fail hard.
var ErrOverloaded = errors.New("password hashing is at capacity")

// HashLimits bound the memory that password hashing can take: each argon2id
// computation holds Argon2Params.MemoryKiB for its duration.
type HashLimits struct {
	// Slots is how many hashes run at once.
	Slots int
	// Queue is how many callers may wait for a slot beyond those running;
	// the next one is shed with ErrOverloaded at once.
	Queue int
	// MaxWait is the longest a queued caller waits for a slot before it is
	// shed with ErrOverloaded.
	MaxWait time.Duration
}

// DefaultHashLimits sizes hashing to the cores: one slot per GOMAXPROCS
// (a hash is CPU-bound, more slots only add memory), four waiters per slot
// and a wait of at most two seconds.
func DefaultHashLimits() HashLimits {
	n := runtime.GOMAXPROCS(0)
	return HashLimits{Slots: n, Queue: 4 * n, MaxWait: 2 * time.Second}
}

// Validate reports limits that cannot bound anything.
func (l HashLimits) Validate() error {
	switch {
	case l.Slots < 1:
		return fmt.Errorf("hashing slots %d: need at least 1", l.Slots)
	case l.Queue < 0:
		return fmt.Errorf("hashing queue %d: must not be negative", l.Queue)
	case l.MaxWait <= 0:
		return fmt.Errorf("hashing max wait %s: must be positive", l.MaxWait)
	}
	return nil
}

// hashGate admits at most Slots hashes at once and Queue callers waiting
// for one; everyone else is shed.
type hashGate struct {
	// admitted holds a ticket per caller running or waiting: its capacity,
	// Slots+Queue, is the bound on both together.
	admitted chan struct{}
	running  chan struct{}
	maxWait  time.Duration
	shed     atomic.Uint64
}

// HashStats is the hashing gate as operators watch it.
type HashStats struct {
	InUse   int    // slots computing a hash now
	Waiting int    // callers queued for a slot
	Shed    uint64 // callers refused with ErrOverloaded since start
}

// HashStats reads the hashing gate now. The two lengths are read one
// after the other, so under churn they may be a moment apart.
func (s *Service) HashStats() HashStats {
	g := s.hashing
	inUse := len(g.running)
	return HashStats{InUse: inUse, Waiting: max(len(g.admitted)-inUse, 0), Shed: g.shed.Load()}
}

func newHashGate(l HashLimits) *hashGate {
	return &hashGate{
		admitted: make(chan struct{}, l.Slots+l.Queue),
		running:  make(chan struct{}, l.Slots),
		maxWait:  l.MaxWait,
	}
}

// do runs fn in a slot, or returns ErrOverloaded when none is to be had,
// or ctx's error when ctx ends while waiting.
func (g *hashGate) do(ctx context.Context, fn func()) error {
	select {
	case g.admitted <- struct{}{}:
	default:
		g.shed.Add(1)
		return ErrOverloaded
	}
	defer func() { <-g.admitted }()
	wait := time.NewTimer(g.maxWait)
	defer wait.Stop()
	select {
	case g.running <- struct{}{}:
	case <-wait.C:
		g.shed.Add(1)
		return ErrOverloaded
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.running }()
	fn()
	return nil
}
