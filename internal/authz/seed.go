package authz

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gaia-platform/iam/internal/identity"
)

// Seed declares permissions, roles and users' roles. Applying it makes the
// declared things exist exactly as declared: a listed role gets exactly the
// listed permissions, a listed user exactly the listed roles. Things the
// seed does not mention are left alone.
type Seed struct {
	Permissions []SeedPermission `yaml:"permissions"`
	Roles       []SeedRole       `yaml:"roles"`
	Users       []SeedUser       `yaml:"users"`
}

// SeedPermission declares a permission.
type SeedPermission struct {
	Code        string `yaml:"code"`
	Description string `yaml:"description"`
}

// SeedRole declares a role and its complete set of permissions.
type SeedRole struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Permissions []string `yaml:"permissions"`
}

// SeedUser declares a user's complete set of roles. A user that does not
// exist yet is created active and without a password unless PasswordHash
// and State say otherwise.
//
// PasswordHash and State are for imports from another system and cannot be
// set from a YAML seed file. PasswordHash (empty: leave the password alone)
// replaces a stored hash only when that is empty or not argon2id, so a
// password the user has since set or upgraded here is kept. State (empty:
// leave as is) is "active" or "disabled"; leaving active revokes the
// user's tokens.
type SeedUser struct {
	Username     string   `yaml:"username"`
	Roles        []string `yaml:"roles"`
	PasswordHash string   `yaml:"-"`
	State        string   `yaml:"-"`
}

// SeedReport lists what applying a seed changed, one line per change.
type SeedReport struct {
	Changes []string
}

// ParseSeed reads a seed from YAML, rejecting unknown fields.
func ParseSeed(r io.Reader) (Seed, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Seed{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var s Seed
	if err := dec.Decode(&s); err != nil && err != io.EOF {
		return Seed{}, fmt.Errorf("%w: %v", ErrInvalidSeed, err)
	}
	return s, s.Validate()
}

// Validate checks names and codes and rejects duplicates within the seed.
// References to permissions and roles that exist only in the database are
// checked when the seed is applied.
func (s Seed) Validate() error {
	codes := map[string]bool{}
	for _, p := range s.Permissions {
		if err := ValidatePermissionCode(p.Code); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSeed, err)
		}
		if codes[p.Code] {
			return fmt.Errorf("%w: permission %q is declared twice", ErrInvalidSeed, p.Code)
		}
		codes[p.Code] = true
	}
	roles := map[string]bool{}
	for _, r := range s.Roles {
		if err := ValidateRoleName(r.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSeed, err)
		}
		if r.Name == AdminRole {
			return fmt.Errorf("%w: role %q: %v", ErrInvalidSeed, r.Name, ErrBuiltinRole)
		}
		if roles[strings.ToLower(r.Name)] {
			return fmt.Errorf("%w: role %q is declared twice", ErrInvalidSeed, r.Name)
		}
		roles[strings.ToLower(r.Name)] = true
		for _, p := range r.Permissions {
			if err := ValidatePermissionCode(p); err != nil {
				return fmt.Errorf("%w: role %q: %v", ErrInvalidSeed, r.Name, err)
			}
		}
	}
	users := map[string]bool{}
	for _, u := range s.Users {
		display, key := identity.NormalizeUsername(u.Username)
		if err := identity.ValidateUsername(display); err != nil {
			return fmt.Errorf("%w: user %q: %v", ErrInvalidSeed, u.Username, err)
		}
		if users[key] {
			return fmt.Errorf("%w: user %q is declared twice", ErrInvalidSeed, u.Username)
		}
		switch identity.State(u.State) {
		case "", identity.StateActive, identity.StateDisabled:
		default:
			return fmt.Errorf("%w: user %q: state %q: want active or disabled", ErrInvalidSeed, u.Username, u.State)
		}
		users[key] = true
	}
	return nil
}
