package identity_test

import (
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/identity"
)

func TestHashPassword_PHCStringVerifies(t *testing.T) {
	h, err := identity.HashPassword("correct horse", identity.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry its parameters in PHC form", h)
	}
	if !identity.VerifyPassword("correct horse", h) {
		t.Fatal("the right password does not verify")
	}
	if identity.VerifyPassword("correct horsE", h) {
		t.Fatal("a wrong password verifies")
	}
	again, _ := identity.HashPassword("correct horse", identity.DefaultArgon2)
	if again == h {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestVerifyPassword_ReadsParametersFromTheHash(t *testing.T) {
	cheap := identity.Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 2, SaltLen: 16, KeyLen: 32}
	h, err := identity.HashPassword("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "$m=1024,t=1,p=2$") || !identity.VerifyPassword("pw", h) {
		t.Fatalf("hash %q with other parameters does not verify", h)
	}
}

func TestVerifyPassword_MalformedHashesNeverMatch(t *testing.T) {
	good, _ := identity.HashPassword("pw", identity.DefaultArgon2)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":          "",
		"unusable":       "!",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"wrong version":  strings.Replace(good, "v=19", "v=16", 1),
		"zero memory":    strings.Replace(good, "m=19456", "m=0", 1),
		"huge memory":    strings.Replace(good, "m=19456", "m=99999999", 1),
		"bad salt":       strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"truncated":      strings.Join(parts[:5], "$"),
		"short key":      strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"django pbkdf2":  "pbkdf2_sha256$600000$salt$hash",
		"extra segments": good + "$x",
	} {
		if identity.VerifyPassword("pw", h) {
			t.Errorf("%s: malformed hash %q matched", name, h)
		}
	}
}

func TestNormalizeUsername_FoldsCaseAndCompatibilityForms(t *testing.T) {
	_, want := identity.NormalizeUsername("alice")
	for _, in := range []string{"Alice", "ALICE", "Ａｌｉｃｅ", " alice "} {
		if _, key := identity.NormalizeUsername(in); key != want {
			t.Errorf("key(%q) = %q, want %q", in, key, want)
		}
	}
	if display, _ := identity.NormalizeUsername("Ａｌｉｃｅ"); display != "Alice" {
		t.Errorf("display form %q, want NFKC Alice", display)
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := identity.HashPassword("correct horse battery staple", identity.DefaultArgon2); err != nil {
			b.Fatal(err)
		}
	}
}
