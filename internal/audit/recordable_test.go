package audit

import (
	"strings"
	"testing"
)

func TestRecordable_PrintableValidAndBounded(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"alice", 150, "alice"},
		{"al\x00ice\n", 150, "al\uFFFDice\uFFFD"},
		{"bad\xffutf8", 150, "bad\uFFFDutf8"},
		{strings.Repeat("ŋ", 100), 64, strings.Repeat("ŋ", 64)},
		{"", 10, ""},
	} {
		if got := Recordable(tc.in, tc.n); got != tc.want {
			t.Errorf("Recordable(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
