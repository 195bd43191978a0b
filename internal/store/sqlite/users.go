package sqlite

import (
	"context"
	"database/sql"
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

func scanUser(row scanner) (identity.User, error) {
	var u identity.User
	err := scanOne(row, identity.ErrUserNotFound, &u.ID, &u.Username, &u.PasswordHash, &u.State,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, nullTimeCol{&u.LastLoginAt})
	return u, err
}

// UserTx runs fn in one write transaction (BEGIN IMMEDIATE), committing if
// it returns nil.
func (s *Store) UserTx(ctx context.Context, fn func(identity.UserTx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(userTx{tx, &s.appends}) })
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

// RecordLogin stores the time of a successful login.
func (s *Store) RecordLogin(ctx context.Context, id uuid.UUID, at time.Time, ev audit.Event) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := (userTx{tx: tx}).SetLastLogin(ctx, id, at); err != nil {
			return err
		}
		return insertAudit(ctx, &s.appends, tx, ev)
	})
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

// userTx is identity.UserTx on a write transaction. The transaction
// holds the database's write lock from its start, so reading a user is
// locking it.
type userTx struct {
	tx      *sql.Tx
	appends *audit.Appends
}

func (t userTx) InsertUser(ctx context.Context, u identity.User) error {
	return insertUser(ctx, t.tx, u)
}

func (t userTx) AddUserRole(ctx context.Context, id uuid.UUID, role string) error {
	_, err := addUserRole(ctx, t.tx, id, role)
	return err
}

func (t userTx) LockUser(ctx context.Context, id uuid.UUID) (identity.User, error) {
	return scanUser(t.tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id.String()))
}

func (t userTx) SetUserState(ctx context.Context, id uuid.UUID, state identity.State, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, updateStateSQL, id.String(), string(state), ts(at))
	return err
}

func (t userTx) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, updatePasswordHashSQL, id.String(), hash, ts(at))
	return updated(res, err, identity.ErrUserNotFound)
}

func (t userTx) ReplacePasswordHash(ctx context.Context, id uuid.UUID, from, to string, at time.Time) (bool, error) {
	return affectedOne(t.tx.ExecContext(ctx,
		`UPDATE users SET password_hash = ?3, updated_at = ?4 WHERE id = ?1 AND password_hash = ?2`, id.String(), from, to, ts(at)))
}

func (t userTx) SetLastLogin(ctx context.Context, id uuid.UUID, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, ts(at), id.String())
	return updated(res, err, identity.ErrUserNotFound)
}

func (t userTx) RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error {
	return revokeSubject(ctx, t.tx, id, at)
}

func (t userTx) RevokeSessions(ctx context.Context, id uuid.UUID, at time.Time, keep uuid.UUID) (int, error) {
	res, err := t.tx.ExecContext(ctx, `
		UPDATE refresh_families SET revoked_at = ?2
		WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND id <> ?3`, id.String(), ts(at), keep.String())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t userTx) EndConsoleSessions(ctx context.Context, id uuid.UUID) error {
	return endConsoleSessions(ctx, t.tx, id)
}

func (t userTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}
