// Package tokens issues and verifies Gaia IAM's RS256 access tokens and
// manages the keys that sign them. Private keys never leave this package's
// types except to be stored or to sign the policy bundle; only public keys
// are published.
package tokens

import (
	"context"
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
// public half.
type Key struct {
	ID        string
	Private   *rsa.PrivateKey
	CreatedAt time.Time
}

// StoredKey is a signing key as kept in the database.
type StoredKey struct {
	ID         string
	PrivatePEM []byte
	CreatedAt  time.Time
}

// KeyStore keeps generated signing keys so that every replica on the same
// database signs with the same key.
type KeyStore interface {
	// EnsureSigningKey returns the newest stored key; when there is none it
	// stores the one generate returns. Concurrent callers get the same key.
	EnsureSigningKey(ctx context.Context, generate func() (StoredKey, error)) (StoredKey, error)
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

// NewKey wraps an RSA private key, computing its key id.
func NewKey(priv *rsa.PrivateKey, createdAt time.Time) (Key, error) {
	id, err := KeyID(&priv.PublicKey)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, Private: priv, CreatedAt: createdAt}, nil
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

// GenerateStoredKey makes a new GeneratedKeyBits RSA key ready to store.
func GenerateStoredKey(now time.Time) (StoredKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, GeneratedKeyBits)
	if err != nil {
		return StoredKey{}, err
	}
	k, err := NewKey(priv, now)
	if err != nil {
		return StoredKey{}, err
	}
	der := x509.MarshalPKCS1PrivateKey(priv)
	return StoredKey{ID: k.ID, PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), CreatedAt: now}, nil
}

// LoadStoredKey returns the database's signing key, generating and storing
// one when there is none.
func LoadStoredKey(ctx context.Context, store KeyStore, now func() time.Time) (Key, error) {
	sk, err := store.EnsureSigningKey(ctx, func() (StoredKey, error) { return GenerateStoredKey(now().UTC()) })
	if err != nil {
		return Key{}, err
	}
	priv, err := ParsePrivateKeyPEM(sk.PrivatePEM)
	if err != nil {
		return Key{}, fmt.Errorf("stored signing key %s: %w", sk.ID, err)
	}
	return NewKey(priv, sk.CreatedAt)
}

// Keyring holds the key that signs new tokens and every key whose tokens
// are still accepted.
type Keyring struct {
	signing Key
	set     jwk.Set // public keys, for verification and publication
}

// NewKeyring makes a keyring signing with signing and publishing it.
func NewKeyring(signing Key) (*Keyring, error) {
	pub, err := publicJWK(signing)
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	return &Keyring{signing: signing, set: set}, nil
}

// JWKS returns the public key set (RFC 7517) to publish.
func (r *Keyring) JWKS() jwk.Set { return r.set }

// SigningKeyID is the kid of the key signing new tokens.
func (r *Keyring) SigningKeyID() string { return r.signing.ID }

// SigningKey is the key signing new tokens, private half included. The
// policy bundle is signed with it, so that services verify bundles with the
// key they already trust for tokens.
func (r *Keyring) SigningKey() Key { return r.signing }

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
