package audit

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Recordable is text a client sent unchecked (an attempted username, a
// client id) as an audit row or a throttling record may hold it: at most n
// characters, with control characters and invalid UTF-8 replaced by
// U+FFFD. PostgreSQL holds neither a NUL byte nor invalid UTF-8, and what
// was sent must still be recorded.
func Recordable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
