package tokens

import (
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// RetireSkew keeps a replaced key published this long after the last token
// it signed expires: a service whose clock runs behind the IAM's still
// accepts such a token that long, and must still find its key.
const RetireSkew = time.Minute

// Rotation is one new signing key and what it does to the keys before it.
type Rotation struct {
	Key StoredKey // the new key; it signs from Key.ActivatesAt
	// RetireAfter is given to the keys Key replaces: they stop signing when
	// Key activates and stay published until every token they signed has
	// expired.
	RetireAfter time.Time
	// RevokeOthers deletes every other key at once instead (a leaked key):
	// their tokens stop verifying now.
	RevokeOthers bool
	Actor        string
}

// NewRotation generates a key that starts signing grace after now, so that
// caches of the JWKS pick it up first, replacing keys whose tokens live for
// tokenTTL. With revoke the key signs at once and replaces every other key
// immediately.
func NewRotation(now time.Time, grace, tokenTTL time.Duration, revoke bool, actor string) (Rotation, error) {
	k, err := GenerateStoredKey(now)
	if err != nil {
		return Rotation{}, err
	}
	if !revoke {
		k.ActivatesAt = now.Add(grace)
	}
	return Rotation{Key: k, RetireAfter: k.ActivatesAt.Add(tokenTTL + RetireSkew), RevokeOthers: revoke, Actor: actor}, nil
}

// events are the audit events of r, given the kids of the keys it replaced
// (retired, or with RevokeOthers deleted).
func (r Rotation) events(replaced []string) []audit.Event {
	details := map[string]any{"activates_at": r.Key.ActivatesAt.UTC().Format(time.RFC3339), "replaces": nonNil(replaced)}
	if r.RevokeOthers {
		details["revoke_current"] = true
	} else {
		details["replaced_retire_after"] = r.RetireAfter.UTC().Format(time.RFC3339)
	}
	evs := []audit.Event{{At: r.Key.CreatedAt, Actor: r.Actor, Action: audit.SigningKeyRotated, Target: KeyTarget(r.Key.ID), Details: details}}
	if r.RevokeOthers {
		for _, kid := range replaced {
			evs = append(evs, audit.Event{At: r.Key.CreatedAt, Actor: r.Actor, Action: audit.SigningKeyRevoked, Target: KeyTarget(kid)})
		}
	}
	return evs
}

// pruneEvent is the audit event of deleting k, retired, at now.
func pruneEvent(k StoredKey, now time.Time, actor string) audit.Event {
	return audit.Event{At: now, Actor: actor, Action: audit.SigningKeyPruned, Target: KeyTarget(k.ID),
		Details: map[string]any{"retire_after": k.RetireAfter.UTC().Format(time.RFC3339)}}
}

// createdEvent is the audit event of storing k as the first key.
func createdEvent(k StoredKey) audit.Event {
	return audit.Event{At: k.CreatedAt, Actor: "system", Action: audit.SigningKeyCreated, Target: KeyTarget(k.ID)}
}

// KeyTarget names a signing key in audit events.
func KeyTarget(kid string) string { return "signing_key:" + kid }

// Key states, as iam keys list shows them.
const (
	KeyPending  = "pending"  // published, signs once it activates
	KeyActive   = "active"   // signs new tokens
	KeyRetiring = "retiring" // replaced: published until its tokens expire
	KeyRetired  = "retired"  // no longer published: iam keys prune deletes it
)

// KeyStates names the state of each of keys at now, by kid.
func KeyStates(keys []StoredKey, now time.Time) map[string]string {
	ring := &Keyring{}
	parsed := make([]Key, len(keys))
	for i, k := range keys {
		parsed[i] = Key{ID: k.ID, CreatedAt: k.CreatedAt, ActivatesAt: k.ActivatesAt, RetireAfter: k.RetireAfter}
	}
	ring.store(parsed)
	states := make(map[string]string, len(keys))
	for _, k := range keys {
		states[k.ID] = KeyRetired
	}
	set := ring.At(now)
	for _, k := range set.Published {
		switch {
		case k.ID == set.Signing.ID:
			states[k.ID] = KeyActive
		case k.ActivatesAt.After(now):
			states[k.ID] = KeyPending
		default:
			states[k.ID] = KeyRetiring
		}
	}
	return states
}
