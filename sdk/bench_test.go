package sdk_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

func jwtPayload(tok string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
}

// BenchmarkAuthorize_SeenToken is the steady state: the same caller asks
// again under the same bundle revision.
func BenchmarkAuthorize_SeenToken(b *testing.B) {
	iam := newFakeIAM(b)
	a := newAuthorizer(b, iam, "")
	ready(b, a)
	tok := iam.token([]string{"Analyst"}, nil)
	ctx := context.Background()
	a.HasPermission(ctx, tok, "inventory.read")
	b.ReportAllocs()
	for b.Loop() {
		if !a.HasPermission(ctx, tok, "inventory.read") {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuthorize_FirstSeenToken pays RSA verification and a full policy
// evaluation for every decision.
func BenchmarkAuthorize_FirstSeenToken(b *testing.B) {
	iam := newFakeIAM(b)
	a := newAuthorizer(b, iam, "")
	ready(b, a)
	ctx := context.Background()
	tokens := make([]string, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if len(tokens) == 0 {
			b.StopTimer()
			for range cap(tokens) {
				tokens = append(tokens, iam.token([]string{"Analyst"}, nil))
			}
			b.StartTimer()
		}
		tok := tokens[len(tokens)-1]
		tokens = tokens[:len(tokens)-1]
		if !a.HasPermission(ctx, tok, "inventory.read") {
			b.Fatal("denied")
		}
	}
}
