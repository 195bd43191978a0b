// Package throttle defends the password paths: it counts failed logins
// per account name and per client IP and locks either, with back-off. It
// never sees or stores a password.
package throttle

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
)

// Kind is what a lock applies to.
type Kind string

// Lock kinds.
const (
	KindUser Kind = "user" // an account name, whether or not the account exists
	KindIP   Kind = "ip"   // a client IP
)

// Policy is when failed logins lock an account name or a client IP, and
// for how long.
type Policy struct {
	MaxUserFailures int           // failures of one account name within Window that lock it
	MaxIPFailures   int           // failures from one IP within Window that block it
	Window          time.Duration // the sliding window failures are counted in
	LockBase        time.Duration // the first lock's length
	LockMax         time.Duration // the cap of the doubling
}

// DefaultPolicy is 5 failures per account and 50 per IP in 15 minutes; a
// lock lasts 1 minute, doubling with each successive lock up to 1 hour.
var DefaultPolicy = Policy{MaxUserFailures: 5, MaxIPFailures: 50, Window: 15 * time.Minute,
	LockBase: time.Minute, LockMax: time.Hour}

// StreakMemory is how long after a lock ends the next one still counts as
// successive and lasts twice as long.
const StreakMemory = 24 * time.Hour

// Block is a lock on an account name or a client IP.
type Block struct {
	Kind    Kind
	Subject string    // the username's lookup key, or the IP
	Since   time.Time // the lock's start; earlier failures no longer count
	Until   time.Time
	Streak  int // successive locks, this one included; 0 after a successful login
}

// Failure is one failed password check.
type Failure struct {
	UserKey string // the account name as userKey stores it
	IP      string
	At      time.Time
}

// Subject is the subject f counts against for kind.
func (f Failure) Subject(k Kind) string {
	if k == KindIP {
		return f.IP
	}
	return f.UserKey
}

// Max is the number of failures within the window that locks a subject
// of kind k.
func (p Policy) Max(k Kind) int {
	if k == KindIP {
		return p.MaxIPFailures
	}
	return p.MaxUserFailures
}

// CountFrom is when failures start counting towards the next lock of a
// subject whose latest lock is prev (nil: none).
func (p Policy) CountFrom(prev *Block, at time.Time) time.Time {
	from := at.Add(-p.Window)
	if prev != nil && prev.Since.After(from) {
		from = prev.Since
	}
	return from
}

// Lock decides whether failures (counted from CountFrom, the new one
// included) lock the subject of kind k at at, and if so the lock. A subject
// still locked is not locked again; a limit of 0 (the zero Policy) never
// locks. RecordLoginFailure calls it inside the failure's transaction.
func (p Policy) Lock(k Kind, subject string, failures int, prev *Block, at time.Time) (Block, bool) {
	if p.Max(k) <= 0 || failures < p.Max(k) || (prev != nil && prev.Until.After(at)) {
		return Block{}, false
	}
	streak := 1
	if prev != nil && at.Sub(prev.Until) < StreakMemory {
		streak = prev.Streak + 1
	}
	return Block{Kind: k, Subject: subject, Since: at, Until: at.Add(p.lockLength(streak)), Streak: streak}, true
}

// lockLength is LockBase doubled for each earlier lock of the streak,
// capped at LockMax.
func (p Policy) lockLength(streak int) time.Duration {
	d := p.LockBase
	for i := 1; i < streak && d < p.LockMax; i++ {
		if d > math.MaxInt64/2 {
			return p.LockMax
		}
		d *= 2
	}
	return min(d, p.LockMax)
}

// Event is the audit event of the new lock b, brought on by a failure
// from ip.
func (b Block) Event(ip string) audit.Event {
	action, target := audit.LoginLocked, "username:"+b.Subject
	if b.Kind == KindIP {
		action, target = audit.IPBlocked, "ip:"+b.Subject
	}
	return audit.Event{At: b.Since, Actor: "anonymous", Action: action, Target: target, IP: ip,
		Details: map[string]any{"until": b.Until.UTC().Format(time.RFC3339), "streak": b.Streak,
			"seconds": int64(b.Until.Sub(b.Since) / time.Second)}}
}

// Store keeps failures and locks. Both stores implement it.
type Store interface {
	// LoginBlockedUntil is the latest end of a lock, active at at, on the
	// account name userKey or the client IP ip; zero when neither is locked.
	LoginBlockedUntil(ctx context.Context, userKey, ip string, at time.Time) (time.Time, error)
	// Blocks lists the locks active at at, the soonest to end first.
	Blocks(ctx context.Context, at time.Time) ([]Block, error)
	// ThrottleTx runs fn in one write transaction, committing if it
	// returns nil, else rolling back and returning fn's error.
	ThrottleTx(ctx context.Context, fn func(Tx) error) error
}

// Throttled is the answer to a login attempt on a locked account name or
// from a blocked IP. It says which of the two on purpose never.
type Throttled struct{ RetryAfter time.Duration }

func (t *Throttled) Error() string {
	return fmt.Sprintf("too many failed logins: try again in %s", t.RetryAfter)
}

// Throttle applies a Policy to login attempts.
type Throttle struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// NewThrottle returns a Throttle over store.
func NewThrottle(store Store, policy Policy, now func() time.Time) *Throttle {
	return &Throttle{store: store, policy: policy, now: now}
}

// Check returns *Throttled when username or ip is locked. It costs one
// query and no password hashing.
func (t *Throttle) Check(ctx context.Context, username, ip string) error {
	key := userKey(username)
	now := t.now().UTC()
	until, err := t.store.LoginBlockedUntil(ctx, key, ip, now)
	if err != nil || until.IsZero() {
		return err
	}
	// Whole seconds, rounded up: Retry-After is in seconds, and a client
	// that waits it must find the lock over.
	return &Throttled{RetryAfter: (until.Sub(now) + time.Second - 1).Truncate(time.Second)}
}

// Failed records a failed password check of username from ip.
func (t *Throttle) Failed(ctx context.Context, username, ip string) error {
	key := userKey(username)
	_, err := RecordLoginFailure(ctx, t.store, Failure{UserKey: key, IP: ip, At: t.now().UTC()}, t.policy)
	return err
}

// Succeeded forgets username's failures after a successful login.
func (t *Throttle) Succeeded(ctx context.Context, username string) error {
	return ClearLoginFailures(ctx, t.store, userKey(username))
}

// Unblock ends the lock on an account name (KindUser, any spelling of the
// username) or a client IP, as actor. It reports whether there was a lock
// or failures to forget.
func (t *Throttle) Unblock(ctx context.Context, actor string, k Kind, subject string) (bool, error) {
	target := "ip:" + subject
	if k == KindUser {
		subject = userKey(subject)
		target = "username:" + subject
	}
	ev := audit.Event{At: t.now().UTC(), Actor: actor, Action: audit.SecurityUnblocked, Target: target,
		Details: map[string]any{"kind": string(k)}}
	return Unblock(ctx, t.store, k, subject, ev)
}

// userKey is the subject of an account name: its lookup key, made
// storable and bounded whatever was sent, since an unknown name is
// counted too.
func userKey(username string) string {
	_, key := identity.NormalizeUsername(username)
	return audit.Recordable(key, identity.MaxUsernameLen)
}

// Blocks lists the active locks.
func (t *Throttle) Blocks(ctx context.Context) ([]Block, error) {
	return t.store.Blocks(ctx, t.now().UTC())
}
