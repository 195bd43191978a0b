package sdk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	opasdk "github.com/open-policy-agent/opa/v1/sdk"
)

// Authorize decides whether token grants permission, according to the
// active bundle: the token must verify against the IAM's keys, must not be
// revoked, and one of its roles must hold the permission today. An error
// (no bundle yet, evaluation failure) always comes with a denying Decision.
func (a *Authorizer) Authorize(ctx context.Context, token, permission string) (Decision, error) {
	if !a.Ready() {
		return Decision{Reasons: []string{"not_ready"}}, ErrNotReady
	}
	rev := a.revision.Load()
	now := a.now()
	if v, ok := a.cache.get(token, permission, *rev, now); ok {
		return v.(Decision), nil
	}
	res, err := a.evaluate(ctx, decisionQuery, map[string]any{"token": token, "permission": permission}, now)
	if err != nil {
		return Decision{Reasons: []string{"error"}}, err
	}
	d, err := parseDecision(res)
	if err != nil {
		return Decision{Reasons: []string{"error"}}, err
	}
	a.remember(token, permission, d.Revision, d, now)
	return d, nil
}

// AuthorizeInput decides like Authorize with extra input fields (such as
// "method", "path" or "resource") for custom rules in the policy. The token
// and permission fields win over extra. These decisions are not cached:
// they may depend on anything in extra.
func (a *Authorizer) AuthorizeInput(ctx context.Context, token, permission string, extra map[string]any) (Decision, error) {
	if !a.Ready() {
		return Decision{Reasons: []string{"not_ready"}}, ErrNotReady
	}
	input := make(map[string]any, len(extra)+2)
	for k, v := range extra {
		input[k] = v
	}
	input["token"], input["permission"] = token, permission
	res, err := a.evaluate(ctx, decisionQuery, input, a.now())
	if err != nil {
		return Decision{Reasons: []string{"error"}}, err
	}
	return parseDecision(res)
}

// HasPermission reports whether token grants permission. Any error denies.
func (a *Authorizer) HasPermission(ctx context.Context, token, permission string) bool {
	d, err := a.Authorize(ctx, token, permission)
	return err == nil && d.Allow
}

// principalKey caches principals beside decisions; no permission contains
// a NUL byte.
const principalKey = "\x00principal"

// Principal returns the verified claims of a valid, unrevoked token.
func (a *Authorizer) Principal(ctx context.Context, token string) (*Principal, error) {
	if !a.Ready() {
		return nil, ErrNotReady
	}
	rev := a.revision.Load()
	now := a.now()
	if v, ok := a.cache.get(token, principalKey, *rev, now); ok {
		p := v.(Principal)
		return &p, nil
	}
	res, err := a.evaluate(ctx, principalQuery, map[string]any{"token": token}, now)
	if opasdk.IsUndefinedErr(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	p, err := parsePrincipal(res.Result)
	if err != nil {
		return nil, err
	}
	a.remember(token, principalKey, revisionOf(res), p, now)
	return &p, nil
}

func (a *Authorizer) evaluate(ctx context.Context, query string, input map[string]any, now time.Time) (*opasdk.DecisionResult, error) {
	o := a.opa.Load()
	if o == nil {
		return nil, ErrNotReady
	}
	return o.Decision(ctx, opasdk.DecisionOptions{Path: query, Input: input, Now: now})
}

// remember caches a result until the token expires. Decisions depend only
// on the token, the question, the bundle revision and the clock, and the
// clock matters only through the token's expiry.
func (a *Authorizer) remember(token, key, revision string, v any, now time.Time) {
	exp, ok := cacheableUntil(token, now)
	if ok && revision != "" {
		a.cache.put(token, key, revision, exp, v)
	}
}

func revisionOf(res *opasdk.DecisionResult) string {
	if b, ok := res.Provenance.Bundles[bundleName]; ok {
		return b.Revision
	}
	return ""
}

func parseDecision(res *opasdk.DecisionResult) (Decision, error) {
	m, ok := res.Result.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("sdk: policy decision is %T, not an object", res.Result)
	}
	allow, ok := m["allow"].(bool)
	if !ok {
		return Decision{}, fmt.Errorf("sdk: policy decision has no boolean allow")
	}
	d := Decision{Allow: allow, Revision: revisionOf(res), Reasons: []string{}}
	reasons, _ := m["reasons"].([]any)
	for _, r := range reasons {
		if s, ok := r.(string); ok {
			d.Reasons = append(d.Reasons, s)
		}
	}
	if d.Allow && len(d.Reasons) > 0 {
		return Decision{}, fmt.Errorf("sdk: policy allowed with reasons %v", d.Reasons)
	}
	return d, nil
}

func parsePrincipal(v any) (Principal, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return Principal{}, err
	}
	var c struct {
		Sub         string   `json:"sub"`
		Username    string   `json:"username"`
		Type        string   `json:"type"`
		Roles       []string `json:"roles"`
		Permissions []string `json:"permissions"`
		JTI         string   `json:"jti"`
		IAT         int64    `json:"iat"`
		EXP         int64    `json:"exp"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return Principal{}, fmt.Errorf("sdk: token claims: %w", err)
	}
	return Principal{Subject: c.Sub, Username: c.Username, Type: c.Type, Roles: c.Roles, Permissions: c.Permissions,
		TokenID: c.JTI, IssuedAt: time.Unix(c.IAT, 0), ExpiresAt: time.Unix(c.EXP, 0)}, nil
}

// cacheableUntil reads a token's exp without verifying it: it only bounds
// how long a decision the policy made about that token may be reused.
// Tokens with nbf, or without a future exp, are not cached.
func cacheableUntil(token string, now time.Time) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp *json.Number `json:"exp"`
		Nbf *json.Number `json:"nbf"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Exp == nil || c.Nbf != nil {
		return time.Time{}, false
	}
	secs, err := c.Exp.Int64()
	if err != nil {
		return time.Time{}, false
	}
	exp := time.Unix(secs, 0)
	return exp, exp.After(now)
}
