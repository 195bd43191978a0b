package tokens

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// A spent refresh token keeps its successor sealed under a key only the
// spent token itself yields, so that a retry of the same token can be
// answered with the same successor while the database, which holds
// tokens only as hashes, still holds no usable token.

// successorKeyLabel separates the sealing key from TokenHash, which is
// also computed from the raw token.
const successorKeyLabel = "gaia-iam refresh successor v1"

func successorAEAD(presented string) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, []byte(presented))
	mac.Write([]byte(successorKeyLabel))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSuccessor seals next, the successor of presented.
func sealSuccessor(presented, next string) ([]byte, error) {
	aead, err := successorAEAD(presented)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, []byte(next), nil), nil
}

// openSuccessor opens what sealSuccessor sealed for presented.
func openSuccessor(presented string, sealed []byte) (string, error) {
	aead, err := successorAEAD(presented)
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed refresh successor is truncated")
	}
	next, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return "", errors.New("sealed refresh successor does not open with the presented token")
	}
	return string(next), nil
}
