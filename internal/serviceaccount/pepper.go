package serviceaccount

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
)

// pepperSecret names the pepper among the server's secrets.
const pepperSecret = "client_secret_pepper"

// Pepper is the configured pepper when there is one (at least 32
// characters), else the one kept in the database, generated on first use
// at now.
func Pepper(ctx context.Context, store Store, configured string, now func() time.Time) ([]byte, error) {
	if configured != "" {
		if len(configured) < 32 {
			return nil, ErrInvalidPepper
		}
		return []byte(configured), nil
	}
	return EnsureClientSecretPepper(ctx, store, NewPepper, now().UTC())
}

// EnsureClientSecretPepper returns the pepper store keeps, storing the one
// generate makes, with its audit event at at, when there is none, in one
// of store's account transactions. Concurrent callers, in this process or
// another, get one pepper: the first stored.
func EnsureClientSecretPepper(ctx context.Context, store Store, generate func() ([]byte, error), at time.Time) ([]byte, error) {
	var value string
	err := store.ServiceAccountTx(ctx, func(tx AccountTx) error {
		v, found, err := tx.ServerSecret(ctx, pepperSecret)
		if err != nil || found {
			value = v
			return err
		}
		p, err := generate()
		if err != nil {
			return err
		}
		stored, err := tx.InsertServerSecret(ctx, pepperSecret, base64.StdEncoding.EncodeToString(p), at)
		if err != nil {
			return err
		}
		if stored {
			if err := tx.Audit(ctx, audit.Event{At: at, Actor: "system", Action: audit.ClientSecretPepperCreated}); err != nil {
				return err
			}
		}
		// A concurrent caller's may have been stored instead.
		value, _, err = tx.ServerSecret(ctx, pepperSecret)
		return err
	})
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(value)
}
