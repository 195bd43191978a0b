package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

const serviceAccountColumns = `id, name, secret_hash, state, created_at, updated_at`

func scanServiceAccount(row scanner, extra ...any) (serviceaccount.Account, error) {
	var a serviceaccount.Account
	var state string
	dest := append([]any{&a.ID, &a.Name, &a.SecretHash, &state, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}}, extra...)
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return a, serviceaccount.ErrNotFound
	}
	a.State = serviceaccount.State(state)
	return a, err
}

// CreateServiceAccount inserts a and links it to roles, which must exist.
func (s *Store) CreateServiceAccount(ctx context.Context, a serviceaccount.Account, roles []string, ev audit.Event) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO service_accounts (id, name, secret_hash, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			a.ID.String(), a.Name, a.SecretHash, string(a.State), ts(a.CreatedAt), ts(a.UpdatedAt))
		if sqliteCode(err) == uniqueViolation {
			return fmt.Errorf("%w: %q", serviceaccount.ErrNameTaken, a.Name)
		}
		if err != nil {
			return err
		}
		for _, r := range roles {
			_, err := tx.ExecContext(ctx, `INSERT INTO service_account_roles (service_account_id, role_name) VALUES (?, ?) ON CONFLICT DO NOTHING`, a.ID.String(), r)
			if sqliteCode(err) == foreignKeyViolation {
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
	return scanServiceAccount(s.read.QueryRowContext(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE name = ?`, name))
}

// ServiceAccountByID finds an account by id.
func (s *Store) ServiceAccountByID(ctx context.Context, id uuid.UUID) (serviceaccount.Account, error) {
	return scanServiceAccount(s.read.QueryRowContext(ctx, `SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = ?`, id.String()))
}

// ServiceAccounts lists every account ordered by name, with its roles.
// Role names hold no newline (authz.ValidateRoleName).
func (s *Store) ServiceAccounts(ctx context.Context) ([]serviceaccount.Account, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+serviceAccountColumns+`,
		  COALESCE((SELECT group_concat(role_name, char(10)) FROM
		            (SELECT role_name FROM service_account_roles WHERE service_account_id = service_accounts.id ORDER BY role_name)), '')
		FROM service_accounts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (serviceaccount.Account, error) {
		var roles string
		a, err := scanServiceAccount(rows, &roles)
		a.Roles = []string{}
		if roles != "" {
			a.Roles = strings.Split(roles, "\n")
			slices.Sort(a.Roles)
		}
		return a, err
	})
}

// SetServiceAccountSecret replaces an account's secret hash.
func (s *Store) SetServiceAccountSecret(ctx context.Context, id uuid.UUID, hash string, at time.Time, ev audit.Event) error {
	_, err := s.updateRow(ctx, accountsTable, id, ev, nil, `UPDATE service_accounts SET secret_hash = ?2, updated_at = ?3 WHERE id = ?1`, id.String(), hash, ts(at))
	return err
}

// DisableServiceAccount disables an account and, when that changed its
// state, voids its tokens issued until at, in one transaction.
func (s *Store) DisableServiceAccount(ctx context.Context, id uuid.UUID, at time.Time, ev audit.Event) (bool, error) {
	revoke := func(tx *sql.Tx) error { return revokeSubject(ctx, tx, id, at) }
	return s.updateRow(ctx, accountsTable, id, ev, revoke,
		`UPDATE service_accounts SET state = 'disabled', updated_at = ?2 WHERE id = ?1 AND state <> 'disabled'`, id.String(), ts(at))
}

// ServiceAccountGrants returns an account's roles and the union of their
// permissions, both read from one snapshot.
func (s *Store) ServiceAccountGrants(ctx context.Context, id uuid.UUID) (authz.Grants, error) {
	return s.grants(ctx, serviceAccountRoles, id)
}

const pepperSecret = "client_secret_pepper"

// EnsureClientSecretPepper returns the stored pepper, storing a generated
// one when there is none. The write transaction begins IMMEDIATE, so
// callers in this and other processes look one at a time.
func (s *Store) EnsureClientSecretPepper(ctx context.Context, generate func() ([]byte, error)) ([]byte, error) {
	var value string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, pepperSecret).Scan(&value)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		p, err := generate()
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		value = base64.StdEncoding.EncodeToString(p)
		if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)`, pepperSecret, value, ts(now)); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit.Event{At: now, Actor: "system", Action: audit.ClientSecretPepperCreated})
	})
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(value)
}
