package sdk_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// FuzzAuthorize_TokenString fuzzes the token a service hands the
// authorizer. Whatever the string, Authorize and Principal must not panic,
// and may accept it only when it is a token the IAM's key signed, of the
// IAM's issuer, unexpired: checked independently with jwx. The committed
// seeds (testdata/fuzz) are forms an attacker tries: alg none, HS256 keyed
// with the public key, another key under the IAM's kid, broken encodings;
// a freshly signed valid token is added here, since a committed one would
// expire. Run it for a while with
//
//	go test -run '^$' -fuzz '^FuzzAuthorize_TokenString$' -fuzztime 2000x ./sdk/
func FuzzAuthorize_TokenString(f *testing.F) {
	iam := newFakeIAM(f)
	a := newAuthorizer(f, iam, "")
	ready(f, a)
	valid := iam.token([]string{"Admin"}, nil)
	f.Add(valid)
	f.Add(signToken(f, otherKey, iam.kid, []string{"Admin"}, nil))
	f.Add(iam.token([]string{"Admin"}, func(c map[string]any) { c["iss"] = "evil" }))
	f.Add(iam.token([]string{"Admin"}, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))
	f.Add(hs256WithPublicKey(f, iam, valid))
	ctx := context.Background()
	if !a.HasPermission(ctx, valid, "inventory.read") {
		f.Fatal("the SDK denies a valid token: the fuzz target would test nothing")
	}
	f.Fuzz(func(t *testing.T, token string) {
		d, err := a.Authorize(ctx, token, "inventory.read")
		p, perr := a.Principal(ctx, token)
		if (err != nil || !d.Allow) && perr != nil {
			return
		}
		if _, verr := jwt.ParseString(token, jwt.WithKey(jwa.RS256, &iam.key.PublicKey), jwt.WithValidate(true),
			jwt.WithIssuer("gaia-iam"), jwt.WithAcceptableSkew(0)); verr != nil {
			t.Fatalf("the SDK accepted a token the IAM did not sign (decision %+v, principal %+v): %v", d, p, verr)
		}
	})
}

// hs256WithPublicKey re-signs valid's header and claims with HS256 keyed
// by the IAM's public key: the algorithm confusion attack on RS256.
func hs256WithPublicKey(t testing.TB, iam *fakeIAM, valid string) string {
	t.Helper()
	pub, err := x509.MarshalPKIXPublicKey(&iam.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	payload := valid[strings.Index(valid, ".")+1 : strings.LastIndex(valid, ".")]
	claims, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, iam.kid)
	signed, err := jws.Sign(claims, jws.WithKey(jwa.HS256, pub, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}
