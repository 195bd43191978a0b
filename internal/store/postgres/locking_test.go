package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/testkit"
)

// RBAC changes and revocations both move the bundle counter and append to
// the audit chain. Each must take the chain's lock last: one that took it
// first would wait for the counter while holding the chain, and the other
// waits for the chain while holding the counter (40P01, deadlock detected).
func TestRBACWrites_DoNotDeadlockWithRevocations(t *testing.T) {
	s := openMigrated(t, testkit.DatabaseURL(t))
	rbac := authz.NewService(s, time.Now)
	const writers, rounds = 4, 10
	errs := make(chan error, 4*writers*rounds)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				if _, err := rbac.CreateRole(t.Context(), audit.CLI, fmt.Sprintf("Role-%d-%d", w, i), ""); err != nil {
					errs <- fmt.Errorf("CreateRole: %w", err)
				}
			}
		})
		wg.Go(func() {
			for i := range rounds {
				seed := authz.Seed{Roles: []authz.SeedRole{{Name: fmt.Sprintf("Seeded-%d-%d", w, i)}}}
				if _, err := rbac.ApplySeed(t.Context(), audit.CLI, seed, false); err != nil {
					errs <- fmt.Errorf("ApplySeed: %w", err)
				}
			}
		})
		wg.Go(func() {
			for i := range rounds {
				ev := audit.Event{At: time.Now(), Actor: audit.CLI, Action: audit.TokenRevoked}
				if _, err := s.RevokeToken(t.Context(), fmt.Sprintf("jti-%d-%d", w, i), time.Now().Add(time.Hour), ev); err != nil {
					errs <- fmt.Errorf("RevokeToken: %w", err)
				}
			}
		})
		wg.Go(func() {
			for range rounds {
				ev := audit.Event{At: time.Now(), Actor: audit.CLI, Action: audit.TokenRevoked}
				if err := s.RevokeSubject(t.Context(), uuid.New(), time.Now(), ev); err != nil {
					errs <- fmt.Errorf("RevokeSubject: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
