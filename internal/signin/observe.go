package signin

import (
	"errors"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/throttle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Observer is told how every password check and token grant ended, so
// that operators can count them (internal/metrics does). It hears an
// outcome only, never who asked: its methods must be cheap and must not
// block.
type Observer interface {
	// PasswordChecked follows every password login, by any door:
	// /auth/login, grant_type=password and the console.
	PasswordChecked(Outcome)
	// TokenGranted follows every grant of tokens, or its refusal.
	TokenGranted(Grant, Outcome)
}

// Grant is how tokens were asked for, named as OAuth 2.0 names its grant
// types. /auth/login is the password grant, /auth/refresh the refresh one.
type Grant string

// The grants.
const (
	GrantPassword          Grant = "password"
	GrantRefreshToken      Grant = "refresh_token"
	GrantClientCredentials Grant = "client_credentials"
)

// Outcome is how a password check or a grant ended. The refusals are
// named as the HTTP API answers them.
type Outcome string

// The outcomes. A refusal of a grant is InvalidCredentials for a
// password, InvalidClient for a client and InvalidGrant for a refresh
// token; Failed is an error of the server's own (a database down).
const (
	Succeeded          Outcome = "success"
	InvalidCredentials Outcome = "invalid_credentials"
	InvalidClient      Outcome = "invalid_client"
	InvalidGrant       Outcome = "invalid_grant"
	Locked             Outcome = "locked" // the account name is locked or the IP blocked
	Overloaded         Outcome = "overloaded"
	Failed             Outcome = "error"
)

// OutcomeOf is the outcome err, a sign-in's error, stands for.
func OutcomeOf(err error) Outcome {
	var throttled *throttle.Throttled
	switch {
	case err == nil:
		return Succeeded
	case errors.Is(err, identity.ErrInvalidCredentials):
		return InvalidCredentials
	case errors.Is(err, serviceaccount.ErrInvalidClient):
		return InvalidClient
	case errors.Is(err, tokens.ErrInvalidGrant):
		return InvalidGrant
	case errors.As(err, &throttled):
		return Locked
	case errors.Is(err, identity.ErrOverloaded):
		return Overloaded
	}
	return Failed
}

// nobody observes when Deps names no Observer.
type nobody struct{}

func (nobody) PasswordChecked(Outcome)     {}
func (nobody) TokenGranted(Grant, Outcome) {}
