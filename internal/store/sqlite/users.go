package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

const userColumns = `id, username, password_hash, state, created_at, updated_at, last_login_at`

// The updates of SetUserState and SetPasswordHash, which seeds make too:
// ?1 the user's id, ?2 the new value, ?3 the time.
const (
	updateStateSQL        = `UPDATE users SET state = ?2, updated_at = ?3 WHERE id = ?1 AND state <> ?2`
	updatePasswordHashSQL = `UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1`
)

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (identity.User, error) {
	var u identity.User
	var state string
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &state, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, nullTimeCol{&u.LastLoginAt})
	if errors.Is(err, sql.ErrNoRows) {
		return u, identity.ErrUserNotFound
	}
	u.State = identity.State(state)
	return u, err
}

// CreateUser inserts u and links it to roles, which must exist.
func (s *Store) CreateUser(ctx context.Context, u identity.User, roles []string, ev audit.Event) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		for _, r := range roles {
			if _, err := addUserRole(ctx, tx, u.ID, r); err != nil {
				return err
			}
		}
		return insertAudit(ctx, tx, ev)
	})
}

// insertUser inserts u, keyed by its normalised username.
func insertUser(ctx context.Context, tx *sql.Tx, u identity.User) error {
	_, key := identity.NormalizeUsername(u.Username)
	_, err := tx.ExecContext(ctx, `
		INSERT INTO users (id, username, username_key, password_hash, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID.String(), u.Username, key, u.PasswordHash, string(u.State), ts(u.CreatedAt), ts(u.UpdatedAt))
	if sqliteCode(err) == uniqueViolation {
		return fmt.Errorf("%w: %q", identity.ErrUsernameTaken, u.Username)
	}
	return err
}

// UserByUsernameKey finds a user by normalised username.
func (s *Store) UserByUsernameKey(ctx context.Context, key string) (identity.User, error) {
	return userByKey(ctx, s.read, key)
}

func userByKey(ctx context.Context, q querier, key string) (identity.User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username_key = ?`, key))
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (identity.User, error) {
	return scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id.String()))
}

// Users lists every user ordered by username, in byte order of the key.
func (s *Store) Users(ctx context.Context) ([]identity.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username_key`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (identity.User, error) { return scanUser(rows) })
}

// UserPage lists a page of users ordered by key, in byte order; instr,
// not LIKE, so that a search for "_" or "%" means those characters.
func (s *Store) UserPage(ctx context.Context, q identity.UserQuery) ([]identity.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE username_key > ?1 AND instr(username_key, ?2) > 0
		ORDER BY username_key LIMIT ?3`, q.After, q.Search, q.Limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (identity.User, error) { return scanUser(rows) })
}

// SetUserState changes a user's state, reporting whether it changed. A
// user leaving the active state loses every token issued until at.
func (s *Store) SetUserState(ctx context.Context, id uuid.UUID, state identity.State, at time.Time, ev audit.Event) (bool, error) {
	var then func(*sql.Tx) error
	if state != identity.StateActive {
		then = func(tx *sql.Tx) error { return revokeSubject(ctx, tx, id, at) }
	}
	return s.updateRow(ctx, usersTable, id, ev, then, updateStateSQL, id.String(), string(state), ts(at))
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time, ev audit.Event) error {
	_, err := s.updateRow(ctx, usersTable, id, ev, nil, updatePasswordHashSQL, id.String(), hash, ts(at))
	return err
}

// ChangePassword replaces a user's password hash and revokes their other
// sessions.
func (s *Store) ChangePassword(ctx context.Context, id uuid.UUID, hash string, at time.Time, keep uuid.UUID, ev audit.Event) (int, error) {
	revoked := 0
	_, err := s.updateRow(ctx, usersTable, id, ev, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE refresh_families SET revoked_at = ?2
			WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND id <> ?3`, id.String(), ts(at), keep.String())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		revoked = int(n)
		// The event is written after this, and shares its details map.
		ev.Details["sessions_revoked"] = revoked
		return err
	}, updatePasswordHashSQL, id.String(), hash, ts(at))
	return revoked, err
}

// RecordLogin stores the time of a successful login.
func (s *Store) RecordLogin(ctx context.Context, id uuid.UUID, at time.Time, ev audit.Event) error {
	_, err := s.updateRow(ctx, usersTable, id, ev, nil, `UPDATE users SET last_login_at = ?2 WHERE id = ?1`, id.String(), ts(at))
	return err
}

// addUserRole links a user to a role, reporting whether the link is new.
// SQLite names no constraint in a foreign-key error, and a failed
// statement leaves the transaction usable, so the lookup that follows one
// says which side is missing.
func addUserRole(ctx context.Context, tx *sql.Tx, user uuid.UUID, role string) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role_name) VALUES (?, ?) ON CONFLICT DO NOTHING`, user.String(), role)
	if sqliteCode(err) == foreignKeyViolation {
		if err := mustExist(ctx, tx, `SELECT EXISTS (SELECT 1 FROM roles WHERE name = ?)`, role, authz.ErrRoleNotFound); err != nil {
			return false, err
		}
		return false, identity.ErrUserNotFound
	}
	return affectedOne(res, err)
}

// removeUserRole unlinks a user from a role, reporting whether it had it.
// The caller revokes the user's tokens.
func removeUserRole(ctx context.Context, tx *sql.Tx, user uuid.UUID, role string) (bool, error) {
	return affectedOne(tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = ? AND role_name = ?`, user.String(), role))
}

// affectedOne reports whether a statement changed exactly one row.
func affectedOne(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecordLoginUpgradingHash records a login and, when the stored hash is
// still from, replaces it with to, in one transaction.
func (s *Store) RecordLoginUpgradingHash(ctx context.Context, id uuid.UUID, at time.Time, from, to string, login, upgraded audit.Event) (bool, error) {
	replaced := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		found, err := affectedOne(tx.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, ts(at), id.String()))
		if err != nil {
			return err
		}
		if !found {
			return identity.ErrUserNotFound
		}
		if err := insertAudit(ctx, tx, login); err != nil {
			return err
		}
		replaced, err = affectedOne(tx.ExecContext(ctx,
			`UPDATE users SET password_hash = ?3, updated_at = ?4 WHERE id = ?1 AND password_hash = ?2`, id.String(), from, to, ts(at)))
		if err != nil || !replaced {
			return err
		}
		return insertAudit(ctx, tx, upgraded)
	})
	return replaced, err
}
