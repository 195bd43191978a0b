package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

var serviceAccountContract = []contractTest{
	{"CreateServiceAccount_RoundTripsAndLinksRoles", testServiceAccountRoundTrip},
	{"CreateServiceAccount_DuplicateNameOrUnknownRoleCreatesNothing", testServiceAccountCreateRefused},
	{"ServiceAccountGrants_SortedUnionOfRoles", testServiceAccountGrants},
	{"SetServiceAccountSecret_ReplacesHashAndAudits", testServiceAccountSecret},
	{"DisableServiceAccount_RevokesOnceAndAuditsOnce", testServiceAccountDisable},
	{"ConcurrentDisables_OfAUserAndAnAccountChangeAndAuditOnce", testConcurrentDisablesChangeOnce},
	{"EnsureClientSecretPepper_ConcurrentCallersShareOne", testPepperConcurrent},
}

func newServiceAccount(name string) serviceaccount.Account {
	return serviceaccount.Account{ID: uuid.New(), Name: name, SecretHash: "hmac-sha256$id$" + name,
		State: serviceaccount.StateActive, CreatedAt: at(1), UpdatedAt: at(1)}
}

func serviceEvent(action string, id uuid.UUID, n int) audit.Event {
	return audit.Event{At: at(n), Actor: audit.CLI, Action: action, Target: serviceaccount.Target(id)}
}

func createServiceAccount(t *testing.T, s Store, name string, roles ...string) serviceaccount.Account {
	t.Helper()
	a := newServiceAccount(name)
	if err := serviceaccount.CreateServiceAccount(t.Context(), s, a, roles, serviceEvent(audit.ServiceAccountCreated, a.ID, 1)); err != nil {
		t.Fatalf("CreateServiceAccount(%s): %v", name, err)
	}
	return a
}

func wantAccount(t *testing.T, got, want serviceaccount.Account) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.SecretHash != want.SecretHash || got.State != want.State ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("account %+v, want %+v", got, want)
	}
}

func testServiceAccountRoundTrip(t *testing.T, s Store) {
	seedShop(t, s)
	b := createServiceAccount(t, s, "reporting", "Manager", "Clerk")
	a := createServiceAccount(t, s, "billing")
	for _, want := range []serviceaccount.Account{a, b} {
		got, err := s.ServiceAccountByName(t.Context(), want.Name)
		if err != nil {
			t.Fatal(err)
		}
		wantAccount(t, got, want)
		if got, err = s.ServiceAccountByID(t.Context(), want.ID); err != nil {
			t.Fatal(err)
		}
		wantAccount(t, got, want)
	}
	if _, err := s.ServiceAccountByName(t.Context(), "nobody"); !errors.Is(err, serviceaccount.ErrNotFound) {
		t.Errorf("ServiceAccountByName(nobody) = %v, want ErrNotFound", err)
	}
	if _, err := s.ServiceAccountByID(t.Context(), uuid.New()); !errors.Is(err, serviceaccount.ErrNotFound) {
		t.Errorf("ServiceAccountByID(new uuid) = %v, want ErrNotFound", err)
	}
	list, err := s.ServiceAccounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "billing" || list[1].Name != "reporting" ||
		len(list[0].Roles) != 0 || list[0].Roles == nil || !slices.Equal(list[1].Roles, []string{"Clerk", "Manager"}) {
		t.Errorf("ServiceAccounts() = %+v, want billing (no roles), reporting [Clerk Manager]", list)
	}
	if n := countEvents(t, s, audit.ServiceAccountCreated); n != 2 {
		t.Errorf("%d %s events, want 2", n, audit.ServiceAccountCreated)
	}
}

func testServiceAccountCreateRefused(t *testing.T, s Store) {
	seedShop(t, s)
	createServiceAccount(t, s, "reporting")
	dup := newServiceAccount("reporting")
	if err := serviceaccount.CreateServiceAccount(t.Context(), s, dup, nil, serviceEvent(audit.ServiceAccountCreated, dup.ID, 2)); !errors.Is(err, serviceaccount.ErrNameTaken) {
		t.Errorf("duplicate name: %v, want ErrNameTaken", err)
	}
	bad := newServiceAccount("other")
	if err := serviceaccount.CreateServiceAccount(t.Context(), s, bad, []string{"Clerk", "Nope"}, serviceEvent(audit.ServiceAccountCreated, bad.ID, 2)); !errors.Is(err, authz.ErrRoleNotFound) {
		t.Errorf("unknown role: %v, want ErrRoleNotFound", err)
	}
	if _, err := s.ServiceAccountByID(t.Context(), bad.ID); !errors.Is(err, serviceaccount.ErrNotFound) {
		t.Errorf("the refused account exists: %v", err)
	}
	if n := countEvents(t, s, audit.ServiceAccountCreated); n != 1 {
		t.Errorf("%d %s events, want 1: refused creations are not audited", n, audit.ServiceAccountCreated)
	}
}

func testServiceAccountGrants(t *testing.T, s Store) {
	seedShop(t, s)
	a := createServiceAccount(t, s, "reporting", "Manager", "Clerk")
	g, err := s.ServiceAccountGrants(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Roles, []string{"Clerk", "Manager"}) || !slices.Equal(g.Permissions, []string{"shop.read", "shop.write"}) {
		t.Errorf("grants %+v", g)
	}
	none := createServiceAccount(t, s, "none")
	if g, err = s.ServiceAccountGrants(t.Context(), none.ID); err != nil || g.Roles == nil || g.Permissions == nil || len(g.Roles)+len(g.Permissions) != 0 {
		t.Errorf("grants of an account without roles %+v, %v; want empty, not nil", g, err)
	}
	// A user's grants are not an account's, nor the other way round.
	if g, err := s.UserGrants(t.Context(), a.ID); err != nil || len(g.Roles) != 0 {
		t.Errorf("UserGrants(account id) = %+v, %v", g, err)
	}
}

func testServiceAccountSecret(t *testing.T, s Store) {
	a := createServiceAccount(t, s, "etl")
	if err := serviceaccount.SetServiceAccountSecret(t.Context(), s, a.ID, "hmac-sha256$id$new", at(3), serviceEvent(audit.ServiceAccountSecretRotated, a.ID, 3)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ServiceAccountByID(t.Context(), a.ID)
	if err != nil || got.SecretHash != "hmac-sha256$id$new" || !got.UpdatedAt.Equal(at(3)) {
		t.Errorf("after SetServiceAccountSecret: %+v, %v", got, err)
	}
	if n := countEvents(t, s, audit.ServiceAccountSecretRotated); n != 1 {
		t.Errorf("%d rotation events, want 1", n)
	}
	if err := serviceaccount.SetServiceAccountSecret(t.Context(), s, uuid.New(), "x", at(4), serviceEvent(audit.ServiceAccountSecretRotated, a.ID, 4)); !errors.Is(err, serviceaccount.ErrNotFound) {
		t.Errorf("missing account: %v, want ErrNotFound", err)
	}
	wantNotRevoked(t, s, a.ID)
}

func testServiceAccountDisable(t *testing.T, s Store) {
	a := createServiceAccount(t, s, "etl")
	disable := func(n int) bool {
		t.Helper()
		changed, err := serviceaccount.DisableServiceAccount(t.Context(), s, a.ID, at(n), serviceEvent(audit.ServiceAccountDisabled, a.ID, n))
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if !disable(5) || disable(6) {
		t.Error("DisableServiceAccount reports a change the first time only")
	}
	wantRevoked(t, s, a.ID, at(5))
	if got, _ := s.ServiceAccountByID(t.Context(), a.ID); got.State != serviceaccount.StateDisabled {
		t.Errorf("state %q, want disabled", got.State)
	}
	if n := countEvents(t, s, audit.ServiceAccountDisabled); n != 1 {
		t.Errorf("%d disable events, want 1", n)
	}
	if _, err := serviceaccount.DisableServiceAccount(t.Context(), s, uuid.New(), at(7), serviceEvent(audit.ServiceAccountDisabled, a.ID, 7)); !errors.Is(err, serviceaccount.ErrNotFound) {
		t.Errorf("missing account: %v, want ErrNotFound", err)
	}
}

func testPepperConcurrent(t *testing.T, s Store) {
	const callers = 4
	var calls atomic.Int32
	peppers := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			peppers[i], errs[i] = serviceaccount.EnsureClientSecretPepper(t.Context(), s, func() ([]byte, error) {
				return []byte{byte(calls.Add(1)), 1, 2, 3}, nil
			}, time.Now().UTC())
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !slices.Equal(peppers[i], peppers[0]) || len(peppers[i]) != 4 {
			t.Fatalf("callers got peppers %v, want one for all", peppers)
		}
	}
	again, err := serviceaccount.EnsureClientSecretPepper(t.Context(), s, func() ([]byte, error) { return nil, errors.New("must not generate") }, time.Now().UTC())
	if err != nil || !slices.Equal(again, peppers[0]) {
		t.Errorf("a later call: %v, %v; want the stored pepper", again, err)
	}
	if n := countEvents(t, s, audit.ClientSecretPepperCreated); n != 1 {
		t.Errorf("%d pepper events, want 1", n)
	}
}

// Concurrent disables of one user and one service account, as two admins
// or a replica and the CLI at once: exactly one call changes each and one
// event records it. The domain decides "changed" from the row it read
// under the store's row lock; without the lock both would see it active.
func testConcurrentDisablesChangeOnce(t *testing.T, s Store) {
	u := createUser(t, s, "alice")
	a := createServiceAccount(t, s, "etl")
	const callers = 8
	var users, accounts atomic.Int32
	var wg sync.WaitGroup
	for n := range callers {
		wg.Go(func() {
			changed, err := identity.SetUserState(t.Context(), s, u.ID, identity.StateDisabled, at(n), userEvent(audit.UserDisabled, u.ID))
			if err != nil {
				t.Error(err)
			}
			if changed {
				users.Add(1)
			}
		})
		wg.Go(func() {
			changed, err := serviceaccount.DisableServiceAccount(t.Context(), s, a.ID, at(n), serviceEvent(audit.ServiceAccountDisabled, a.ID, n))
			if err != nil {
				t.Error(err)
			}
			if changed {
				accounts.Add(1)
			}
		})
	}
	wg.Wait()
	if users.Load() != 1 || accounts.Load() != 1 {
		t.Errorf("of %d concurrent disables, %d changed the user and %d the account; want 1 each", callers, users.Load(), accounts.Load())
	}
	for _, action := range []string{audit.UserDisabled, audit.ServiceAccountDisabled} {
		if n := countEvents(t, s, action); n != 1 {
			t.Errorf("%d %s events, want 1", n, action)
		}
	}
}
