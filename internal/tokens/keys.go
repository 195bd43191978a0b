// Package tokens issues and verifies Gaia IAM's RS256 access tokens and
// manages the keys that sign them and the refresh families (sessions)
// they are issued for. It decides every change to keys and families in
// its own flows, over small transaction ports the stores implement in
// SQL. Private keys never leave this package's types except to be stored
// or to sign the policy bundle; only public keys are published.
package tokens

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// MinKeyBits is the smallest RSA key accepted for signing.
const MinKeyBits = 2048

// GeneratedKeyBits is the size of keys the server generates itself.
const GeneratedKeyBits = 3072

// Key is an RSA signing key and its key id, the RFC 7638 thumbprint of its
// public half. It signs new tokens from ActivatesAt until a newer key
// activates, and is published until RetireAfter (zero: until a newer key
// replaces it).
type Key struct {
	ID          string
	Private     *rsa.PrivateKey
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetireAfter time.Time
	public      jwk.Key
}

// StoredKey is a signing key as kept in the database.
type StoredKey struct {
	ID          string
	PrivatePEM  []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetireAfter time.Time // zero: no newer key replaces it yet
}

// ErrWeakKey is returned for RSA keys shorter than MinKeyBits.
var ErrWeakKey = fmt.Errorf("RSA key is shorter than %d bits", MinKeyBits)

// ParsePrivateKeyPEM reads an RSA private key in PKCS#1 or PKCS#8 PEM form.
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#1 RSA private key")
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PKCS#8 key is %T, not RSA", k)
		}
		key = rk
	default:
		return nil, fmt.Errorf("PEM block is %q, not an RSA private key", block.Type)
	}
	if key.N.BitLen() < MinKeyBits {
		return nil, fmt.Errorf("%w (got %d)", ErrWeakKey, key.N.BitLen())
	}
	return key, nil
}

// NewKey wraps an RSA private key, computing its key id. The key signs
// from createdAt on.
func NewKey(priv *rsa.PrivateKey, createdAt time.Time) (Key, error) {
	id, err := KeyID(&priv.PublicKey)
	if err != nil {
		return Key{}, err
	}
	k := Key{ID: id, Private: priv, CreatedAt: createdAt, ActivatesAt: createdAt}
	if k.public, err = publicJWK(k); err != nil {
		return Key{}, err
	}
	return k, nil
}

// PrivatePEM is the private key as PKCS#1 PEM, to sign the policy bundle.
func (k Key) PrivatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.Private)})
}

// KeyID returns the RFC 7638 SHA-256 JWK thumbprint of pub, base64url.
func KeyID(pub *rsa.PublicKey) (string, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return "", err
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// GenerateStoredKey makes a new GeneratedKeyBits RSA key ready to store,
// signing from now on.
func GenerateStoredKey(now time.Time) (StoredKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, GeneratedKeyBits)
	if err != nil {
		return StoredKey{}, err
	}
	k, err := NewKey(priv, now)
	if err != nil {
		return StoredKey{}, err
	}
	return StoredKey{ID: k.ID, PrivatePEM: k.PrivatePEM(), CreatedAt: now, ActivatesAt: now}, nil
}

// parseStoredKey turns a stored key back into a Key.
func parseStoredKey(sk StoredKey) (Key, error) {
	priv, err := ParsePrivateKeyPEM(sk.PrivatePEM)
	if err != nil {
		return Key{}, fmt.Errorf("stored signing key %s: %w", sk.ID, err)
	}
	k, err := NewKey(priv, sk.CreatedAt)
	if err != nil {
		return Key{}, err
	}
	k.ActivatesAt, k.RetireAfter = sk.ActivatesAt, sk.RetireAfter
	return k, nil
}

func publicJWK(k Key) (jwk.Key, error) {
	pub, err := jwk.FromRaw(&k.Private.PublicKey)
	if err != nil {
		return nil, err
	}
	for name, v := range map[string]any{jwk.KeyIDKey: k.ID, jwk.AlgorithmKey: jwa.RS256, jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(name, v); err != nil {
			return nil, err
		}
	}
	return pub, nil
}
