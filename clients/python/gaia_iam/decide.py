"""The stock ``gaia.authz`` policy (policies/authz.rego), evaluated in Python.

Every rule of the Rego is reproduced with the semantics of the OPA version
the IAM pins (v1.22.3): ``io.jwt.decode_verify`` and ``io.jwt.decode`` as
``topdown/tokens.go`` implements them, Rego's undefined-ness, truthiness,
total ordering of values and exact number comparison. The comments name the
Rego rule or the Go function each piece stands for.

A decision depends on the clock only through the token's ``exp`` and
``nbf``; :meth:`StockPolicy.evaluate` reports those instants so that a
cache can keep the decision exactly as long as it cannot change.
"""

from __future__ import annotations

from decimal import Context, Decimal, MAX_EMAX, MIN_EMIN
from typing import Any, NamedTuple

from ._gojson import GoJSONError, GoNumber, b64url_opa, decimal_of, loads, to_python
from .jwks import KeySetError, VerificationKey, parse_key_set, rsa_verify

_UNDEFINED = object()
_ALG = "RS256"  # _constraints' "alg"
_TYPES = frozenset({"user", "service"})
_NS = Decimal(1_000_000_000)
_ONE = Decimal(1)
# Rego arithmetic on integers is exact (big.Int): keep every digit.
_EXACT = Context(prec=400, Emax=MAX_EMAX, Emin=MIN_EMIN)


class Evaluation(NamedTuple):
    """One decision and what it depended on."""

    allow: bool
    reasons: tuple[str, ...]
    principal: dict[str, Any] | None  # claims, when valid and not revoked
    instants: tuple[Decimal, ...]  # exp / nbf values the clock was compared with


# --- Rego values ----------------------------------------------------------


def _rank(v: Any) -> int:
    # ast/compare.go sortOrder: null < boolean < number < string < array < object
    if v is None:
        return 0
    if v is True or v is False:
        return 1
    if isinstance(v, (GoNumber, int, Decimal)):
        return 2
    if isinstance(v, str):
        return 3
    if isinstance(v, list):
        return 7
    return 8


def rego_compare(a: Any, b: Any) -> int:
    """``ast.Compare`` for JSON values: -1, 0 or 1."""
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        return (a > b) - (a < b)
    if ra == 2:
        da, db = decimal_of(a), decimal_of(b)
        if da is None or db is None:
            return 0
        return (da > db) - (da < db)
    if ra == 3:
        return (a > b) - (a < b)
    if ra == 7:
        for x, y in zip(a, b):
            c = rego_compare(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ra == 8:
        ka, kb = sorted(a), sorted(b)
        for x, y in zip(ka, kb):
            c = rego_compare(x, y) or rego_compare(a[x], b[y])
            if c:
                return c
        return (len(ka) > len(kb)) - (len(ka) < len(kb))
    return 0


def rego_get(collection: Any, key: Any) -> Any:
    """``collection[key]`` in Rego: the value, or _UNDEFINED."""
    if isinstance(collection, dict):
        if isinstance(key, str):
            return collection.get(key, _UNDEFINED)
        return _UNDEFINED
    if isinstance(collection, list):
        if isinstance(key, GoNumber) and key.text.lstrip("-").isdigit():
            i = int(key.text)
        elif isinstance(key, int) and not isinstance(key, bool):
            i = key
        else:
            return _UNDEFINED
        return collection[i] if 0 <= i < len(collection) else _UNDEFINED
    return _UNDEFINED


def _path(root: Any, *keys: str) -> Any:
    for key in keys:
        root = rego_get(root, key)
        if root is _UNDEFINED:
            break
    return root


# --- io.jwt.decode_verify / io.jwt.decode (topdown/tokens.go) -------------


class _Header(NamedTuple):
    alg: str
    kid: str
    cty: str


def _json_object(raw: bytes) -> dict[str, Any] | None:
    # extractJSONObject: util.UnmarshalJSON, which must give an object.
    try:
        value = loads(raw)
    except GoJSONError:
        return None
    return value if isinstance(value, dict) else None


def _decode_header(part: bytes) -> dict[str, Any] | None:
    # decodeHeader + validateJWTHeader: a JSON object, and not a JWE.
    raw = b64url_opa(part)
    if raw is None:
        return None
    header = _json_object(raw)
    if header is None or "enc" in header:
        return None
    return header


def _parse_header(header: dict[str, Any]) -> _Header | None:
    # parseTokenHeader and tokenHeader.valid(); None when either fails.
    fields = {"alg": "", "kid": "", "typ": "", "cty": ""}
    crit: set[str] | None = None
    unknown = []
    for name, value in header.items():
        if name in fields:
            if not isinstance(value, str):
                return None
            fields[name] = value
        elif name == "crit":
            if not isinstance(value, list):
                return None
            crit = set()
            for item in value:  # Iter stops at the first non-string
                if not isinstance(item, str):
                    break
                crit.add(item)
            if not crit:
                return None
        else:
            unknown.append(name)
    if not fields["alg"]:
        return None
    if crit and any(name in crit for name in unknown):
        return None
    return _Header(fields["alg"], fields["kid"], fields["cty"])


def _split(token: bytes) -> list[bytes] | None:
    # decodeJWT: at least one period, exactly three parts.
    parts = token.split(b".")
    return parts if len(parts) == 3 else None


def _verify_signature(
    keys: tuple[VerificationKey, ...], header: _Header, signing_input: bytes, signature: bytes
) -> bool:
    # tokenConstraints.verify: with a kid that names a key, that key only;
    # otherwise (no kid, or a kid no key has) every key whose alg is unset
    # or equals the token's.
    if header.kid:
        for key in keys:
            if key.kid == header.kid:
                return rsa_verify(key.rsa, signing_input, signature)
    for key in keys:
        if key.alg and key.alg != header.alg:
            continue
        if rsa_verify(key.rsa, signing_input, signature):
            return True
    return False


def _is_jwt_cty(cty: str) -> bool:
    return len(cty) == 3 and cty.isascii() and cty.lower() == "jwt"


def _signed_payload(keys: tuple[VerificationKey, ...], token: bytes) -> dict[str, Any] | None:
    """The time-independent part of decode_verify: the verified payload."""
    current = token
    for _ in range(32):  # nested JWTs (cty JWT); bounded unlike OPA's loop
        parts = _split(current)
        if parts is None:
            return None
        raw_header = _decode_header(parts[0])
        if raw_header is None:
            return None
        header = _parse_header(raw_header)
        if header is None or header.alg != _ALG:
            return None
        signature = b64url_opa(parts[2])
        if signature is None:
            return None
        if not _verify_signature(keys, header, parts[0] + b"." + parts[1], signature):
            return None
        payload = b64url_opa(parts[1])
        if payload is None:
            return None
        if _is_jwt_cty(header.cty):
            current = payload
            continue
        return _json_object(payload)
    return None


def _claims_ok(payload: dict[str, Any], issuer: str) -> bool:
    """decode_verify's iss and aud checks (no "aud" constraint is given)."""
    if issuer:
        if "iss" not in payload:
            return False
        iss = payload["iss"]
        if not isinstance(iss, str) or iss != issuer:
            return False  # a non-string iss panics OPA: never valid
    if "aud" in payload:
        aud = payload["aud"]
        # validAudience against the empty aud constraint
        if isinstance(aud, str):
            if aud != "":
                return False
        elif isinstance(aud, list):
            if not any(isinstance(a, str) and a == "" for a in aud):
                return False
        else:
            return False
    return True


def _time_ok(payload: dict[str, Any], time_ns: float, instants: list[Decimal]) -> bool:
    """decode_verify's exp and nbf checks at constraints.time (float ns)."""
    seconds = time_ns / 1e9
    now = Decimal(repr(seconds))  # ast.FloatNumberTerm: shortest float text
    if "exp" in payload:
        exp = decimal_of(payload["exp"])
        if exp is None:
            return False  # "exp value must be a number": an error, undefined
        instants.append(exp)
        if now >= exp:
            return False
    if "nbf" in payload:
        nbf = decimal_of(payload["nbf"])
        if nbf is None:
            return False
        instants.append(nbf)
        if now < nbf:
            return False
    return True


def _jwt_decode(token: bytes) -> dict[str, Any] | None:
    """``io.jwt.decode``'s payload (no verification), or None."""
    current = token
    for _ in range(32):
        parts = _split(current)
        if parts is None:
            return None
        header = _decode_header(parts[0])
        if header is None:
            return None
        payload = b64url_opa(parts[1])
        if payload is None:
            return None
        if "cty" in header:
            cty = header["cty"]
            if not isinstance(cty, str):
                return None  # OPA panics on a non-string cty
            if cty == "JWT":
                current = payload.strip(b"\"'")
                continue
        obj = _json_object(payload)
        if obj is None or b64url_opa(parts[2]) is None:
            return None
        return obj
    return None


# --- the policy ------------------------------------------------------------


class StockPolicy:
    """policies/authz.rego over one bundle's data."""

    def __init__(self, data: Any) -> None:
        gaia = rego_get(data, "gaia")
        keys = _path(gaia, "keys")
        issuer = _path(gaia, "config", "issuer")
        self.keys: tuple[VerificationKey, ...] | None = None
        self.issuer = issuer if isinstance(issuer, str) else None
        if keys is not _UNDEFINED and self.issuer is not None:
            try:
                self.keys = parse_key_set(keys)
            except KeySetError:
                self.keys = None  # io.jwt.decode_verify errors: undefined
        self._roles = _path(gaia, "roles")
        self._grants = self._index_grants(self._roles)
        self._jti = _path(gaia, "revocations", "jti")
        self._subjects = _path(gaia, "revocations", "subjects")

    @staticmethod
    def _index_grants(roles: Any) -> dict[str, frozenset[str]] | None:
        # `input.permission in data.gaia.roles[role]`: membership among an
        # array's elements or an object's values; a string only equals a string.
        if not isinstance(roles, dict):
            return None
        out = {}
        for role, grants in roles.items():
            if isinstance(grants, list):
                out[role] = frozenset(g for g in grants if isinstance(g, str))
            elif isinstance(grants, dict):
                out[role] = frozenset(g for g in grants.values() if isinstance(g, str))
            else:
                out[role] = frozenset()
        return out

    def evaluate(self, token: Any, permission: Any, now_ns: int) -> Evaluation:
        """data.gaia.authz.decision (and principal) at now_ns."""
        instants: list[Decimal] = []
        raw = _token_bytes(token)
        payload = None
        if raw is not None and self.keys is not None and self.issuer is not None:
            payload = _signed_payload(self.keys, raw)
        claims = self._claims(payload, now_ns, instants)
        if claims is None:
            expired = self._expired(raw, payload, now_ns, instants)
            reason = "token_expired" if expired else "token_invalid"
            return Evaluation(False, (reason,), None, tuple(instants))
        revoked = self._revoked(claims)
        granted = self._granted(claims, permission)
        reasons = []
        if not granted:
            reasons.append("permission_missing")  # sorted: before token_revoked
        if revoked:
            reasons.append("token_revoked")
        principal = None if revoked else claims
        return Evaluation(granted and not revoked, tuple(reasons), principal, tuple(instants))

    # claims := payload if { decode_verify(...); type in {...}; is_array(roles) }
    def _claims(
        self, payload: dict[str, Any] | None, now_ns: int, instants: list[Decimal]
    ) -> dict[str, Any] | None:
        if payload is None or not _claims_ok(payload, self.issuer or ""):
            return None
        if not _time_ok(payload, float(now_ns), instants):
            return None
        kind = payload.get("type")
        if not isinstance(kind, str) or kind not in _TYPES:
            return None
        if not isinstance(payload.get("roles"), list):
            return None
        return payload

    # _expired: not _valid, exp over, and verified at (exp - 1) seconds.
    def _expired(
        self,
        raw: bytes | None,
        payload: dict[str, Any] | None,
        now_ns: int,
        instants: list[Decimal],
    ) -> bool:
        if raw is None or self.keys is None or self.issuer is None:
            return False
        decoded = _jwt_decode(raw)
        if decoded is None or "exp" not in decoded:
            return False
        exp = decimal_of(decoded["exp"])
        if exp is None:
            return False
        instants.append(exp)
        try:
            if Decimal(now_ns) < _EXACT.multiply(exp, _NS):
                return False  # time.now_ns() >= payload.exp * 1000000000
            last_valid_ns = _EXACT.multiply(_EXACT.subtract(exp, _ONE), _NS)
            time_ns = float(last_valid_ns)
        except (ArithmeticError, ValueError):
            return False  # Rego arithmetic errors: undefined
        if not time_ns >= 0 or time_ns == float("inf"):
            return False  # the time constraint must be a non-negative float64
        if payload is None or not _claims_ok(payload, self.issuer):
            return False
        return _time_ok(payload, time_ns, [])

    # _revoked if data.gaia.revocations.jti[claims.jti]
    # _revoked if claims.iat <= data.gaia.revocations.subjects[claims.sub]
    def _revoked(self, claims: dict[str, Any]) -> bool:
        if "jti" in claims:
            hit = rego_get(self._jti, claims["jti"])
            if hit is not _UNDEFINED and hit is not False:
                return True
        if "iat" in claims and "sub" in claims:
            not_before = rego_get(self._subjects, claims["sub"])
            if not_before is not _UNDEFINED and rego_compare(claims["iat"], not_before) <= 0:
                return True
        return False

    # _granted if { is_string(input.permission); some role in claims.roles;
    #               input.permission in data.gaia.roles[role] }
    def _granted(self, claims: dict[str, Any], permission: Any) -> bool:
        if not isinstance(permission, str):
            return False
        roles = claims["roles"]
        grants = self._grants
        if grants is not None:
            for role in roles:
                if isinstance(role, str):
                    held = grants.get(role)
                    if held is not None and permission in held:
                        return True
            return False
        for role in roles:
            held = rego_get(self._roles, role)
            if isinstance(held, dict):
                held = list(held.values())
            if isinstance(held, list) and any(isinstance(g, str) and g == permission for g in held):
                return True
        return False


def _token_bytes(token: Any) -> bytes | None:
    if isinstance(token, str):
        try:
            return token.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return None


def public_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """Verified claims as plain Python values (as OPA's JSON would load)."""
    return to_python(claims)


def token_instants(token: Any) -> tuple[Decimal, ...] | None:
    """exp and nbf of an unverified token (to bound a cached OPA answer)."""
    raw = _token_bytes(token)
    if raw is None:
        return None
    payload = _jwt_decode(raw)
    if payload is None:
        return None
    out = []
    for name in ("exp", "nbf"):
        if name in payload:
            value = decimal_of(payload[name])
            if value is None:
                return None
            out.append(value)
    return tuple(out)


# The digest (testdata/conformance/README.md's rule) of the one policy this
# module implements: policies/authz.rego as the IAM ships it, at the path
# policies/authz.rego. A bundle carrying any other Rego is not decided here.
STOCK_POLICY_DIGEST = "bc23ee288902e15de858ac98d6a6c499c0f1f7198c0101d95e661e006afb3086"
