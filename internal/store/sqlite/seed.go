package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// seeding applies one seed inside one transaction and remembers what it did.
type seeding struct {
	ctx    context.Context
	tx     *sql.Tx
	actor  string
	at     time.Time
	report authz.SeedReport
}

// errDryRun rolls back a dry run's transaction once its report is taken.
var errDryRun = errors.New("dry run: roll back")

// ApplySeed makes the seed's permissions, roles and users exist as
// declared, in one transaction, with an audit event per change. A dry run
// does all of it, then rolls back.
func (s *Store) ApplySeed(ctx context.Context, seed authz.Seed, actor string, at time.Time, dryRun bool) (authz.SeedReport, error) {
	var report authz.SeedReport
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		sd := &seeding{ctx: ctx, tx: tx, actor: actor, at: at}
		for _, p := range seed.Permissions {
			if err := sd.permission(p); err != nil {
				return err
			}
		}
		for _, r := range seed.Roles {
			if err := sd.role(r); err != nil {
				return err
			}
		}
		for _, u := range seed.Users {
			if err := sd.user(u); err != nil {
				return err
			}
		}
		report = sd.report
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return authz.SeedReport{}, err
	}
	return report, nil
}

func (sd *seeding) record(action, target, line string, details map[string]any) error {
	sd.report.Changes = append(sd.report.Changes, line)
	return insertAudit(sd.ctx, sd.tx, audit.Event{At: sd.at, Actor: sd.actor, Action: action, Target: target, Details: details})
}

func (sd *seeding) exec(query string, args ...any) error {
	_, err := sd.tx.ExecContext(sd.ctx, query, args...)
	return err
}

func (sd *seeding) permission(p authz.SeedPermission) error {
	var desc string
	err := sd.tx.QueryRowContext(sd.ctx, `SELECT description FROM permissions WHERE code = ?`, p.Code).Scan(&desc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if err := sd.exec(`INSERT INTO permissions (code, description, created_at) VALUES (?, ?, ?)`, p.Code, p.Description, ts(sd.at)); err != nil {
			return err
		}
		return sd.record(audit.PermissionCreated, "permission:"+p.Code, "created permission "+p.Code, map[string]any{"description": p.Description})
	case err != nil:
		return err
	case desc != p.Description:
		if err := sd.exec(`UPDATE permissions SET description = ?2 WHERE code = ?1`, p.Code, p.Description); err != nil {
			return err
		}
		return sd.record(audit.PermissionUpdated, "permission:"+p.Code, "updated permission "+p.Code, map[string]any{"description": p.Description})
	}
	return nil
}

func (sd *seeding) role(r authz.SeedRole) error {
	var name, desc string
	var builtin bool
	err := sd.tx.QueryRowContext(sd.ctx, `SELECT name, description, builtin FROM roles WHERE name_key = ?`, roleKey(r.Name)).Scan(&name, &desc, &builtin)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		name = r.Name
		if err := sd.exec(`INSERT INTO roles (name, name_key, description, created_at) VALUES (?, ?, ?, ?)`, name, roleKey(name), r.Description, ts(sd.at)); err != nil {
			return err
		}
		if err := sd.record(audit.RoleCreated, "role:"+name, "created role "+name, map[string]any{"description": r.Description}); err != nil {
			return err
		}
	case err != nil:
		return err
	case builtin:
		return fmt.Errorf("%w: role %q: %w", authz.ErrInvalidSeed, name, authz.ErrBuiltinRole)
	case desc != r.Description:
		if err := sd.exec(`UPDATE roles SET description = ?2 WHERE name = ?1`, name, r.Description); err != nil {
			return err
		}
		if err := sd.record(audit.RoleUpdated, "role:"+name, "updated role "+name, map[string]any{"description": r.Description}); err != nil {
			return err
		}
	}

	current, err := queryStrings(sd.ctx, sd.tx, `SELECT permission_code FROM role_permissions WHERE role_name = ?`, name)
	if err != nil {
		return err
	}
	for _, p := range r.Permissions {
		if slices.Contains(current, p) {
			continue
		}
		if added, err := grant(sd.ctx, sd.tx, name, p); err != nil {
			return fmt.Errorf("role %q: %w", name, err)
		} else if !added {
			continue // listed twice in the seed
		}
		if err := sd.record(audit.RolePermissionAdd, "role:"+name, fmt.Sprintf("granted %s to role %s", p, name), map[string]any{"role": name, "permission": p}); err != nil {
			return err
		}
	}
	for _, p := range current {
		if slices.Contains(r.Permissions, p) {
			continue
		}
		if err := sd.exec(`DELETE FROM role_permissions WHERE role_name = ? AND permission_code = ?`, name, p); err != nil {
			return err
		}
		if err := sd.record(audit.RolePermissionDrop, "role:"+name, fmt.Sprintf("revoked %s from role %s", p, name), map[string]any{"role": name, "permission": p}); err != nil {
			return err
		}
	}
	return nil
}

func (sd *seeding) user(su authz.SeedUser) error {
	display, key := identity.NormalizeUsername(su.Username)
	var id uuid.UUID
	var stored, hash, state string
	err := sd.tx.QueryRowContext(sd.ctx, `SELECT id, username, password_hash, state FROM users WHERE username_key = ?`, key).Scan(&id, &stored, &hash, &state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if id, err = sd.createUser(su, display, key); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		display = stored // the user's own spelling, not the seed's
		if err := sd.userState(id, display, identity.State(state), identity.State(su.State)); err != nil {
			return err
		}
		if err := sd.userPassword(id, display, hash, su.PasswordHash); err != nil {
			return err
		}
	}
	return sd.userRoles(id, display, su.Roles)
}

func (sd *seeding) createUser(su authz.SeedUser, display, key string) (uuid.UUID, error) {
	id := uuid.New()
	state := identity.StateActive
	if su.State != "" {
		state = identity.State(su.State)
	}
	if err := sd.exec(`
		INSERT INTO users (id, username, username_key, password_hash, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)`,
		id.String(), display, key, su.PasswordHash, string(state), ts(sd.at)); err != nil {
		return id, err
	}
	line := "created user " + display
	switch {
	case su.PasswordHash == "" && state != identity.StateActive:
		line += " (no password, " + string(state) + ")"
	case su.PasswordHash == "":
		line += " (no password)"
	case state != identity.StateActive:
		line += " (" + string(state) + ")"
	}
	details := map[string]any{"username": display, "state": string(state), "password_set": su.PasswordHash != ""}
	return id, sd.record(audit.UserCreated, identity.Target(id), line, details)
}

// userState moves an existing user to the declared state; leaving active
// revokes the user's tokens, as SetUserState does.
func (sd *seeding) userState(id uuid.UUID, display string, current, wanted identity.State) error {
	if wanted == "" || wanted == current {
		return nil
	}
	if err := sd.exec(`UPDATE users SET state = ?2, updated_at = ?3 WHERE id = ?1`, id.String(), string(wanted), ts(sd.at)); err != nil {
		return err
	}
	action, line := audit.UserDisabled, "disabled user "+display
	if wanted == identity.StateActive {
		action, line = audit.UserEnabled, "enabled user "+display
	} else if err := revokeSubject(sd.ctx, sd.tx, id, sd.at); err != nil {
		return err
	}
	return sd.record(action, identity.Target(id), line,
		map[string]any{"username": display, "previous_state": string(current), "state": string(wanted)})
}

// userPassword stores an imported hash unless the user already has an
// argon2id one: that was set or upgraded here and is newer than any import.
func (sd *seeding) userPassword(id uuid.UUID, display, current, wanted string) error {
	if wanted == "" || wanted == current || identity.IsArgon2id(current) {
		return nil
	}
	if err := sd.exec(`UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1`, id.String(), wanted, ts(sd.at)); err != nil {
		return err
	}
	return sd.record(audit.UserPasswordSet, identity.Target(id), "set password hash of user "+display,
		map[string]any{"username": display, "source": "seed"})
}

func (sd *seeding) userRoles(id uuid.UUID, display string, roles []string) error {
	var wanted []string
	for _, r := range roles {
		var name string
		err := sd.tx.QueryRowContext(sd.ctx, `SELECT name FROM roles WHERE name_key = ?`, roleKey(r)).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w: %q", display, authz.ErrRoleNotFound, r)
		} else if err != nil {
			return err
		}
		wanted = append(wanted, name)
	}
	current, err := queryStrings(sd.ctx, sd.tx, `SELECT role_name FROM user_roles WHERE user_id = ?`, id.String())
	if err != nil {
		return err
	}
	for _, r := range wanted {
		if slices.Contains(current, r) {
			continue
		}
		if added, err := addUserRole(sd.ctx, sd.tx, id, r); err != nil {
			return err
		} else if !added {
			continue // listed twice in the seed
		}
		if err := sd.record(audit.UserRoleAdded, identity.Target(id), fmt.Sprintf("gave role %s to user %s", r, display), map[string]any{"role": r}); err != nil {
			return err
		}
	}
	for _, r := range current {
		if slices.Contains(wanted, r) {
			continue
		}
		if err := sd.exec(`DELETE FROM user_roles WHERE user_id = ? AND role_name = ?`, id.String(), r); err != nil {
			return err
		}
		if err := revokeSubject(sd.ctx, sd.tx, id, sd.at); err != nil {
			return err
		}
		if err := sd.record(audit.UserRoleRemoved, identity.Target(id), fmt.Sprintf("took role %s from user %s", r, display), map[string]any{"role": r}); err != nil {
			return err
		}
	}
	return nil
}
