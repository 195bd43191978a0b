// Package audit describes the security events Gaia IAM records.
// Events are written by the stores in the same transaction as the change
// they record; they never carry passwords, tokens, secrets or keys.
package audit

import "time"

// Actions recorded in the audit trail.
const (
	LoginSucceeded  = "auth.login.succeeded"
	LoginFailed     = "auth.login.failed"
	UserCreated     = "user.created"
	UserDisabled    = "user.disabled"
	UserEnabled     = "user.enabled"
	UserPasswordSet = "user.password.set"
	// UserPasswordUpgraded records a legacy (imported) hash replaced by
	// argon2id at a successful login.
	UserPasswordUpgraded = "user.password.upgraded"
	UserRoleAdded        = "user.role.added"
	UserRoleRemoved      = "user.role.removed"
	PermissionCreated    = "permission.created"
	PermissionUpdated    = "permission.updated"
	PermissionDeleted    = "permission.deleted"
	RoleCreated          = "role.created"
	RoleUpdated          = "role.updated"
	RoleDeleted          = "role.deleted"
	RolePermissionAdd    = "role.permission.granted"
	RolePermissionDrop   = "role.permission.revoked"
	SigningKeyCreated    = "signing_key.created"
	// SigningKeyRotated records a new key from iam keys rotate; with
	// --revoke-current each key it deleted is a SigningKeyRevoked.
	SigningKeyRotated = "signing_key.rotated"
	SigningKeyRevoked = "signing_key.revoked"
	// SigningKeyPruned records a retired key deleted by iam keys prune.
	SigningKeyPruned = "signing_key.pruned"
	TokenRevoked     = "token.revoked"
	// SubjectRevoked voids every token of a subject issued until then.
	SubjectRevoked = "subject.revoked"

	ServiceAccountCreated       = "service_account.created"
	ServiceAccountSecretRotated = "service_account.secret.rotated"
	ServiceAccountDisabled      = "service_account.disabled"
	// ClientAuth* record OAuth2 client authentication at /oauth/token.
	ClientAuthSucceeded       = "auth.client.succeeded"
	ClientAuthFailed          = "auth.client.failed"
	ClientSecretPepperCreated = "client_secret_pepper.created"

	// Sessions: refresh-token families. Events name the family
	// ("session:<uuid>"), never a token.
	RefreshFamilyCreated = "session.created"
	RefreshFamilyRevoked = "session.revoked"
	RefreshTokenRotated  = "refresh_token.rotated"
	// RefreshTokenRetried is a spent token presented again within
	// IAM_REFRESH_REUSE_GRACE, its successor unspent: the same successor
	// is answered again, the family lives on.
	RefreshTokenRetried = "refresh_token.retried"
	// RefreshTokenReused is a spent token presented again outside the
	// grace: the family and the user's access tokens are revoked.
	RefreshTokenReused = "refresh_token.reused"

	// DecisionLogsReceived records an upload to POST /logs that stored
	// new decisions (the decisions themselves are not in the trail);
	// DecisionLogsPruned, the deletion of those past the retention.
	DecisionLogsReceived = "decision_logs.received"
	DecisionLogsPruned   = "decision_logs.pruned"

	// LoginLocked is an account name locked by failed logins; IPBlocked a
	// client IP; SecurityUnblocked either lifted by an operator.
	LoginLocked       = "login.locked"
	IPBlocked         = "ip.blocked"
	SecurityUnblocked = "security.unblocked"
	// UserPasswordChanged is a user changing their own password, which
	// ends their other sessions.
	UserPasswordChanged = "user.password.changed"
)

// CLI is the actor recorded for management commands run on the server host.
const CLI = "cli"

// Event is one entry of the audit trail.
type Event struct {
	At      time.Time
	Actor   string // "cli", "user:<uuid>", "anonymous"
	Action  string
	Target  string // what the action was done to, e.g. "user:<uuid>", "role:Admin"
	IP      string
	Details map[string]any
}

// Stored is an event as read back from the trail.
type Stored struct {
	ID int64
	Event
}
