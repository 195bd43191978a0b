package serviceaccount

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// secretBytes is the entropy of a client secret: 256 bits.
const secretBytes = 32

// newSecret returns a fresh client secret, base64url without padding.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewPepper returns a fresh random pepper for EnsureClientSecretPepper.
func NewPepper() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

// hasher makes keyed hashes of client secrets. A secret has 256 bits of
// entropy, so a slow hash adds nothing but latency; the pepper, kept
// apart from the hashes, makes a stolen table of hashes useless alone.
type hasher struct {
	pepper []byte
	id     string // names the pepper in each hash, so a mismatch is visible
}

func newHasher(pepper []byte) hasher {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("gaia-iam client secret pepper id"))
	return hasher{pepper: pepper, id: hex.EncodeToString(m.Sum(nil)[:6])}
}

const hashScheme = "hmac-sha256"

// hash is scheme$pepper-id$base64url(HMAC-SHA256(pepper, secret)).
func (h hasher) hash(secret string) string {
	return hashScheme + "$" + h.id + "$" + base64.RawURLEncoding.EncodeToString(h.mac(secret))
}

func (h hasher) mac(secret string) []byte {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// verify reports whether secret matches stored, comparing in constant
// time, and whether stored was made with another pepper.
func (h hasher) verify(secret, stored string) (match, otherPepper bool) {
	parts := strings.Split(stored, "$")
	if len(parts) != 3 || parts[0] != hashScheme {
		return false, false
	}
	want, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false, false
	}
	ok := hmac.Equal(h.mac(secret), want)
	return ok && parts[1] == h.id, parts[1] != h.id
}
