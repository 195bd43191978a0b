package sqlite

import (
	"fmt"
	"time"
)

// timeLayout is how timestamps are stored: UTC, microseconds as
// PostgreSQL keeps them, fixed width so that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// ts is t as stored.
func ts(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(timeLayout) }

// nullTS is t as stored, or NULL.
func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// timeCol scans a stored timestamp into *t.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	s, err := text(src)
	if err != nil {
		return err
	}
	if *c.t, err = time.Parse(timeLayout, s); err != nil {
		return fmt.Errorf("stored time %q: %w", s, err)
	}
	return nil
}

// nullTimeCol scans a stored timestamp, or NULL as nil, into *t.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

func text(src any) (string, error) {
	switch v := src.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("stored time is %T, want text", src)
}
