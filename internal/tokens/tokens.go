package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Token types carried in the "type" claim.
const (
	TypeUser    = "user"
	TypeService = "service"
)

// Claims are the contents of an access token, per the JWT contract.
type Claims struct {
	Issuer      string    `json:"iss"`
	Subject     string    `json:"sub"`
	Username    string    `json:"username"`
	Type        string    `json:"type"`
	Roles       []string  `json:"roles"`
	Permissions []string  `json:"permissions"`
	IssuedAt    time.Time `json:"-"`
	ExpiresAt   time.Time `json:"-"`
	ID          string    `json:"jti"`
}

// MarshalJSON writes the claims as they appear in the token: times as
// seconds since the epoch.
func (c Claims) MarshalJSON() ([]byte, error) {
	type plain Claims
	return json.Marshal(struct {
		plain
		IssuedAt  int64 `json:"iat"`
		ExpiresAt int64 `json:"exp"`
	}{plain(c), c.IssuedAt.Unix(), c.ExpiresAt.Unix()})
}

// Subject is who a token is issued to.
type Subject struct {
	ID          string
	Username    string
	Type        string
	Roles       []string // sorted, de-duplicated
	Permissions []string // sorted, de-duplicated
}

// ErrInvalidToken is returned for every token that must not be trusted.
var ErrInvalidToken = errors.New("invalid token")

// Issuer signs access tokens.
type Issuer struct {
	keys   *Keyring
	issuer string
	ttl    time.Duration
	now    func() time.Time
}

// NewIssuer returns an Issuer naming itself issuer, with tokens valid for ttl.
func NewIssuer(keys *Keyring, issuer string, ttl time.Duration, now func() time.Time) *Issuer {
	return &Issuer{keys: keys, issuer: issuer, ttl: ttl, now: now}
}

// TTL is how long issued tokens are valid.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs a new access token for s with the key active now.
func (i *Issuer) Issue(s Subject) (string, Claims, error) {
	at := i.now()
	key := i.keys.At(at).Signing
	now := at.UTC().Truncate(time.Second)
	c := Claims{
		Issuer: i.issuer, Subject: s.ID, Username: s.Username, Type: s.Type,
		Roles: nonNil(s.Roles), Permissions: nonNil(s.Permissions),
		IssuedAt: now, ExpiresAt: now.Add(i.ttl), ID: uuid.NewString(),
	}
	tok, err := jwt.NewBuilder().
		Issuer(c.Issuer).Subject(c.Subject).IssuedAt(c.IssuedAt).Expiration(c.ExpiresAt).JwtID(c.ID).
		Claim("username", c.Username).Claim("type", c.Type).
		Claim("roles", c.Roles).Claim("permissions", c.Permissions).
		Build()
	if err != nil {
		return "", Claims{}, err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, key.ID); err != nil {
		return "", Claims{}, err
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", Claims{}, err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key.Private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", Claims{}, fmt.Errorf("sign token: %w", err)
	}
	return string(signed), c, nil
}

// Verifier checks access tokens against the keys a keyring publishes.
type Verifier struct {
	keys   *Keyring
	issuer string
	now    func() time.Time
}

// NewVerifier verifies tokens from issuer signed by a key keys publishes
// at the time of verification.
func NewVerifier(keys *Keyring, issuer string, now func() time.Time) *Verifier {
	return &Verifier{keys: keys, issuer: issuer, now: now}
}

// Verify checks the signature (RS256 only, by kid), issuer, expiry and the
// required claims, and returns the claims. Every failure wraps
// ErrInvalidToken.
func (v *Verifier) Verify(raw string) (Claims, error) {
	now := v.now()
	tok, err := jwt.ParseString(raw,
		jwt.WithKeySet(v.keys.At(now).JWKS(), jws.WithRequireKid(true)),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.issuer),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithAcceptableSkew(0),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, reason(err))
	}
	c := Claims{Issuer: tok.Issuer(), Subject: tok.Subject(), IssuedAt: tok.IssuedAt(), ExpiresAt: tok.Expiration(), ID: tok.JwtID()}
	var ok1, ok2, ok3, ok4 bool
	c.Username, ok1 = stringClaim(tok, "username")
	c.Type, ok2 = stringClaim(tok, "type")
	c.Roles, ok3 = stringsClaim(tok, "roles")
	c.Permissions, ok4 = stringsClaim(tok, "permissions")
	if !ok1 || !ok2 || !ok3 || !ok4 || (c.Type != TypeUser && c.Type != TypeService) {
		return Claims{}, fmt.Errorf("%w: missing or malformed claims", ErrInvalidToken)
	}
	return c, nil
}

// reason turns a jwx error into a short message that names no key material.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return "token is expired"
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenNotYetValid()), errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return "token is not valid yet"
	default:
		return "signature or format is not valid"
	}
}

func stringClaim(tok jwt.Token, name string) (string, bool) {
	v, ok := tok.Get(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

func stringsClaim(tok jwt.Token, name string) ([]string, bool) {
	v, ok := tok.Get(name)
	if !ok {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
