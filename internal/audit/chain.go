package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// The audit trail is a hash chain: each row stores ChainHash of its own
// content and of the previous row's hash, so editing or deleting a row
// (short of rewriting every row after it) breaks the link at that row.

// TimeLayout is how an event's time enters its hash: UTC, microseconds,
// the precision both stores keep.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Link is a stored event with its place in the chain.
type Link struct {
	Stored
	PrevHash string // the hash of the event before it; "" for the first
	Hash     string // ChainHash(PrevHash, Stored); "" if never computed
}

// ChainHash is the hex SHA-256 of the canonical encoding of e (id, time,
// actor, action, target, ip, details) after prev, the previous event's
// hash ("" for the first event). The encoding is a JSON array, so no field
// can run into the next; details are canonical JSON (see CanonicalJSON).
func ChainHash(prev string, e Stored) (string, error) {
	details, err := CanonicalJSON(e.Details)
	if err != nil {
		return "", err
	}
	content, err := json.Marshal([]any{prev, e.ID, e.At.UTC().Format(TimeLayout),
		e.Actor, e.Action, e.Target, e.IP, json.RawMessage(details)})
	if err != nil {
		return "", fmt.Errorf("encode audit event %d: %w", e.ID, err)
	}
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:]), nil
}

// NextLink is ev as a store appends it after the chain's head, whose
// hash is prev ("" for the first event): numbered id, its time as the
// stores keep it, hashed with prev. details is ev's Details as canonical
// JSON, the text the store writes and the hash covers.
func NextLink(prev string, id int64, ev Event) (link Link, details []byte, err error) {
	e := Stored{ID: id, Event: ev}
	e.At = Truncate(ev.At)
	hash, err := ChainHash(prev, e)
	if err != nil {
		return Link{}, nil, err
	}
	if details, err = CanonicalJSON(ev.Details); err != nil {
		return Link{}, nil, err
	}
	return Link{Stored: e, PrevHash: prev, Hash: hash}, details, nil
}

// CanonicalJSON encodes details as a store returns them: objects with
// keys sorted, no insignificant space, numbers as written, nil as {}. It
// decodes its own encoding first, so Go values and the same values read
// back from a JSON column encode alike.
func CanonicalJSON(details map[string]any) ([]byte, error) {
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("encode audit details: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode audit details: %w", err)
	}
	return json.Marshal(v)
}

// Truncate is t as the stores keep it: UTC, whole microseconds.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// BrokenLinkError names the first event at which the chain does not hold.
type BrokenLinkError struct {
	ID     int64
	Reason string
}

func (e *BrokenLinkError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.ID, e.Reason)
}

// ChainPage reads up to limit links with ids above after, in id order.
type ChainPage func(ctx context.Context, after int64, limit int) ([]Link, error)

const verifyPage = 1000

// Verify walks the whole chain in id order and returns how many events it
// holds, or a *BrokenLinkError for the first event that does not link to
// the one before it or does not match its own hash.
func Verify(ctx context.Context, read ChainPage) (int, error) {
	n, prev, prevID := 0, "", int64(0)
	for {
		page, err := read(ctx, prevID, verifyPage)
		if err != nil {
			return n, err
		}
		for _, l := range page {
			if err := check(l, prev, prevID); err != nil {
				return n, err
			}
			n, prev, prevID = n+1, l.Hash, l.ID
		}
		if len(page) < verifyPage {
			return n, nil
		}
	}
}

func check(l Link, prev string, prevID int64) error {
	if l.Hash == "" {
		return &BrokenLinkError{l.ID, "it has no hash"}
	}
	if l.PrevHash != prev {
		if prevID == 0 {
			return &BrokenLinkError{l.ID, "it is the first event but links to a previous one: the events before it were deleted"}
		}
		return &BrokenLinkError{l.ID, fmt.Sprintf("it links to a previous hash that is not event %d's: an event between them was deleted, or event %d's hash was rewritten", prevID, prevID)}
	}
	want, err := ChainHash(prev, l.Stored)
	if err != nil {
		return &BrokenLinkError{l.ID, err.Error()}
	}
	if want != l.Hash {
		return &BrokenLinkError{l.ID, "its content does not match its hash: the row was changed after it was written"}
	}
	return nil
}

// TailQuery selects events for `iam audit tail` and the admin API.
type TailQuery struct {
	After  int64     // only events with a higher id; with Last, ignored
	Before int64     // only events with a lower id, if set
	Since  time.Time // only events that occurred at or after this, if set
	Until  time.Time // only events that occurred before this, if set
	Actor  string    // only this actor, if set
	Target string    // only events about this target ("user:<uuid>", "role:ops", ...), if set
	Type   string    // only this action, or actions under it (a dotted prefix), if set
	Last   bool      // the newest Limit matching events, rather than the first after After
	Limit  int
}

// BackfillPage is how many links Backfill reads at a time.
const BackfillPage = 1000

// Backfill hashes, in id order, every link that has no hash yet, chaining
// each to the link before it: page reads up to BackfillPage links after an
// id, set stores one link's hashes. Stores call it when they migrate a trail
// written before the chain existed.
func Backfill(page func(after int64) ([]Link, error), set func(id int64, prev, hash string) error) error {
	prev, after := "", int64(0)
	for {
		links, err := page(after)
		if err != nil {
			return err
		}
		for _, l := range links {
			after = l.ID
			if l.Hash != "" {
				prev = l.Hash
				continue
			}
			hash, err := ChainHash(prev, l.Stored)
			if err != nil {
				return err
			}
			if err := set(l.ID, prev, hash); err != nil {
				return err
			}
			prev = hash
		}
		if len(links) < BackfillPage {
			return nil
		}
	}
}
