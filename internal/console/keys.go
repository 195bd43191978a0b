package console

import (
	"net/http"
	"time"
)

type keyRow struct {
	ID          string
	State       string // signing, pending, retiring, published
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetireAfter time.Time
}

type keysView struct {
	Keys     []keyRow
	Revision string
	BuiltAt  time.Time
	Bytes    int
	Poll     time.Duration
}

// keys shows the signing keys in force and the bundle being published.
func (c *console) keys(w http.ResponseWriter, r *http.Request, op *operator) {
	now := c.Now()
	set := c.Keys.At(now)
	v := keysView{Poll: c.PollInterval}
	for _, k := range set.Published {
		row := keyRow{ID: k.ID, State: "published", CreatedAt: k.CreatedAt, ActivatesAt: k.ActivatesAt, RetireAfter: k.RetireAfter}
		switch {
		case k.ID == set.Signing.ID:
			row.State = "signing"
		case k.ActivatesAt.After(now):
			row.State = "pending"
		case !k.RetireAfter.IsZero():
			row.State = "retiring"
		}
		v.Keys = append(v.Keys, row)
	}
	if b := c.Bundle(); b != nil {
		v.Revision, v.BuiltAt, v.Bytes = b.Revision, b.BuiltAt, len(b.Bytes)
	}
	c.render(w, r, op, http.StatusOK, "keys", "Keys and bundle", v)
}
