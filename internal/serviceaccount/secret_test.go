package serviceaccount

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestNewSecret_Is256BitsOfBase64URL(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := newSecret()
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 || len(s) != 43 {
			t.Fatalf("secret %q: %d bytes, %v; want 32 bytes as 43 base64url characters", s, len(b), err)
		}
		if seen[s] {
			t.Fatal("a secret repeated")
		}
		seen[s] = true
	}
}

func TestHasher_VerifiesOnlyTheSecretUnderTheSamePepper(t *testing.T) {
	h := newHasher([]byte(strings.Repeat("a", 32)))
	other := newHasher([]byte(strings.Repeat("b", 32)))
	stored := h.hash("s3cret")
	if strings.Contains(stored, "s3cret") || !strings.HasPrefix(stored, "hmac-sha256$"+h.id+"$") {
		t.Fatalf("hash %q", stored)
	}
	for _, c := range []struct {
		name           string
		h              hasher
		secret, stored string
		match, other   bool
	}{
		{"right secret", h, "s3cret", stored, true, false},
		{"wrong secret", h, "s3cret!", stored, false, false},
		{"empty secret", h, "", stored, false, false},
		{"another pepper", other, "s3cret", stored, false, true},
		{"not a hash", h, "s3cret", "s3cret", false, false},
		{"bad base64", h, "s3cret", "hmac-sha256$" + h.id + "$!!", false, false},
		{"other scheme", h, "s3cret", strings.Replace(stored, "hmac-sha256", "sha256", 1), false, false},
	} {
		match, otherPepper := c.h.verify(c.secret, c.stored)
		if match != c.match || otherPepper != c.other {
			t.Errorf("%s: match %v, other pepper %v; want %v, %v", c.name, match, otherPepper, c.match, c.other)
		}
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"reporting": true, "inventory-sync": true, "etl.v2": true, "a": true, "9lives": true, strings.Repeat("a", 64): true,
		"": false, "Reporting": false, "-x": false, ".x": false, "has space": false, "ünï": false, strings.Repeat("a", 65): false,
	} {
		err := ValidateName(name)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrInvalidName)) {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
