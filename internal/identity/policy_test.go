package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePassword_Rules(t *testing.T) {
	for _, tc := range []struct {
		username, password string
		problem            string // "" when accepted
	}{
		{"carol", "twelve chars", ""},
		{"carol", "eleven char", "12 to 1024"},
		{"carol", strings.Repeat("é", 11), "12 to 1024"}, // 22 bytes, 11 characters
		{"carol", strings.Repeat("é", 12), ""},
		{"carol", strings.Repeat("x", 1024), ""},
		{"carol", strings.Repeat("x", 1025), "12 to 1024"},
		{"carol", "carolcarolcarol", "must not contain the username"},
		{"carol", "my name is CAROL!", "must not contain the username"},
		{"Ｃarol", "my name is carol!", "must not contain the username"}, // full-width C folds to c
		{"al", "al-is-a-short-name", ""},                                // too short a name to forbid
		{"carol", "qwertyuiop123", "commonly used"},
		{"carol", "QWERTYUIOP123", "commonly used"},
		{"carol", "Administrator", "commonly used"},
		{"carol", "qwertyuiop1234567", ""},
	} {
		err := ValidatePassword(tc.username, tc.password)
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("ValidatePassword(%q, %q) = %v, want accepted", tc.username, tc.password, err)
		case tc.problem != "" && (!errors.Is(err, ErrInvalidPassword) || !strings.Contains(err.Error(), tc.problem)):
			t.Errorf("ValidatePassword(%q, %q) = %v, want ErrInvalidPassword saying %q", tc.username, tc.password, err, tc.problem)
		case err != nil && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.password)):
			t.Errorf("ValidatePassword(%q, %q) = %v: the error repeats the password", tc.username, tc.password, err)
		}
	}
}

func TestCommonPasswords_ListIsLoaded(t *testing.T) {
	if n := len(commonPasswords); n < 300 {
		t.Fatalf("%d common passwords loaded, want the shipped list (300 or more)", n)
	}
	for p := range commonPasswords {
		if len([]rune(p)) < MinPasswordLen {
			t.Errorf("%q is shorter than the minimum: the length rule covers it", p)
		}
	}
}
