package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/identity"
)

// djangoVectors are hashes written by Django's own hashers, with the
// passwords they hash. None is produced by code of ours.
var djangoVectors = []struct {
	source, password, encoded string
}{
	// django/django tests/auth_tests/test_hashers.py, Django 4.1
	// (PBKDF2 iterations 390000): test_pbkdf2, test_low_level_pbkdf2,
	// test_low_level_pbkdf2_sha1.
	{"Django 4.1 test_pbkdf2", "lètmein", "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c="},
	{"Django 4.1 test_low_level_pbkdf2", "lètmein", "pbkdf2_sha256$390000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8="},
	{"Django 4.1 test_low_level_pbkdf2_sha1", "lètmein", "pbkdf2_sha1$390000$seasalt2$aDapRanzW8aHTz97v2TcfHzWD+I="},
	// The same tests in Django 1.11 (30000 iterations): old hashes keep
	// their own iteration count.
	{"Django 1.11 test_pbkdf2", "lètmein", "pbkdf2_sha256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY="},
	{"Django 1.11 test_low_level_pbkdf2_sha1", "lètmein", "pbkdf2_sha1$30000$seasalt2$pMzU1zNPcydf6wjnJFbiVKwgULc="},
	// Django 4.1 TestUtilsHashPassArgon2.test_argon2 ("old hashes with
	// version attribute") and test_argon2_version_upgrade.
	{"Django 4.1 test_argon2 argon2i", "secret", "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q"},
	{"Django 4.1 test_argon2_version_upgrade", "secret", "argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCAUXRhJXCXdw"},
	// Django's bcrypt tests use random salts; these are passlib's
	// django_bcrypt_sha256 and django_bcrypt known hashes
	// (passlib/tests/test_handlers_django.py, "generated via django 1.6
	// hasher"). 72+ character passwords prove that bcrypt_sha256 does not
	// truncate.
	{"passlib django_bcrypt_sha256 blank", "", "bcrypt_sha256$$2a$06$/3OeRpbOf8/l6nPPRdZPp.nRiyYqPobEZGdNRBWihQhiFDh1ws1tu"},
	{"passlib django_bcrypt_sha256 UPASS_LETMEIN", "lètmein", "bcrypt_sha256$$2a$08$NDjSAIcas.EcoxCRiArvT.MkNiPYVhrsrnJsRkLueZOoV1bsQqlmC"},
	{"passlib django_bcrypt_sha256 UPASS_TABLE", "t\u00e1\u0411\u2113\u0259", "bcrypt_sha256$$2a$06$kCXUnRFQptGg491siDKNTu8RxjBGSjALHRuvhPYNFsa4Ea5d9M48u"},
	{"passlib django_bcrypt_sha256 72 chars", strings.Repeat("abc123", 12), "bcrypt_sha256$$2a$06$Tg/oYyZTyAf.Nb3qSgN61OySmyXA8FoY4PjGizjE1QSDfuL5MXNni"},
	{"passlib django_bcrypt_sha256 75 chars", strings.Repeat("abc123", 12) + "qwr", "bcrypt_sha256$$2a$06$Tg/oYyZTyAf.Nb3qSgN61Ocy0BEz1RK6xslSNi8PlaLX2pe7x/KQG"},
	{"passlib django_bcrypt_sha256 75 chars again", strings.Repeat("abc123", 12) + "xyz", "bcrypt_sha256$$2a$06$Tg/oYyZTyAf.Nb3qSgN61OvY2zoRVUa2Pugv2ExVOUT2YmhvxUFUa"},
	{"passlib django_bcrypt", "abcdefghijklmnopqrstuvwxyz", "bcrypt$$2a$10$fVH8e28OQRj9tqiDXs1e1uxpsjN0c7II7YPKXua2NAKYvM6iQk7dq"},
}

func TestVerifyPassword_DjangoTestVectors(t *testing.T) {
	for _, v := range djangoVectors {
		t.Run(v.source, func(t *testing.T) {
			t.Parallel()
			if err := identity.CheckHash(v.encoded); err != nil {
				t.Fatalf("CheckHash: %v, want a supported hash", err)
			}
			if !identity.VerifyPassword(v.password, v.encoded) {
				t.Errorf("the password Django hashed does not verify")
			}
			if wrong := v.password + "z"; identity.VerifyPassword(wrong, v.encoded) {
				t.Errorf("wrong password %q verifies", wrong)
			}
			if identity.IsArgon2id(v.encoded) {
				t.Errorf("a Django hash counts as argon2id: it would never be upgraded")
			}
		})
	}
}

func TestVerifyPassword_BcryptSHA256DoesNotTruncate(t *testing.T) {
	long := strings.Repeat("abc123", 12)
	for _, v := range djangoVectors {
		if strings.HasPrefix(v.encoded, "bcrypt_sha256$") && strings.HasPrefix(v.password, long) && v.password != long {
			if identity.VerifyPassword(long, v.encoded) {
				t.Errorf("%s: its first 72 characters verify", v.source)
			}
		}
	}
}

func TestCheckHash_UnusableAndUnsupportedNeverVerify(t *testing.T) {
	for _, tc := range []struct {
		name, password, encoded string
		want                    error
	}{
		{"empty", "", "", identity.ErrUnusableHash},
		{"set_unusable_password", "lètmein", "!Jz8sQ4mFh0dLAy6nG2wXuV1bR3kTe9pCiM5oN7aZ", identity.ErrUnusableHash},
		{"unusable marking a usable hash", "lètmein", "!pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", identity.ErrUnusableHash},
		// Django's own test vectors of hashers this IAM does not support.
		{"md5", "lètmein", "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", identity.ErrUnsupportedHash},
		{"sha1", "lètmein", "sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8", identity.ErrUnsupportedHash},
		{"unsalted md5", "lètmein", "88a434c88cca4e900f7874cd98123f43", identity.ErrUnsupportedHash},
		{"scrypt", "lètmein", "scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==", identity.ErrUnsupportedHash},
		{"argon2 1.0 (no version)", "secret", "argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg", identity.ErrUnsupportedHash},
		{"lolcat", "lètmein", "lolcat$salt$hash", identity.ErrUnsupportedHash},
		// Supported algorithms, broken encodings.
		{"pbkdf2 bad base64", "lètmein", "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c", identity.ErrUnsupportedHash},
		{"pbkdf2 short hash", "lètmein", "pbkdf2_sha256$390000$seasalt$aDapRanzW8aHTz97v2TcfHzWD+I=", identity.ErrUnsupportedHash},
		{"pbkdf2 zero iterations", "lètmein", "pbkdf2_sha256$0$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", identity.ErrUnsupportedHash},
		{"pbkdf2 too many iterations", "lètmein", "pbkdf2_sha256$99999999999$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", identity.ErrUnsupportedHash},
		{"pbkdf2 missing salt", "lètmein", "pbkdf2_sha256$390000$$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", identity.ErrUnsupportedHash},
		{"pbkdf2 extra field", "lètmein", "pbkdf2_sha256$390000$sea$salt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", identity.ErrUnsupportedHash},
		{"argon2d", "secret", "argon2$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", identity.ErrUnsupportedHash},
		{"argon2 version 16", "secret", "argon2$argon2i$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", identity.ErrUnsupportedHash},
		{"argon2 zero parallelism", "secret", "argon2$argon2i$v=19$m=8,t=1,p=0$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", identity.ErrUnsupportedHash},
		{"bcrypt_sha256 without bcrypt", "lètmein", "bcrypt_sha256$$NDjSAIcas.EcoxCRiArvT.MkNiPYVhrsrnJsRkLueZOoV1bsQqlmC", identity.ErrUnsupportedHash},
		{"bcrypt cost 31", "lètmein", "bcrypt_sha256$$2a$31$NDjSAIcas.EcoxCRiArvT.MkNiPYVhrsrnJsRkLueZOoV1bsQqlmC", identity.ErrUnsupportedHash},
		{"own argon2i", "pw", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", identity.ErrUnsupportedHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := identity.CheckHash(tc.encoded)
			if !errors.Is(err, tc.want) {
				t.Fatalf("CheckHash = %v, want %v", err, tc.want)
			}
			if tc.encoded != "" && len(tc.encoded) > 12 && strings.Contains(err.Error(), tc.encoded[len(tc.encoded)-12:]) {
				t.Errorf("CheckHash error %q quotes the hash", err)
			}
			if identity.VerifyPassword(tc.password, tc.encoded) {
				t.Errorf("VerifyPassword(%q) = true on an unusable or unsupported hash", tc.password)
			}
		})
	}
}

func TestHashAlgorithm_NamesWithoutQuoting(t *testing.T) {
	own, _ := identity.HashPassword("pw", identity.Argon2Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})
	for encoded, want := range map[string]string{
		"":   "none",
		"!x": "unusable",
		own:  "argon2id",
		"pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=": "pbkdf2_sha256",
		"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q":        "argon2",
		"88a434c88cca4e900f7874cd98123f43":                                          "unknown",
		"Secret Hash$x":                                                             "unknown",
	} {
		if got := identity.HashAlgorithm(encoded); got != want {
			t.Errorf("HashAlgorithm(%q) = %q, want %q", encoded, got, want)
		}
	}
}
