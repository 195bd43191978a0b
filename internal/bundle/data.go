package bundle

import "time"

// skewAllowance keeps a revocation this much longer than the IAM's clock
// says it matters: a service whose clock runs behind still accepts the
// revoked token that long, and must still see it revoked.
const skewAllowance = time.Minute

// data is data.json, in the layout policies/authz.rego reads:
//
//	{"gaia": {"config": {"issuer": ...}, "keys": <JWKS>,
//	          "roles": {"<role>": ["<permission>", ...]},
//	          "revocations": {"jti": {"<jti>": <exp>}, "subjects": {"<sub>": <not_before>}}}}
//
// with times in Unix seconds. Only maps, never structs: OPA hashes a Go
// value for the signature the way it hashes the decoded JSON only when
// object keys come out sorted, which encoding/json does for maps alone.
func (c *Compiler) data(src Source, at time.Time, jwks map[string]any) map[string]any {
	roles := make(map[string][]string, len(src.Roles))
	for name, perms := range src.Roles {
		if perms == nil {
			perms = []string{} // a role without permissions, not a null
		}
		roles[name] = perms
	}
	return map[string]any{Root: map[string]any{
		"config": map[string]any{"issuer": c.issuer},
		"keys":   jwks,
		"roles":  roles,
		"revocations": map[string]any{
			"jti":      liveTokens(src.TokenRevocations, at),
			"subjects": liveSubjects(src.SubjectRevocations, at, c.ttl),
		},
	}}
}

// liveTokens drops the revocations of tokens that have expired: expiry
// rejects them anyway.
func liveTokens(revoked map[string]time.Time, at time.Time) map[string]int64 {
	out := make(map[string]int64, len(revoked))
	horizon := at.Add(-skewAllowance)
	for jti, exp := range revoked {
		if exp.After(horizon) {
			out[jti] = exp.Unix()
		}
	}
	return out
}

// liveSubjects drops subject revocations older than one token lifetime:
// every token issued before them has expired. not_before is rounded down
// to the second, as iat is, and the policy voids iat <= not_before.
func liveSubjects(revoked map[string]time.Time, at time.Time, ttl time.Duration) map[string]int64 {
	out := make(map[string]int64, len(revoked))
	horizon := at.Add(-ttl - skewAllowance)
	for sub, notBefore := range revoked {
		if !notBefore.Before(horizon) {
			out[sub] = notBefore.Unix()
		}
	}
	return out
}
