package tokens

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Keyring holds the signing keys in force. Which key signs and which are
// published depends on the time asked about (a pending key activates, a
// replaced one retires), and the keys kept in the database change under a
// running server (iam keys rotate, prune): Refresh reloads them, swapping
// the whole set at once, so that readers see one set or the next.
type Keyring struct {
	source KeyStore // nil for a key from a file, which never changes
	keys   atomic.Pointer[[]Key]
}

// NewKeyring makes a keyring of the one key k, such as a key from a file.
func NewKeyring(k Key) *Keyring {
	r := &Keyring{}
	r.store([]Key{k})
	return r
}

// LoadKeyring makes a keyring of the keys kept in store, generating and
// storing a first key when there is none.
func LoadKeyring(ctx context.Context, store KeyStore, now func() time.Time) (*Keyring, error) {
	_, err := EnsureSigningKey(ctx, store, func() (StoredKey, error) { return GenerateStoredKey(now().UTC()) })
	if err != nil {
		return nil, err
	}
	r := &Keyring{source: store}
	r.store(nil)
	return r, r.Refresh(ctx)
}

// ErrNoSigningKey is returned when every stored key has been replaced,
// which rotations never leave behind.
var ErrNoSigningKey = errors.New("no stored signing key is in force: every key has a retire-after")

// Refresh reloads the stored keys. A keyring of a key from a file has
// nothing to reload. On error the keys in force stay.
func (r *Keyring) Refresh(ctx context.Context) error {
	if r.source == nil {
		return nil
	}
	stored, err := r.source.SigningKeys(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]Key)
	for _, k := range *r.keys.Load() {
		known[k.ID] = k
	}
	keys := make([]Key, 0, len(stored))
	current := false
	for _, sk := range stored {
		k, ok := known[sk.ID]
		if !ok {
			// Parsing checks the key; parse each key once, not every refresh.
			if k, err = parseStoredKey(sk); err != nil {
				return err
			}
		}
		k.ActivatesAt, k.RetireAfter = sk.ActivatesAt, sk.RetireAfter
		current = current || k.RetireAfter.IsZero()
		keys = append(keys, k)
	}
	if !current {
		return ErrNoSigningKey
	}
	r.store(keys)
	return nil
}

// Follow reloads the stored keys every interval until ctx ends, so that a
// rotation made anywhere (iam keys rotate on another host, another
// replica) reaches the issuer and the verifier sharing r within one
// interval. After a reload that changed the keys it calls changed, which
// republishes them (the bundle publisher's Sync), so that the keys a
// token is signed with are published with the next answer. A failed
// reload keeps the keys in force and is logged once per outage. The
// channel closes when Follow has stopped; for a key from a file, which
// never changes, at once.
func (r *Keyring) Follow(ctx context.Context, interval time.Duration, log *slog.Logger, changed func(context.Context) error) <-chan struct{} {
	done := make(chan struct{})
	if r.source == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var failure error
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			before := *r.keys.Load()
			err := r.Refresh(ctx)
			if err == nil && !sameKeys(before, *r.keys.Load()) {
				err = changed(ctx)
			}
			switch {
			case ctx.Err() != nil:
				return
			case err != nil && failure == nil:
				log.Warn("signing keys not reloaded or not republished; keeping the keys in force", "err", err)
			case err == nil && failure != nil:
				log.Info("signing keys reloading again")
			}
			failure = err
		}
	}()
	return done
}

// sameKeys reports whether a and b hold the same keys on the same
// schedule.
func sameKeys(a, b []Key) bool {
	return slices.EqualFunc(a, b, func(x, y Key) bool {
		return x.ID == y.ID && x.ActivatesAt.Equal(y.ActivatesAt) && x.RetireAfter.Equal(y.RetireAfter)
	})
}

// store swaps in keys, ordered by activation.
func (r *Keyring) store(keys []Key) {
	slices.SortStableFunc(keys, func(a, b Key) int {
		return cmp.Or(a.ActivatesAt.Compare(b.ActivatesAt), a.CreatedAt.Compare(b.CreatedAt))
	})
	r.keys.Store(&keys)
}

// KeySet is the keyring as of one instant.
type KeySet struct {
	// Signing signs new tokens and the bundle: the newest published key
	// already active, or the oldest published one when none is active yet
	// (a replica whose clock runs behind the one that rotated).
	Signing Key
	// Published are the keys whose tokens are accepted: pending, active and
	// retiring keys, oldest activation first.
	Published []Key
}

// At returns the keys in force at t.
func (r *Keyring) At(t time.Time) KeySet {
	var s KeySet
	for _, k := range *r.keys.Load() {
		if k.RetireAfter.IsZero() || t.Before(k.RetireAfter) {
			s.Published = append(s.Published, k)
		}
	}
	if len(s.Published) == 0 {
		return s // only when listing stored keys: Refresh keeps one in force
	}
	s.Signing = s.Published[0]
	for _, k := range s.Published {
		if !k.ActivatesAt.After(t) {
			s.Signing = k
		}
	}
	return s
}

// JWKS returns the published public keys as an RFC 7517 key set.
func (s KeySet) JWKS() jwk.Set {
	set := jwk.NewSet()
	for _, k := range s.Published {
		// Kids are distinct thumbprints: adding cannot fail on a duplicate.
		_ = set.AddKey(k.public)
	}
	return set
}

// Same reports whether s and o sign with the same key and publish the same
// keys.
func (s KeySet) Same(o KeySet) bool {
	return s.Signing.ID == o.Signing.ID && slices.EqualFunc(s.Published, o.Published, func(a, b Key) bool { return a.ID == b.ID })
}
