package identity

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxUsernameLen matches Django's username column, so imported users fit.
const MaxUsernameLen = 150

// NormalizeUsername returns the username as stored (NFKC) and its lookup key
// (NFKC, then case folded). Two usernames with the same key are the same user.
func NormalizeUsername(raw string) (display, key string) {
	display = norm.NFKC.String(strings.TrimSpace(raw))
	key = norm.NFKC.String(cases.Fold().String(display))
	return display, key
}

// ValidateUsername checks a username for a new account.
func ValidateUsername(display string) error {
	if !utf8.ValidString(display) {
		return fmt.Errorf("%w: must be valid UTF-8", ErrInvalidUsername)
	}
	n := len([]rune(display))
	if n == 0 || n > MaxUsernameLen {
		return fmt.Errorf("%w: must be 1 to %d characters", ErrInvalidUsername, MaxUsernameLen)
	}
	for _, r := range display {
		if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: must not contain spaces or control characters", ErrInvalidUsername)
		}
	}
	return nil
}
