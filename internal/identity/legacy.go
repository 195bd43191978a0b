package identity

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Legacy hashes are Django's, imported with its users so that they keep
// their passwords; the first successful login replaces one with argon2id.
// They are only ever verified here, never written.

// Why a stored hash can never verify a password.
var (
	// ErrUnusableHash is no hash at all: empty, or Django's "!"-prefixed
	// mark of set_unusable_password().
	ErrUnusableHash = errors.New("unusable password")
	// ErrUnsupportedHash is a hash of an algorithm, version or cost this
	// IAM does not verify, or a malformed one.
	ErrUnsupportedHash = errors.New("unsupported password hash")
)

// Bounds on the cost a stored hash may ask of a login, which anyone who
// knows the username can trigger. Django's defaults are far below them.
const (
	maxPBKDF2Iterations = 10_000_000
	maxBcryptCost       = 16
)

// CheckHash reports, without computing any hash, whether encoded could
// verify a password: nil for argon2id and for the Django formats
// pbkdf2_sha256, pbkdf2_sha1, argon2 (argon2id or argon2i, version 19),
// bcrypt_sha256 and bcrypt; ErrUnusableHash or ErrUnsupportedHash, with
// the reason, otherwise. The error never quotes the hash.
func CheckHash(encoded string) error {
	if IsArgon2id(encoded) {
		if _, _, _, err := parseArgon2id(encoded); err != nil {
			return fmt.Errorf("%w: malformed argon2id hash", ErrUnsupportedHash)
		}
		return nil
	}
	_, err := parseDjango(encoded)
	return err
}

// HashAlgorithm names the algorithm of a stored hash for audit events and
// reports ("argon2id", "pbkdf2_sha256", ...), never any part of the hash.
func HashAlgorithm(encoded string) string {
	switch {
	case encoded == "":
		return "none"
	case strings.HasPrefix(encoded, "!"):
		return "unusable"
	case IsArgon2id(encoded):
		return "argon2id"
	}
	if alg, _, ok := strings.Cut(encoded, "$"); ok && algorithmName.MatchString(alg) {
		return alg
	}
	return "unknown"
}

var algorithmName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// djangoHash is a parsed legacy hash, ready to check passwords against.
type djangoHash interface {
	verify(password string) bool
}

func parseDjango(encoded string) (djangoHash, error) {
	if encoded == "" || strings.HasPrefix(encoded, "!") {
		return nil, ErrUnusableHash
	}
	alg, rest, _ := strings.Cut(encoded, "$")
	switch alg {
	case "pbkdf2_sha256":
		return parsePBKDF2(alg, rest, sha256.New)
	case "pbkdf2_sha1":
		return parsePBKDF2(alg, rest, sha1.New)
	case "argon2":
		return parseDjangoArgon2(rest)
	case "bcrypt_sha256":
		return parseBcrypt(alg, rest, true)
	case "bcrypt":
		return parseBcrypt(alg, rest, false)
	}
	if name := HashAlgorithm(encoded); name != "unknown" {
		return nil, fmt.Errorf("%w: algorithm %q", ErrUnsupportedHash, name)
	}
	return nil, fmt.Errorf("%w: unrecognised format", ErrUnsupportedHash)
}

func malformed(alg string) error { return fmt.Errorf("%w: malformed %s hash", ErrUnsupportedHash, alg) }

// pbkdf2Hash is Django's PBKDF2PasswordHasher and PBKDF2SHA1PasswordHasher:
// <algorithm>$<iterations>$<salt>$<base64 of PBKDF2-HMAC, digest-sized>.
type pbkdf2Hash struct {
	digest     func() hash.Hash
	iterations int
	salt       string
	key        []byte
}

func parsePBKDF2(alg, rest string, digest func() hash.Hash) (djangoHash, error) {
	parts := strings.Split(rest, "$")
	if len(parts) != 3 || parts[1] == "" {
		return nil, malformed(alg)
	}
	iterations, err := strconv.Atoi(parts[0])
	if err != nil || iterations < 1 {
		return nil, malformed(alg)
	}
	if iterations > maxPBKDF2Iterations {
		return nil, fmt.Errorf("%w: %s with %d iterations, more than %d", ErrUnsupportedHash, alg, iterations, maxPBKDF2Iterations)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(key) != digest().Size() {
		return nil, malformed(alg)
	}
	return pbkdf2Hash{digest: digest, iterations: iterations, salt: parts[1], key: key}, nil
}

func (h pbkdf2Hash) verify(password string) bool {
	got, err := pbkdf2.Key(h.digest, password, []byte(h.salt), h.iterations, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(got, h.key) == 1
}

// argon2Hash is Django's Argon2PasswordHasher: "argon2" followed by
// argon2-cffi's PHC string, $argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>.
// Hashes without a version are argon2 1.0 (0x10), which x/crypto does not
// implement; they are unsupported.
type argon2Hash struct {
	variant string
	params  Argon2Params
	salt    []byte
	key     []byte
}

func parseDjangoArgon2(rest string) (djangoHash, error) {
	variant, after, _ := strings.Cut(rest, "$")
	if variant != "argon2id" && variant != "argon2i" {
		return nil, fmt.Errorf("%w: argon2 variant %q", ErrUnsupportedHash, truncate(variant, 16))
	}
	if !strings.HasPrefix(after, "v=") {
		return nil, fmt.Errorf("%w: argon2 hash without a version (argon2 1.0)", ErrUnsupportedHash)
	}
	if !strings.HasPrefix(after, fmt.Sprintf("v=%d$", argon2.Version)) {
		return nil, fmt.Errorf("%w: argon2 version other than %d", ErrUnsupportedHash, argon2.Version)
	}
	p, salt, key, err := parseArgon2("$"+rest, variant)
	if err != nil {
		return nil, malformed("argon2")
	}
	return argon2Hash{variant: variant, params: p, salt: salt, key: key}, nil
}

func (h argon2Hash) verify(password string) bool {
	derive := argon2.IDKey
	if h.variant == "argon2i" {
		derive = argon2.Key
	}
	p := h.params
	got := derive([]byte(password), h.salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// bcryptHash is Django's BCryptSHA256PasswordHasher (bcrypt over the hex
// SHA-256 of the password, so long passwords are not truncated) and
// BCryptPasswordHasher (bcrypt over the password): <algorithm>$<bcrypt
// string>, the bcrypt string being $2b$<cost>$<salt and hash>.
type bcryptHash struct {
	hash    []byte
	prehash bool
}

func parseBcrypt(alg, rest string, prehash bool) (djangoHash, error) {
	if !strings.HasPrefix(rest, "$2") {
		return nil, malformed(alg)
	}
	cost, err := bcrypt.Cost([]byte(rest))
	if err != nil {
		return nil, malformed(alg)
	}
	if cost > maxBcryptCost {
		return nil, fmt.Errorf("%w: %s with cost %d, more than %d", ErrUnsupportedHash, alg, cost, maxBcryptCost)
	}
	return bcryptHash{hash: []byte(rest), prehash: prehash}, nil
}

func (h bcryptHash) verify(password string) bool {
	if h.prehash {
		sum := sha256.Sum256([]byte(password))
		password = hex.EncodeToString(sum[:])
	}
	return bcrypt.CompareHashAndPassword(h.hash, []byte(password)) == nil
}
