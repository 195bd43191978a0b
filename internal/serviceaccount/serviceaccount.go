// Package serviceaccount is the IAM's non-human identities: OAuth2
// clients that get service tokens by the client-credentials grant. It
// never stores, logs or audits a client secret, only its keyed hash.
package serviceaccount

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
)

// State is a service account's state. Only active accounts get tokens.
type State string

// Account states.
const (
	StateActive   State = "active"
	StateDisabled State = "disabled"
)

// Account is a service account. Its id is its OAuth2 client_id and the sub
// of its tokens. Like a user, it holds no authority: roles are linked.
type Account struct {
	ID         uuid.UUID
	Name       string
	SecretHash string // see hashSecret; never the secret
	State      State
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Roles      []string // filled by listings, sorted
}

// Errors returned by the service and its store.
var (
	ErrNotFound      = errors.New("service account not found")
	ErrNameTaken     = errors.New("service account name is already taken")
	ErrInvalidName   = errors.New("invalid service account name")
	ErrInvalidClient = errors.New("client authentication failed")
	ErrInvalidPepper = errors.New("IAM_CLIENT_SECRET_PEPPER must be at least 32 characters")
)

// Store keeps service accounts. Every change records its audit event in
// the same transaction.
type Store interface {
	ServiceAccountByName(ctx context.Context, name string) (Account, error)
	ServiceAccountByID(ctx context.Context, id uuid.UUID) (Account, error)
	// ServiceAccounts lists every account, ordered by name, with its roles.
	ServiceAccounts(ctx context.Context) ([]Account, error)
	ServiceAccountGrants(ctx context.Context, id uuid.UUID) (authz.Grants, error)
	// ServiceAccountTx runs fn in one write transaction, committing if it
	// returns nil, else rolling back and returning fn's error.
	ServiceAccountTx(ctx context.Context, fn func(AccountTx) error) error
	AppendAudit(ctx context.Context, ev audit.Event) error
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateName accepts 1 to 64 lower-case ASCII letters, digits, '.', '_'
// and '-', starting with a letter or digit: names go into tokens and logs
// of other services and must mean one thing everywhere.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return errors.Join(ErrInvalidName, errors.New("use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"))
	}
	return nil
}

// Target names a service account in audit events and actor fields.
func Target(id uuid.UUID) string { return "service_account:" + id.String() }
