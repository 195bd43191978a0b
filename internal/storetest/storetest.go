// Package storetest is the behaviour every implementation of Gaia IAM's
// stores must show, as one suite each implementation runs against itself.
// It tests through the store interfaces only; import it from tests only.
package storetest

import (
	"slices"
	"testing"

	"github.com/gaia-platform/iam/internal/store"
)

// Store is what the contract tests: every port of one store.
type Store = store.Store

// Run runs the contract. open returns a fresh, migrated store of its own
// for each subtest and releases it when that subtest ends.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, c := range slices.Concat(contract, serviceAccountContract, adminContract, keyRotationContract, decisionLogContract, throttlingContract, consoleSessionContract) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, open(t))
		})
	}
}

// contractTest is one rule of the store contract, run on a fresh store.
type contractTest struct {
	name string
	test func(*testing.T, Store)
}

var contract = []contractTest{
	{"CreateUser_RoundTripsEveryField", testCreateUserRoundTrip},
	{"UserByUsernameKey_IgnoresCaseAndWidth", testLookupIgnoresCaseAndWidth},
	{"UserLookups_MissingUserIsNotFound", testLookupMissingUser},
	{"CreateUser_DuplicateUsernameIsTakenAndNotAudited", testCreateUserDuplicate},
	{"CreateUser_UnknownRoleCreatesNothing", testCreateUserUnknownRole},
	{"CreateUser_LinksRoles", testCreateUserLinksRoles},
	{"Users_OrderedByUsernameIgnoringCase", testUsersOrder},
	{"SetUserState_ReportsChangeOnceAndAuditsOnce", testSetUserState},
	{"UserUpdates_MissingUserIsNotFound", testUserUpdatesMissingUser},
	{"SetPasswordHash_StoresHashAndAudits", testSetPasswordHash},
	{"RecordLogin_SetsLastLoginAt", testRecordLogin},
	{"RecordLoginUpgradingHash_ReplacesHashWithTheLogin", testLoginUpgradesHash},
	{"RecordLoginUpgradingHash_AChangedHashWins", testLoginUpgradeLosesToAChangedHash},
	{"RecordLoginUpgradingHash_MissingUserIsNotFound", testLoginUpgradeMissingUser},
	{"AuditEvents_NewestFirstFilteredAndLimited", testAuditEvents},
	{"AuditChain_ConcurrentWritersMakeOneValidChain", testAuditChainConcurrentWriters},
	{"AuditTail_FiltersByActorAndTypeOldestFirst", testAuditTail},

	{"IAMAdminRole_IsBuiltinWithIAMPermissions", testIAMAdminRole},

	{"RefreshRotation_SpendsTheTokenAndAuditsIt", testRefreshRotation},
	{"RefreshRotation_ReuseRevokesFamilyAndSubject", testRefreshReuse},
	{"RefreshRotation_ConcurrentRotationsHaveOneWinner", testRefreshConcurrent},
	{"RefreshRotation_RetryWithinGraceGetsTheSameSuccessor", testRefreshGrace},
	{"RefreshRotation_RetryAfterGraceIsReuse", testRefreshGraceOver},
	{"RefreshRotation_ConcurrentRetriesShareOneSuccessor", testRefreshConcurrentRetries},
	{"RefreshRotation_ExpiredIdleAndDisabledAreRefused", testRefreshRefusals},
	{"RefreshFamilies_RevokeOnlyTheOwnersAndListActive", testRefreshFamilies},
	{"Role_FoundIgnoringCase", testRoleIgnoresCase},
	{"PermissionsAndRoles_SortedBytewise", testListingsSorted},
	{"GrantPermission_IsIdempotentAndAuditedOnce", testGrantPermission},
	{"GrantPermission_UnknownRoleOrPermissionIsNotFound", testGrantPermissionNotFound},
	{"RevokePermission_IsIdempotentAndAuditedOnce", testRevokePermission},
	{"RevokePermission_UnknownRoleOrPermissionIsNotFound", testRevokePermissionNotFound},
	{"UserRoles_AddAndRemoveReportChanges", testUserRoles},
	{"AddUserRole_UnknownRoleOrUserIsNotFound", testAddUserRoleNotFound},
	{"UserGrants_SortedUnionWithoutDuplicates", testUserGrants},
	{"UserGrants_NoRolesIsEmptyNotError", testUserGrantsEmpty},

	{"ApplySeed_SecondApplyChangesNothing", testSeedIdempotent},
	{"ApplySeed_ChangedDescriptionsAreUpdated", testSeedDescriptions},
	{"ApplySeed_SyncsRolePermissionsExactly", testSeedSyncsRolePermissions},
	{"ApplySeed_UnknownPermissionAppliesNothing", testSeedUnknownPermission},
	{"ApplySeed_CreatesUsersWithoutPasswordAndSyncsRoles", testSeedUsers},
	{"ApplySeed_UnknownUserRoleAppliesNothing", testSeedUnknownUserRole},
	{"ApplySeed_RefusesToRedefineIAMAdmin", testSeedBuiltinRole},
	{"ApplySeed_DuplicateEntriesRecordOneChange", testSeedDuplicateEntries},
	{"ApplySeed_CreatesUsersWithPasswordHashAndState", testSeedCreatesUsersWithHashAndState},
	{"ApplySeed_SyncsUserStateAndRevokesOnLeavingActive", testSeedSyncsUserState},
	{"ApplySeed_SetsPasswordHashOnlyOverEmptyOrLegacy", testSeedSetsPasswordHashOnlyOverEmptyOrLegacy},
	{"ApplySeed_DryRunReportsTheSameAndChangesNothing", testSeedDryRun},

	{"EnsureSigningKey_GeneratesOnceThenReturnsStoredKey", testSigningKeyOnce},
	{"EnsureSigningKey_ConcurrentCallersShareOneKey", testSigningKeyConcurrent},
	{"EnsureSigningKey_GenerateErrorStoresNothing", testSigningKeyGenerateError},

	{"RemoveUserRole_RevokesTheUsersTokens", testRemoveUserRoleRevokes},
	{"AddUserRole_RevokesNothing", testAddUserRoleRevokesNothing},
	{"SetUserState_LeavingActiveRevokesTheUsersTokens", testSetUserStateRevokes},
	{"ApplySeed_RemovedUserRoleRevokesTheUsersTokens", testSeedRevokes},
	{"RevokeToken_IsIdempotentAndAuditedOnce", testRevokeToken},
	{"BundleSource_ListsEveryRoleSortedAndEmptyNotMissing", testBundleSource},
	{"BundleVersion_MovesWithBundleDataNotWithLogins", testBundleVersion},
}
