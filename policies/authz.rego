# Gaia IAM's authorization policy, evaluated locally by every service.
#
# Input:  {"token": "<raw JWT>", "permission": "inventory.write", ...}
# Data:   data.gaia.keys         the IAM's JWKS
#         data.gaia.config       {"issuer": "..."}
#         data.gaia.roles        {"<role>": ["<permission>", ...]}, as granted today
#         data.gaia.revocations  {"jti": {"<jti>": <exp>}, "subjects": {"<sub>": <not_before>}}
# Output: allow     true only for a valid, unrevoked token one of whose roles
#                   is granted input.permission today
#         decision  {"allow": bool, "reasons": [...]} naming why a request was denied
#         principal the claims of a valid, unrevoked token: who is calling
package gaia.authz

default allow := false

allow if {
	_valid
	not _revoked
	_granted
}

decision := {"allow": allow, "reasons": sort(reasons)}

reasons contains "token_invalid" if {
	not _valid
	not _expired
}

reasons contains "token_expired" if _expired

reasons contains "token_revoked" if {
	_valid
	_revoked
}

reasons contains "permission_missing" if {
	_valid
	not _granted
}

principal := claims if {
	_valid
	not _revoked
}

# claims are the verified token's payload; undefined for any token that is
# malformed, forged, from another issuer, expired or not yet valid.
claims := payload if {
	[verified, _, payload] := io.jwt.decode_verify(input.token, _constraints)
	verified
	payload.type in {"user", "service"}
	is_array(payload.roles)
}

_constraints := {
	"cert": json.marshal(data.gaia.keys),
	"iss": data.gaia.config.issuer,
	"alg": "RS256",
}

_valid if claims

# A token is expired, rather than invalid, when its lifetime is over and it
# verifies at the last instant of that lifetime.
_expired if {
	not _valid
	[_, payload, _] := io.jwt.decode(input.token)
	time.now_ns() >= payload.exp * 1000000000
	last_valid_ns := (payload.exp - 1) * 1000000000
	[verified_then, _, _] := io.jwt.decode_verify(input.token, object.union(_constraints, {"time": last_valid_ns}))
	verified_then
}

_revoked if data.gaia.revocations.jti[claims.jti]

# Tokens of a subject issued at or before its not-before time are void:
# iat has one-second resolution, so a token from the same second is too.
_revoked if claims.iat <= data.gaia.revocations.subjects[claims.sub]

# The permission must be granted today to one of the token's roles: the
# token's own permissions claim is informational here.
_granted if {
	is_string(input.permission)
	some role in claims.roles
	input.permission in data.gaia.roles[role]
}
