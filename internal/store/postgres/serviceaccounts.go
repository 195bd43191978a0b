package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

const serviceAccountColumns = `id, name, secret_hash, state, created_at, updated_at`

func scanServiceAccount(row pgx.Row) (serviceaccount.Account, error) {
	var a serviceaccount.Account
	var state string
	err := row.Scan(&a.ID, &a.Name, &a.SecretHash, &state, &a.CreatedAt, &a.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, serviceaccount.ErrNotFound
	}
	a.State = serviceaccount.State(state)
	return a, err
}

// CreateServiceAccount inserts a and links it to roles, which must exist.
func (s *Store) CreateServiceAccount(ctx context.Context, a serviceaccount.Account, roles []string, ev audit.Event) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO service_accounts (id, name, secret_hash, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			a.ID, a.Name, a.SecretHash, string(a.State), a.CreatedAt, a.UpdatedAt)
		if code, _ := pgCode(err); code == uniqueViolation {
			return fmt.Errorf("%w: %q", serviceaccount.ErrNameTaken, a.Name)
		}
		if err != nil {
			return err
		}
		for _, r := range roles {
			_, err := tx.Exec(ctx, `INSERT INTO service_account_roles (service_account_id, role_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, a.ID, r)
			if code, _ := pgCode(err); code == foreignKeyViolation {
				return fmt.Errorf("%w: %q", authz.ErrRoleNotFound, r)
			}
			if err != nil {
				return err
			}
		}
		return insertAudit(ctx, tx, ev)
	})
}

// ServiceAccountByName finds an account by name.
func (s *Store) ServiceAccountByName(ctx context.Context, name string) (serviceaccount.Account, error) {
	return scanServiceAccount(s.pool.QueryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE name = $1`, name))
}

// ServiceAccountByID finds an account by id.
func (s *Store) ServiceAccountByID(ctx context.Context, id uuid.UUID) (serviceaccount.Account, error) {
	return scanServiceAccount(s.pool.QueryRow(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = $1`, id))
}

// ServiceAccounts lists every account ordered by name, with its roles.
func (s *Store) ServiceAccounts(ctx context.Context) ([]serviceaccount.Account, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, name, secret_hash, state, created_at, updated_at,
		  COALESCE((SELECT array_agg(role_name ORDER BY role_name COLLATE "C") FROM service_account_roles WHERE service_account_id = id), '{}')
		FROM service_accounts ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (serviceaccount.Account, error) {
		var a serviceaccount.Account
		var state string
		err := row.Scan(&a.ID, &a.Name, &a.SecretHash, &state, &a.CreatedAt, &a.UpdatedAt, &a.Roles)
		a.State = serviceaccount.State(state)
		return a, err
	})
}

// SetServiceAccountSecret replaces an account's secret hash.
func (s *Store) SetServiceAccountSecret(ctx context.Context, id uuid.UUID, hash string, at time.Time, ev audit.Event) error {
	_, err := s.updateRow(ctx, accountsTable, id, ev, nil, `UPDATE service_accounts SET secret_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, at)
	return err
}

// DisableServiceAccount disables an account and, when that changed its
// state, voids its tokens issued until at, in one transaction.
func (s *Store) DisableServiceAccount(ctx context.Context, id uuid.UUID, at time.Time, ev audit.Event) (bool, error) {
	revoke := func(tx pgx.Tx) error { return revokeSubject(ctx, tx, id, at) }
	return s.updateRow(ctx, accountsTable, id, ev, revoke,
		`UPDATE service_accounts SET state = 'disabled', updated_at = $2 WHERE id = $1 AND state <> 'disabled'`, id, at)
}

// ServiceAccountGrants returns an account's roles and the union of their
// permissions.
func (s *Store) ServiceAccountGrants(ctx context.Context, id uuid.UUID) (authz.Grants, error) {
	return s.grants(ctx, serviceAccountRoles, id)
}

const pepperSecret = "client_secret_pepper"

// EnsureClientSecretPepper returns the stored pepper, storing a generated
// one when there is none. A concurrent insert waits on the primary key and
// then finds the winner's row.
func (s *Store) EnsureClientSecretPepper(ctx context.Context, generate func() ([]byte, error)) ([]byte, error) {
	var value string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = $1`, pepperSecret).Scan(&value)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		p, err := generate()
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		tag, err := tx.Exec(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			pepperSecret, base64.StdEncoding.EncodeToString(p), now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			if err := insertAudit(ctx, tx, audit.Event{At: now, Actor: "system", Action: audit.ClientSecretPepperCreated}); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = $1`, pepperSecret).Scan(&value)
	})
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(value)
}
