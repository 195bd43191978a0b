package identity

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Password length bounds for new passwords, in characters (code points).
// The upper bound keeps hashing cost bounded; login accepts any input and
// simply fails.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// minUsernameInPassword is the shortest username a password may not
// contain: a shorter one would forbid too many passwords for too little.
const minUsernameInPassword = 3

//go:embed common-passwords.txt
var commonPasswordList string

// commonPasswords are the shipped common passwords, folded as foldPassword
// folds.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonPasswordList))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			m[foldPassword(line)] = true
		}
	}
	return m
}()

// foldPassword is how passwords compare with the list and the username:
// Unicode-normalised and case-folded, as usernames are.
func foldPassword(p string) string {
	_, key := NormalizeUsername(p)
	return key
}

// ValidatePassword applies the password policy to a new password of
// username: 12 to 1024 characters, not containing the username, and not a
// commonly used password. Errors name the rule and never the password.
func ValidatePassword(username, password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen || n > MaxPasswordLen:
		return fmt.Errorf("%w: must be %d to %d characters", ErrInvalidPassword, MinPasswordLen, MaxPasswordLen)
	case commonPasswords[foldPassword(password)]:
		return fmt.Errorf("%w: it is on the list of commonly used passwords", ErrInvalidPassword)
	}
	_, user := NormalizeUsername(username)
	if utf8.RuneCountInString(user) >= minUsernameInPassword && strings.Contains(foldPassword(password), user) {
		return fmt.Errorf("%w: must not contain the username", ErrInvalidPassword)
	}
	return nil
}
