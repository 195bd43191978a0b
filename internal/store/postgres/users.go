package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

const userColumns = `id, username, password_hash, state, created_at, updated_at, last_login_at`

// The updates of SetUserState and SetPasswordHash, which seeds make too:
// $1 the user's id, $2 the new value, $3 the time.
const (
	updateStateSQL        = `UPDATE users SET state = $2, updated_at = $3 WHERE id = $1 AND state <> $2`
	updatePasswordHashSQL = `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`
)

func scanUser(row pgx.Row) (identity.User, error) {
	var u identity.User
	err := scanOne(row, identity.ErrUserNotFound, &u.ID, &u.Username, &u.PasswordHash, &u.State, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt)
	return u, err
}

// UserTx runs fn in one transaction, committing if it returns nil.
func (s *Store) UserTx(ctx context.Context, fn func(identity.UserTx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(userTx{tx, &s.appends}) })
}

// insertUser inserts u, keyed by its normalised username.
func insertUser(ctx context.Context, tx pgx.Tx, u identity.User) error {
	_, key := identity.NormalizeUsername(u.Username)
	_, err := tx.Exec(ctx, `
		INSERT INTO users (id, username, username_key, password_hash, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.Username, key, u.PasswordHash, string(u.State), u.CreatedAt, u.UpdatedAt)
	if code, _ := pgCode(err); code == uniqueViolation {
		return fmt.Errorf("%w: %q", identity.ErrUsernameTaken, u.Username)
	}
	return err
}

// UserByUsernameKey finds a user by normalised username.
func (s *Store) UserByUsernameKey(ctx context.Context, key string) (identity.User, error) {
	return userByKey(ctx, s.pool, key)
}

func userByKey(ctx context.Context, q rowQuerier, key string) (identity.User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username_key = $1`, key))
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (identity.User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// Users lists every user ordered by username.
func (s *Store) Users(ctx context.Context) ([]identity.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username_key COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (identity.User, error) { return scanUser(row) })
}

// UserPage lists a page of users ordered by key; strpos, not LIKE, so
// that a search for "_" or "%" means those characters.
func (s *Store) UserPage(ctx context.Context, q identity.UserQuery) ([]identity.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE username_key COLLATE "C" > $1 AND strpos(username_key, $2) > 0
		ORDER BY username_key COLLATE "C" LIMIT $3`, q.After, q.Search, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (identity.User, error) { return scanUser(row) })
}

// RecordLogin stores the time of a successful login. Like AppendAudit it
// records an attempt, so it commits without waiting for the WAL flush.
func (s *Store) RecordLogin(ctx context.Context, id uuid.UUID, at time.Time, ev audit.Event) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SET LOCAL synchronous_commit = off`)
		b.Queue(`UPDATE users SET last_login_at = $2 WHERE id = $1`, id, at).Exec(func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() == 0 {
				return identity.ErrUserNotFound
			}
			return nil
		})
		return appendAudit(ctx, &s.appends, tx, b, ev)
	})
}

// userTx is identity.UserTx on a pgx transaction.
type userTx struct {
	tx      pgx.Tx
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
	return scanUser(t.tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
}

func (t userTx) SetUserState(ctx context.Context, id uuid.UUID, state identity.State, at time.Time) error {
	_, err := t.tx.Exec(ctx, updateStateSQL, id, string(state), at)
	return err
}

func (t userTx) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	tag, err := t.tx.Exec(ctx, updatePasswordHashSQL, id, hash, at)
	return updated(tag, err, identity.ErrUserNotFound)
}

func (t userTx) ReplacePasswordHash(ctx context.Context, id uuid.UUID, from, to string, at time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2`, id, from, to, at)
	return tag.RowsAffected() == 1, err
}

func (t userTx) SetLastLogin(ctx context.Context, id uuid.UUID, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE users SET last_login_at = $2 WHERE id = $1`, id, at)
	return updated(tag, err, identity.ErrUserNotFound)
}

func (t userTx) RevokeSubject(ctx context.Context, id uuid.UUID, at time.Time) error {
	return revokeSubject(ctx, t.tx, id, at)
}

func (t userTx) RevokeSessions(ctx context.Context, id uuid.UUID, at time.Time, keep uuid.UUID) (int, error) {
	tag, err := t.tx.Exec(ctx, `
		UPDATE refresh_families SET revoked_at = $2
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND id <> $3`, id, at, keep)
	return int(tag.RowsAffected()), err
}

func (t userTx) EndConsoleSessions(ctx context.Context, id uuid.UUID) error {
	return endConsoleSessions(ctx, t.tx, id)
}

func (t userTx) Audit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, t.appends, t.tx, ev)
}

// removeUserRole unlinks a user from a role, reporting whether it had it.
// The caller revokes the user's tokens.
func removeUserRole(ctx context.Context, tx pgx.Tx, user uuid.UUID, role string) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND role_name = $2`, user, role)
	return err == nil && tag.RowsAffected() == 1, err
}

// addUserRole links a user to a role, reporting whether the link is new.
func addUserRole(ctx context.Context, tx pgx.Tx, user uuid.UUID, role string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, user, role)
	switch code, constraint := pgCode(err); {
	case code == foreignKeyViolation && constraint == "user_roles_role_name_fkey":
		return false, fmt.Errorf("%w: %q", authz.ErrRoleNotFound, role)
	case code == foreignKeyViolation:
		return false, identity.ErrUserNotFound
	case err != nil:
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
