package conformance

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// tokenSpec is one named token of the vectors, made as the IAM makes its
// access tokens (jwx v2, RS256, header kid and typ), or as an attacker would.
type tokenSpec struct {
	name string
	make func(t *testing.T, k testKeys) string
}

var (
	analystPerms = []string{"analytics.report.view", "inventory.read"}
	adminPerms   = []string{"analytics.report.view", "inventory.read", "inventory.write"}
)

// tokenSpecs are in the order cases are written. Subjects and jtis are
// fixed, so that the same keys sign the same bytes on every run.
var tokenSpecs = []tokenSpec{
	{"analyst", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, analystClaims())
	}},
	{"admin", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, userClaims(2, "cj", []string{"Admin"}, adminPerms))
	}},
	{"viewer", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, userClaims(3, "victor", []string{"Viewer"}, []string{"inventory.read"}))
	}},
	{"service", func(t *testing.T, k testKeys) string {
		c := userClaims(4, "inventory-sync", []string{"Analyst"}, analystPerms)
		c["type"] = "service"
		return iamToken(t, k, c)
	}},
	{"multi_role", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, userClaims(5, "mia", []string{"Analyst", "Viewer"}, analystPerms))
	}},
	{"role_without_permissions", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, userClaims(6, "gus", []string{"Guest"}, []string{}))
	}},
	{"no_roles", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, userClaims(7, "nora", []string{}, []string{}))
	}},
	{"unknown_role", func(t *testing.T, k testKeys) string {
		// The role is gone from the IAM: what the token says it granted no
		// longer counts.
		return iamToken(t, k, userClaims(8, "uma", []string{"Ghost"}, []string{"inventory.write"}))
	}},
	{"stale_permission_claim", func(t *testing.T, k testKeys) string {
		// Issued when Analyst still granted inventory.write.
		return iamToken(t, k, userClaims(1, "alice", []string{"Analyst"}, adminPerms))
	}},
	{"missing_permission_claim", func(t *testing.T, k testKeys) string {
		// Issued before Analyst was granted analytics.report.view.
		return iamToken(t, k, userClaims(1, "alice", []string{"Analyst"}, []string{"inventory.read"}))
	}},
	{"expired", func(t *testing.T, k testKeys) string {
		c := userClaims(10, "dave", []string{"Admin"}, adminPerms)
		iat := time.Unix(1735689600, 0) // 2025-01-01T00:00:00Z, expired 15 minutes later
		c["iat"], c["exp"] = iat, iat.Add(15*time.Minute)
		return iamToken(t, k, c)
	}},
	{"not_yet_valid", func(t *testing.T, k testKeys) string {
		c := userClaims(2, "cj", []string{"Admin"}, adminPerms)
		c["nbf"] = time.Unix(4070908800, 0) // 2099-01-01T00:00:00Z
		return iamToken(t, k, c)
	}},
	{"revoked_jti", func(t *testing.T, k testKeys) string {
		c := userClaims(11, "erin", []string{"Admin"}, adminPerms)
		c["jti"] = revokedJTI
		return iamToken(t, k, c)
	}},
	{"revoked_subject", func(t *testing.T, k testKeys) string {
		// Issued in the very second of the revocation: void too.
		return iamToken(t, k, revokedSubjectClaims(notBefore, "jti-rita-at-not-before"))
	}},
	{"revoked_subject_earlier", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, revokedSubjectClaims(notBefore.Add(-time.Hour), "jti-rita-before"))
	}},
	{"issued_after_subject_revocation", func(t *testing.T, k testKeys) string {
		return iamToken(t, k, revokedSubjectClaims(notBefore.Add(time.Second), "jti-rita-after"))
	}},
	{"wrong_issuer", func(t *testing.T, k testKeys) string {
		c := analystClaims()
		c["iss"] = "other-iam"
		return iamToken(t, k, c)
	}},
	{"with_audience", func(t *testing.T, k testKeys) string {
		c := analystClaims()
		c["aud"] = "inventory-service"
		return iamToken(t, k, c)
	}},
	{"no_type", func(t *testing.T, k testKeys) string {
		c := analystClaims()
		delete(c, "type")
		return iamToken(t, k, c)
	}},
	{"other_type", func(t *testing.T, k testKeys) string {
		c := analystClaims()
		c["type"] = "robot"
		return iamToken(t, k, c)
	}},
	{"roles_not_a_list", func(t *testing.T, k testKeys) string {
		c := analystClaims()
		c["roles"] = "Admin"
		return iamToken(t, k, c)
	}},
	{"unknown_kid", func(t *testing.T, k testKeys) string {
		return signRS256(t, k.foreign.Private, k.foreign.ID, adminClaimsOf(analystClaims()))
	}},
	{"foreign_key_iam_kid", func(t *testing.T, k testKeys) string {
		return signRS256(t, k.foreign.Private, k.iam.ID, adminClaimsOf(analystClaims()))
	}},
	{"no_kid", func(t *testing.T, k testKeys) string {
		// Signed by the IAM's key, without saying which.
		return signRS256(t, k.iam.Private, "", analystClaims())
	}},
	{"alg_none", func(t *testing.T, k testKeys) string {
		return compact(t, map[string]any{"alg": "none", "kid": k.iam.ID, "typ": "JWT"}, adminClaimsOf(analystClaims())) + "."
	}},
	{"hs256_public_key", func(t *testing.T, k testKeys) string {
		// The IAM's public key, as PEM, used as an HMAC secret.
		return sign(t, jwa.HS256, []byte(publicPEM(t, k.iam)), k.iam.ID, adminClaimsOf(analystClaims()))
	}},
	{"tampered_payload", func(t *testing.T, k testKeys) string {
		parts := strings.Split(iamToken(t, k, analystClaims()), ".")
		return parts[0] + "." + payload(t, adminClaimsOf(analystClaims())) + "." + parts[2]
	}},
	{"malformed_two_parts", func(t *testing.T, k testKeys) string {
		parts := strings.Split(iamToken(t, k, analystClaims()), ".")
		return parts[0] + "." + parts[1]
	}},
	{"malformed_bad_base64", func(t *testing.T, k testKeys) string {
		parts := strings.Split(iamToken(t, k, analystClaims()), ".")
		return parts[0] + ".%%%not-base64%%%." + parts[2]
	}},
	{"not_a_jwt", func(*testing.T, testKeys) string { return "not-a-jwt" }},
	{"empty", func(*testing.T, testKeys) string { return "" }},
}

// userClaims are the claims the IAM issues to user n.
func userClaims(n int, username string, roles, perms []string) map[string]any {
	return map[string]any{
		"iss": issuer, "sub": subject(n), "username": username, "type": "user",
		"roles": roles, "permissions": perms,
		"iat": issuedAt, "exp": expires, "jti": "jti-" + username,
	}
}

func analystClaims() map[string]any {
	return userClaims(1, "alice", []string{"Analyst"}, analystPerms)
}

// adminClaimsOf is c claiming the Admin role, as a forger would.
func adminClaimsOf(c map[string]any) map[string]any {
	c["roles"], c["permissions"] = []string{"Admin"}, adminPerms
	return c
}

func revokedSubjectClaims(iat time.Time, jti string) map[string]any {
	c := userClaims(9, "rita", []string{"Admin"}, adminPerms)
	c["sub"], c["iat"], c["jti"] = subjectRevoked, iat, jti
	return c
}

func subject(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func iamToken(t *testing.T, k testKeys, claims map[string]any) string {
	return signRS256(t, k.iam.Private, k.iam.ID, claims)
}

func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	return sign(t, jwa.RS256, key, kid, claims)
}

// sign signs claims with jwx v2 as internal/tokens.Issuer does; no kid
// header when kid is empty.
func sign(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	hdr := jws.NewHeaders()
	if kid != "" {
		if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(jwtToken(t, claims), jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// compact is "<header>.<payload>", base64url, with no signature.
func compact(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + payload(t, claims)
}

// payload is claims as a token's base64url payload, as jwx writes it.
func payload(t *testing.T, claims map[string]any) string {
	t.Helper()
	p, err := json.Marshal(jwtToken(t, claims))
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(p)
}

func jwtToken(t *testing.T, claims map[string]any) jwt.Token {
	t.Helper()
	tok := jwt.New()
	for name, v := range claims {
		if err := tok.Set(name, v); err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
	}
	return tok
}
