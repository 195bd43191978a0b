package django

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

// PermissionMap maps Django permissions, as user.has_perm names them
// ("inventory.change_item"), to the Gaia permission codes that replace
// them. A Django permission it does not name is not imported.
type PermissionMap map[string][]string

var djangoPermission = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\.[^.\s]+$`)

// ParsePermissionMap reads a YAML mapping of Django permission to one Gaia
// permission code or a list of them:
//
//	inventory.view_item: inventory.read
//	inventory.change_item: [inventory.read, inventory.write]
func ParsePermissionMap(r io.Reader) (PermissionMap, error) {
	var raw map[string]any
	if err := yaml.NewDecoder(r).Decode(&raw); err != nil && err != io.EOF {
		return nil, fmt.Errorf("want a YAML mapping of Django permission to Gaia permission: %v", err)
	}
	m := PermissionMap{}
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		if !djangoPermission.MatchString(key) {
			return nil, fmt.Errorf("%q: want a Django permission as app_label.codename", key)
		}
		var codes []string
		switch v := raw[key].(type) {
		case string:
			codes = []string{v}
		case []any:
			for _, c := range v {
				s, ok := c.(string)
				if !ok {
					return nil, fmt.Errorf("%s: want Gaia permission codes, got %v", key, c)
				}
				codes = append(codes, s)
			}
		default:
			return nil, fmt.Errorf("%s: want a Gaia permission code or a list of them, got %v", key, v)
		}
		for _, c := range codes {
			if err := authz.ValidatePermissionCode(c); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
		m[key] = codes
	}
	return m, nil
}

// Current is what the IAM already holds, so that an import leaves the
// descriptions of existing roles and permissions alone.
type Current struct {
	Permissions []authz.Permission
	Roles       []authz.Role
}

// Report lists what an import leaves out; none of it stops the import.
type Report struct {
	// Unmapped are Django permissions that groups hold and the map does
	// not name, with those groups.
	Unmapped []Unmapped
	// NoPassword are users imported without a password: theirs is
	// unusable or of an algorithm Gaia IAM cannot verify.
	NoPassword []NoPassword
	// DirectPermissions are users' own permissions (user_permissions):
	// Gaia grants permissions only through roles.
	DirectPermissions []DirectPermissions
	// UnusedMappings are map entries that no group holds.
	UnusedMappings []string
	// Ignored counts records of other models, by model.
	Ignored map[string]int
}

// Unmapped is a Django permission the map does not name.
type Unmapped struct {
	Permission string
	Groups     []string
}

// NoPassword is a user who cannot log in until given a password.
type NoPassword struct {
	Username string
	Reason   string
}

// DirectPermissions are one user's own Django permissions.
type DirectPermissions struct {
	Username    string
	Permissions []string
}

// ToSeed turns a dump into a seed that makes every group a role with the
// mapped permissions, and every user a user with their groups' roles
// (superusers also iam-admin), their state (is_active) and their password
// hash when Gaia IAM can verify it. Applying it twice changes nothing the
// second time.
func ToSeed(d Dump, m PermissionMap, cur Current) (authz.Seed, Report, error) {
	report := Report{Ignored: d.Ignored}
	var seed authz.Seed

	existingPerm := map[string]bool{}
	for _, p := range cur.Permissions {
		existingPerm[p.Code] = true
	}
	sources := map[string][]string{} // Gaia code → Django permissions
	for _, dj := range slices.Sorted(maps.Keys(m)) {
		for _, code := range m[dj] {
			sources[code] = append(sources[code], dj)
		}
	}
	for _, code := range slices.Sorted(maps.Keys(sources)) {
		if !existingPerm[code] {
			seed.Permissions = append(seed.Permissions, authz.SeedPermission{
				Code: code, Description: "From Django " + strings.Join(slices.Compact(sources[code]), ", ")})
		}
	}

	roles, err := groupRoles(d.Groups, m, cur.Roles, &report)
	if err != nil {
		return authz.Seed{}, Report{}, err
	}
	seed.Roles = roles

	for _, u := range d.Users {
		su, err := seedUser(u, &report)
		if err != nil {
			return authz.Seed{}, Report{}, err
		}
		seed.Users = append(seed.Users, su)
	}
	if err := seed.Validate(); err != nil {
		return authz.Seed{}, Report{}, err
	}
	return seed, report, nil
}

func groupRoles(groups []Group, m PermissionMap, current []authz.Role, report *Report) ([]authz.SeedRole, error) {
	existing := map[string]authz.Role{}
	for _, r := range current {
		existing[strings.ToLower(r.Name)] = r
	}
	used := map[string]bool{}
	unmapped := map[string][]string{}
	byRole := map[string]string{} // lower-case role name → group record
	var roles []authz.SeedRole
	for _, g := range groups {
		if err := authz.ValidateRoleName(g.Name); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidDump, g.Record, err)
		}
		key := strings.ToLower(g.Name)
		if r, ok := existing[key]; (ok && r.Builtin) || key == authz.AdminRole {
			return nil, fmt.Errorf("%w: %s: %s is Gaia IAM's built-in role; rename the group in Django", ErrInvalidDump, g.Record, authz.AdminRole)
		}
		if other, ok := byRole[key]; ok {
			return nil, fmt.Errorf("%w: %s and %s would be one role (role names are case-insensitive)", ErrInvalidDump, g.Record, other)
		}
		byRole[key] = g.Record

		role := authz.SeedRole{Name: g.Name, Description: "Django group " + g.Name, Permissions: []string{}}
		if r, ok := existing[key]; ok {
			role.Description = r.Description
		}
		for _, dj := range g.Permissions {
			codes, ok := m[dj]
			if !ok {
				unmapped[dj] = append(unmapped[dj], g.Name)
				continue
			}
			used[dj] = true
			role.Permissions = append(role.Permissions, codes...)
		}
		slices.Sort(role.Permissions)
		role.Permissions = slices.Compact(role.Permissions)
		roles = append(roles, role)
	}
	for _, dj := range slices.Sorted(maps.Keys(unmapped)) {
		groups := unmapped[dj]
		slices.Sort(groups)
		report.Unmapped = append(report.Unmapped, Unmapped{Permission: dj, Groups: slices.Compact(groups)})
	}
	for _, dj := range slices.Sorted(maps.Keys(m)) {
		if !used[dj] {
			report.UnusedMappings = append(report.UnusedMappings, dj)
		}
	}
	return roles, nil
}

func seedUser(u User, report *Report) (authz.SeedUser, error) {
	display, _ := identity.NormalizeUsername(u.Username)
	if err := identity.ValidateUsername(display); err != nil {
		return authz.SeedUser{}, fmt.Errorf("%w: %s: %v", ErrInvalidDump, u.Record, err)
	}
	su := authz.SeedUser{Username: u.Username, Roles: slices.Clone(u.Groups), State: string(identity.StateActive)}
	if u.IsSuperuser {
		su.Roles = append(su.Roles, authz.AdminRole)
	}
	if su.Roles == nil {
		su.Roles = []string{}
	}
	if !u.IsActive {
		su.State = string(identity.StateDisabled)
	}
	if err := identity.CheckHash(u.Password); err != nil {
		report.NoPassword = append(report.NoPassword, NoPassword{Username: display, Reason: err.Error()})
	} else {
		su.PasswordHash = u.Password
	}
	if len(u.DirectPermissions) > 0 {
		perms := slices.Sorted(slices.Values(u.DirectPermissions))
		report.DirectPermissions = append(report.DirectPermissions, DirectPermissions{Username: display, Permissions: slices.Compact(perms)})
	}
	return su, nil
}
