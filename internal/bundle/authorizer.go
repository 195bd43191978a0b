package bundle

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

// DecisionQuery is the rule every consumer of the bundle asks.
const DecisionQuery = "data.gaia.authz.decision"

// Decision is the policy's answer for one token and permission.
type Decision struct {
	Allow   bool
	Reasons []string // why not, when not allowed: token_invalid, token_expired, token_revoked, permission_missing
}

// Authorizer evaluates the policy of the bundle being published, in
// process and over that bundle's own data, as a service's OPA does: the
// IAM authorizes its own admin API with the rule its services use, so a
// revocation or a role change reaches both at the same bundle revision.
type Authorizer struct {
	current func() *Signed
	now     func() time.Time
	// jwtCache keeps token verification results between decisions
	// (expiry and issuer are still checked on every one).
	jwtCache cache.InterQueryValueCache

	mu       sync.Mutex // serialises preparing a new revision
	prepared atomic.Pointer[preparedQuery]
}

type preparedQuery struct {
	revision string
	query    rego.PreparedEvalQuery
}

// NewAuthorizer evaluates the bundles current returns, at the time now
// returns.
func NewAuthorizer(current func() *Signed, now func() time.Time) (*Authorizer, error) {
	cfg, err := cache.ParseCachingConfig([]byte(`{"inter_query_builtin_value_cache": {"named": {"io_jwt": {"max_num_entries": 10000}}}}`))
	if err != nil {
		return nil, err
	}
	return &Authorizer{current: current, now: now, jwtCache: cache.NewInterQueryValueCache(context.Background(), cfg)}, nil
}

// Decide asks the policy whether token carries permission now.
func (a *Authorizer) Decide(ctx context.Context, token, permission string) (Decision, error) {
	p, err := a.query(ctx)
	if err != nil {
		return Decision{}, err
	}
	rs, err := p.query.Eval(ctx,
		rego.EvalInput(map[string]any{"token": token, "permission": permission}),
		rego.EvalTime(a.now()),
		rego.EvalInterQueryBuiltinValueCache(a.jwtCache))
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate %s: %w", DecisionQuery, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, fmt.Errorf("evaluate %s: undefined", DecisionQuery)
	}
	out, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("evaluate %s: not an object", DecisionQuery)
	}
	d := Decision{}
	d.Allow, _ = out["allow"].(bool)
	reasons, _ := out["reasons"].([]any)
	for _, r := range reasons {
		if s, ok := r.(string); ok {
			d.Reasons = append(d.Reasons, s)
		}
	}
	return d, nil
}

// query is the decision query prepared over the current bundle, prepared
// once per revision.
func (a *Authorizer) query(ctx context.Context) (*preparedQuery, error) {
	signed := a.current()
	if signed == nil {
		return nil, ErrUnavailable
	}
	if p := a.prepared.Load(); p != nil && p.revision == signed.Revision {
		return p, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.prepared.Load(); p != nil && p.revision == signed.Revision {
		return p, nil
	}
	// The bytes were signed in this process a moment ago: verifying the
	// signature again would only check this memory against itself.
	b, err := opabundle.NewReader(bytes.NewReader(signed.Bytes)).WithSkipBundleVerification(true).Read()
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", signed.Revision, err)
	}
	q, err := rego.New(rego.Query(DecisionQuery), rego.ParsedBundle(Root, &b)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %s over bundle %s: %w", DecisionQuery, signed.Revision, err)
	}
	p := &preparedQuery{revision: signed.Revision, query: q}
	a.prepared.Store(p)
	return p, nil
}
