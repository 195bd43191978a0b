package authz_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/authz"
)

// Password hashes and account states come only from imports, in code: a
// YAML seed file that names them is refused, not silently obeyed.
func TestParseSeed_CannotSetPasswordHashOrState(t *testing.T) {
	for _, field := range []string{"passwordhash: x", "password_hash: x", "state: disabled"} {
		yaml := "users:\n  - username: carol\n    " + field + "\n"
		_, err := authz.ParseSeed(strings.NewReader(yaml))
		if !errors.Is(err, authz.ErrInvalidSeed) {
			t.Errorf("seed with %q = %v, want ErrInvalidSeed", field, err)
		}
	}
}

func TestSeedValidate_UserStates(t *testing.T) {
	for state, ok := range map[string]bool{"": true, "active": true, "disabled": true, "locked": false, "Active": false} {
		err := authz.Seed{Users: []authz.SeedUser{{Username: "carol", State: state}}}.Validate()
		if (err == nil) != ok {
			t.Errorf("Validate with state %q = %v, want ok=%v", state, err, ok)
		}
	}
}
