package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
)

// ApplySeed makes the seed's permissions, roles and users exist as
// declared, in one of store's RBAC transactions, with an audit event by
// actor at at and a report line per change. A dry run does all of it, then
// rolls back. It trusts the seed: Service.ApplySeed validates it first.
func ApplySeed(ctx context.Context, store Store, seed Seed, actor string, at time.Time, dryRun bool) (SeedReport, error) {
	var report SeedReport
	err := store.RBACTx(ctx, func(tx Tx) error {
		sd := &seeding{tx: tx, actor: actor, at: at}
		if err := sd.apply(ctx, seed); err != nil {
			return err
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
		return SeedReport{}, err
	}
	return report, nil
}

// errDryRun rolls back a dry run's transaction once its report is taken.
var errDryRun = errors.New("dry run: roll back")

// seeding applies one seed inside one transaction and remembers what it did.
type seeding struct {
	tx     Tx
	actor  string
	at     time.Time
	report SeedReport
	events []audit.Event // appended last: see Tx
}

func (sd *seeding) apply(ctx context.Context, seed Seed) error {
	if err := sd.change(ctx, seed); err != nil {
		return err
	}
	for _, ev := range sd.events {
		if err := sd.tx.Audit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (sd *seeding) change(ctx context.Context, seed Seed) error {
	for _, p := range seed.Permissions {
		if err := sd.permission(ctx, p); err != nil {
			return err
		}
	}
	for _, r := range seed.Roles {
		if err := sd.role(ctx, r); err != nil {
			return err
		}
	}
	for _, u := range seed.Users {
		if err := sd.user(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// record notes a change for the report and its audit event for the end.
func (sd *seeding) record(action, target, line string, details map[string]any) {
	sd.report.Changes = append(sd.report.Changes, line)
	sd.events = append(sd.events, audit.Event{At: sd.at, Actor: sd.actor, Action: action, Target: target, Details: details})
}

func (sd *seeding) permission(ctx context.Context, p SeedPermission) error {
	current, err := sd.tx.Permission(ctx, p.Code)
	switch {
	case errors.Is(err, ErrPermissionNotFound):
		if err := sd.tx.CreatePermission(ctx, Permission{Code: p.Code, Description: p.Description}, sd.at); err != nil {
			return err
		}
		sd.record(audit.PermissionCreated, "permission:"+p.Code, "created permission "+p.Code, map[string]any{"description": p.Description})
	case err != nil:
		return err
	case current.Description != p.Description:
		if err := sd.tx.SetPermissionDescription(ctx, p.Code, p.Description); err != nil {
			return err
		}
		sd.record(audit.PermissionUpdated, "permission:"+p.Code, "updated permission "+p.Code, map[string]any{"description": p.Description})
	}
	return nil
}

func (sd *seeding) role(ctx context.Context, r SeedRole) error {
	current, err := sd.tx.Role(ctx, r.Name)
	name := current.Name
	switch {
	case errors.Is(err, ErrRoleNotFound):
		name = r.Name
		if err := sd.tx.CreateRole(ctx, name, r.Description, sd.at); err != nil {
			return err
		}
		sd.record(audit.RoleCreated, "role:"+name, "created role "+name, map[string]any{"description": r.Description})
	case err != nil:
		return err
	case current.Builtin:
		return fmt.Errorf("%w: role %q: %w", ErrInvalidSeed, name, ErrBuiltinRole)
	case current.Description != r.Description:
		if err := sd.tx.SetRoleDescription(ctx, name, r.Description); err != nil {
			return err
		}
		sd.record(audit.RoleUpdated, "role:"+name, "updated role "+name, map[string]any{"description": r.Description})
	}
	return sd.rolePermissions(ctx, name, current.Permissions, r.Permissions)
}

// rolePermissions gives the role exactly the wanted permissions.
func (sd *seeding) rolePermissions(ctx context.Context, name string, current, wanted []string) error {
	for _, p := range wanted {
		if slices.Contains(current, p) {
			continue
		}
		if added, err := sd.tx.Grant(ctx, name, p); err != nil {
			return fmt.Errorf("role %q: %w", name, err)
		} else if !added {
			continue // listed twice in the seed
		}
		sd.record(audit.RolePermissionAdd, "role:"+name, fmt.Sprintf("granted %s to role %s", p, name), map[string]any{"role": name, "permission": p})
	}
	for _, p := range current {
		if slices.Contains(wanted, p) {
			continue
		}
		if _, err := sd.tx.Revoke(ctx, name, p); err != nil {
			return err
		}
		sd.record(audit.RolePermissionDrop, "role:"+name, fmt.Sprintf("revoked %s from role %s", p, name), map[string]any{"role": name, "permission": p})
	}
	return nil
}

func (sd *seeding) user(ctx context.Context, su SeedUser) error {
	display, key := identity.NormalizeUsername(su.Username)
	u, err := sd.tx.User(ctx, key) // u.Username: the user's own spelling, not the seed's
	switch {
	case errors.Is(err, identity.ErrUserNotFound):
		if u, err = sd.createUser(ctx, su, display); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if err := sd.userState(ctx, u, identity.State(su.State)); err != nil {
			return err
		}
		if err := sd.userPassword(ctx, u, su.PasswordHash); err != nil {
			return err
		}
	}
	return sd.userRoles(ctx, u, su.Roles)
}

func (sd *seeding) createUser(ctx context.Context, su SeedUser, display string) (identity.User, error) {
	u := identity.User{ID: uuid.New(), Username: display, PasswordHash: su.PasswordHash,
		State: identity.StateActive, CreatedAt: sd.at, UpdatedAt: sd.at}
	if su.State != "" {
		u.State = identity.State(su.State)
	}
	if err := sd.tx.CreateUser(ctx, u); err != nil {
		return u, err
	}
	line := "created user " + display
	switch {
	case su.PasswordHash == "" && u.State != identity.StateActive:
		line += " (no password, " + string(u.State) + ")"
	case su.PasswordHash == "":
		line += " (no password)"
	case u.State != identity.StateActive:
		line += " (" + string(u.State) + ")"
	}
	details := map[string]any{"username": display, "state": string(u.State), "password_set": su.PasswordHash != ""}
	sd.record(audit.UserCreated, identity.Target(u.ID), line, details)
	return u, nil
}

// userState moves an existing user to the declared state; leaving active
// revokes the user's tokens and ends their console sessions, as
// identity.SetUserState does.
func (sd *seeding) userState(ctx context.Context, u identity.User, wanted identity.State) error {
	if wanted == "" || wanted == u.State {
		return nil
	}
	if err := sd.tx.SetUserState(ctx, u.ID, wanted, sd.at); err != nil {
		return err
	}
	action, line := audit.UserDisabled, "disabled user "+u.Username
	if wanted == identity.StateActive {
		action, line = audit.UserEnabled, "enabled user "+u.Username
	} else if err := sd.tx.RevokeSubject(ctx, u.ID, sd.at); err != nil {
		return err
	} else if err := sd.tx.EndConsoleSessions(ctx, u.ID); err != nil {
		return err
	}
	sd.record(action, identity.Target(u.ID), line,
		map[string]any{"username": u.Username, "previous_state": string(u.State), "state": string(wanted)})
	return nil
}

// userPassword stores an imported hash unless the user already has an
// argon2id one: that was set or upgraded here and is newer than any import.
// A new password ends the user's console sessions, as
// identity.SetPasswordHash does.
func (sd *seeding) userPassword(ctx context.Context, u identity.User, wanted string) error {
	if wanted == "" || wanted == u.PasswordHash || identity.IsArgon2id(u.PasswordHash) {
		return nil
	}
	if err := sd.tx.SetPasswordHash(ctx, u.ID, wanted, sd.at); err != nil {
		return err
	}
	if err := sd.tx.EndConsoleSessions(ctx, u.ID); err != nil {
		return err
	}
	sd.record(audit.UserPasswordSet, identity.Target(u.ID), "set password hash of user "+u.Username,
		map[string]any{"username": u.Username, "source": "seed"})
	return nil
}

// userRoles gives the user exactly the named roles; losing one revokes the
// user's tokens, which still claim it.
func (sd *seeding) userRoles(ctx context.Context, u identity.User, roles []string) error {
	var wanted []string
	for _, r := range roles {
		role, err := sd.tx.Role(ctx, r)
		if errors.Is(err, ErrRoleNotFound) {
			return fmt.Errorf("user %q: %w: %q", u.Username, ErrRoleNotFound, r)
		} else if err != nil {
			return err
		}
		wanted = append(wanted, role.Name)
	}
	current, err := sd.tx.UserRoles(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, r := range wanted {
		if slices.Contains(current, r) {
			continue
		}
		if added, err := sd.tx.AddUserRole(ctx, u.ID, r); err != nil {
			return err
		} else if !added {
			continue // listed twice in the seed
		}
		sd.record(audit.UserRoleAdded, identity.Target(u.ID), fmt.Sprintf("gave role %s to user %s", r, u.Username), map[string]any{"role": r})
	}
	for _, r := range current {
		if slices.Contains(wanted, r) {
			continue
		}
		if _, err := sd.tx.RemoveUserRole(ctx, u.ID, r); err != nil {
			return err
		}
		if err := sd.tx.RevokeSubject(ctx, u.ID, sd.at); err != nil {
			return err
		}
		sd.record(audit.UserRoleRemoved, identity.Target(u.ID), fmt.Sprintf("took role %s from user %s", r, u.Username), map[string]any{"role": r})
	}
	return nil
}
