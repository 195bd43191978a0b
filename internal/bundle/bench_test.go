package bundle_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// BenchmarkCompile_1000Roles10000Permissions20000Revocations compiles a
// large installation: 1,000 roles of 10 permissions each out of 10,000
// distinct codes, 10,000 revoked tokens and 10,000 revoked subjects, all
// live, signed with a key of the size the server generates. Target: ≤ 1 s.
func BenchmarkCompile_1000Roles10000Permissions20000Revocations(b *testing.B) {
	src := bundle.Source{Version: 1, Roles: map[string][]string{},
		SubjectRevocations: map[string]time.Time{}, TokenRevocations: map[string]time.Time{}}
	for r := range 1000 {
		perms := make([]string, 10)
		for p := range perms {
			perms[p] = fmt.Sprintf("domain%04d.resource.action%d", r, p)
		}
		src.Roles[fmt.Sprintf("Role %04d", r)] = perms
	}
	for i := range 10000 {
		src.TokenRevocations[fmt.Sprintf("%08x-jti-0000-0000-000000000000", i)] = now.Add(10 * time.Minute)
		src.SubjectRevocations[fmt.Sprintf("%08x-user-0000-0000-000000000000", i)] = now.Add(-time.Minute)
	}
	stored, err := tokens.GenerateStoredKey(now)
	if err != nil {
		b.Fatal(err)
	}
	priv, err := tokens.ParsePrivateKeyPEM(stored.PrivatePEM)
	if err != nil {
		b.Fatal(err)
	}
	c, keys := newCompiler(b), ring(b, priv).At(now)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		s, err := c.Compile(src, now, keys)
		if err != nil {
			b.Fatal(err)
		}
		size = len(s.Bytes)
	}
	b.ReportMetric(float64(size), "bundle-bytes")
}
