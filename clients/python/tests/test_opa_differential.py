"""Differential tests against a stock OPA v1.22.3 running policies/authz.rego.

Tokens and data the conformance vectors do not cover (OPA's kid fallback,
aud and crit rules, non-numeric exp, Rego's ordering across types, nested
JWTs, invalid UTF-8, ...) are decided by the real OPA and by this client,
which must agree on every decision and principal. Skipped without an
``opa`` binary (GAIA_IAM_TEST_OPA or PATH).
"""

from __future__ import annotations

import copy
import json
import os
import time
from typing import Any

import pytest

from gaia_iam import _gojson as gj
from gaia_iam.decide import StockPolicy, public_claims

from .helpers import STOCK_REGO, b64, conformance_data, private_key, read, sign, token
from .opa import OPA, opa_binary

pytestmark = pytest.mark.skipif(
    opa_binary() is None, reason="no opa binary (set GAIA_IAM_TEST_OPA)"
)

IAM = private_key("iam.pem")
FOREIGN = private_key("foreign.pem")
BASE = {
    "iss": "gaia-iam",
    "sub": "sub-1",
    "username": "alice",
    "type": "user",
    "roles": ["Analyst"],
    "permissions": ["inventory.read"],
    "iat": 1767225600,
    "exp": 4102444800,
    "jti": "jti-1",
}
REVOKED_SUB = "00000000-0000-4000-8000-000000000009"  # not_before 1767229200


def claims(**changes: Any) -> dict[str, Any]:
    out = dict(BASE)
    for k, v in changes.items():
        if v is _DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


_DROP = object()


def raw_token(header: bytes, payload: bytes, key: Any = IAM, *, pad: bool = False) -> str:
    def enc(raw: bytes) -> str:
        s = b64(raw)
        return s + "=" * (-len(s) % 4) if pad else s

    head, body = enc(header), enc(payload)
    return f"{head}.{body}.{enc(sign(key, f'{head}.{body}'.encode()))}"


def kid() -> str:
    return conformance_data()["gaia"]["keys"]["keys"][0]["kid"]


def tokens() -> dict[str, str]:
    k = kid()
    hdr = {"alg": "RS256", "typ": "JWT", "kid": k}
    expired = claims(exp=1735690500, iat=1735689600)
    inner = token(claims(), IAM, kid=k)
    out = {
        "valid": token(claims(), IAM, kid=k),
        "unknown_kid_iam_key": token(claims(), IAM, kid="not-a-known-kid"),
        "empty_kid": token(claims(), IAM, header={"alg": "RS256", "kid": ""}),
        "foreign_no_kid": token(claims(), FOREIGN),
        "aud_empty_string": token(claims(aud=""), IAM, kid=k),
        "aud_list_with_empty": token(claims(aud=["x", ""]), IAM, kid=k),
        "aud_empty_list": token(claims(aud=[]), IAM, kid=k),
        "aud_number": token(claims(aud=5), IAM, kid=k),
        "aud_null": token(claims(aud=None), IAM, kid=k),
        "crit_unknown": token(claims(), IAM, header={**hdr, "crit": ["foo"], "foo": 1}),
        "crit_known": token(claims(), IAM, header={**hdr, "crit": ["alg"]}),
        "crit_empty": token(claims(), IAM, header={**hdr, "crit": []}),
        "crit_not_list": token(claims(), IAM, header={**hdr, "crit": "foo"}),
        "crit_number_first": token(claims(), IAM, header={**hdr, "crit": [1, "foo"], "foo": 1}),
        "crit_number_later": token(
            claims(), IAM, header={**hdr, "crit": ["bar", 1, "foo"], "foo": 1}
        ),
        "typ_number": token(claims(), IAM, header={**hdr, "typ": 1}),
        "kid_number": token(claims(), IAM, header={**hdr, "kid": 1}),
        "no_alg": token(claims(), IAM, header={"kid": k}),
        "jwe_header": token(claims(), IAM, header={**hdr, "enc": "A128GCM"}),
        "header_array": raw_token(b"[1]", json.dumps(claims()).encode()),
        "payload_array": raw_token(json.dumps(hdr).encode(), b"[1,2]"),
        "dup_alg_header": raw_token(
            b'{"alg":"none","kid":"%s","alg":"RS256"}' % k.encode(), json.dumps(claims()).encode()
        ),
        "exp_string": token(claims(exp="4102444800"), IAM, kid=k),
        "exp_null": token(claims(exp=None), IAM, kid=k),
        "exp_float": token(claims(exp=4102444800.5), IAM, kid=k),
        "exp_exponent": raw_token(
            json.dumps(hdr).encode(),
            json.dumps(claims(exp=0)).replace('"exp": 0', '"exp": 4.1024448e9').encode(),
        ),
        "exp_huge": raw_token(
            json.dumps(hdr).encode(),
            json.dumps(claims(exp=0)).replace('"exp": 0', '"exp": 1e400').encode(),
        ),
        "no_exp": token(claims(exp=_DROP), IAM, kid=k),
        "nbf_past": token(claims(nbf=1700000000), IAM, kid=k),
        "nbf_future": token(claims(nbf=4070908800), IAM, kid=k),
        "nbf_string": token(claims(nbf="1"), IAM, kid=k),
        "nbf_null": token(claims(nbf=None), IAM, kid=k),
        "iss_missing": token(claims(iss=_DROP), IAM, kid=k),
        "type_service": token(claims(type="service"), IAM, kid=k),
        "type_capitalised": token(claims(type="User"), IAM, kid=k),
        "roles_object": token(claims(roles={}), IAM, kid=k),
        "roles_mixed": token(claims(roles=[1, None, "Viewer"]), IAM, kid=k),
        "role_object_grants": token(claims(roles=["Weird"]), IAM, kid=k),
        "role_string_grants": token(claims(roles=["Stringy"]), IAM, kid=k),
        "iat_string_revoked_sub": token(claims(sub=REVOKED_SUB, iat="1"), IAM, kid=k),
        "iat_float_equal": token(claims(sub=REVOKED_SUB, iat=1767229200.0), IAM, kid=k),
        "iat_after": token(claims(sub=REVOKED_SUB, iat=1767229201), IAM, kid=k),
        "iat_list": token(claims(sub=REVOKED_SUB, iat=[1]), IAM, kid=k),
        "iat_null": token(claims(sub=REVOKED_SUB, iat=None), IAM, kid=k),
        "no_iat_revoked_sub": token(claims(sub=REVOKED_SUB, iat=_DROP), IAM, kid=k),
        "sub_string_not_before": token(claims(sub="sub-str"), IAM, kid=k),
        "sub_float_not_before": token(claims(sub="sub-float"), IAM, kid=k),
        "sub_list_not_before": token(claims(sub="sub-list"), IAM, kid=k),
        "sub_number": token(claims(sub=5), IAM, kid=k),
        "jti_false": token(claims(jti="jti-false"), IAM, kid=k),
        "jti_null": token(claims(jti="jti-null"), IAM, kid=k),
        "jti_zero": token(claims(jti="jti-zero"), IAM, kid=k),
        "jti_number": token(claims(jti=5), IAM, kid=k),
        "expired": token(expired, IAM, kid=k),
        "expired_robot": token({**expired, "type": "robot"}, IAM, kid=k),
        "expired_no_roles": token({**expired, "roles": "x"}, IAM, kid=k),
        "expired_foreign": token(expired, FOREIGN, kid=k),
        "expired_float": token({**expired, "exp": 1735690500.5}, IAM, kid=k),
        "expired_negative": token({**expired, "exp": -1}, IAM, kid=k),
        "expired_zero": token({**expired, "exp": 0}, IAM, kid=k),
        "expired_one": token({**expired, "exp": 1}, IAM, kid=k),
        "expired_nbf_after": token({**expired, "nbf": 1735690500}, IAM, kid=k),
        "expired_wrong_issuer": token({**expired, "iss": "other"}, IAM, kid=k),
        "expired_revoked": token({**expired, "jti": "jti-revoked-admin"}, IAM, kid=k),
        "dup_keys_payload": raw_token(
            json.dumps(hdr).encode(),
            json.dumps(claims(type="robot"))[:-1].encode() + b', "type": "user"}',
        ),
        "invalid_utf8_username": raw_token(
            json.dumps(hdr).encode(),
            json.dumps(claims(username="XX")).encode().replace(b"XX", b"a\xff\xe2\x82b"),
        ),
        "lone_surrogate": raw_token(
            json.dumps(hdr).encode(),
            json.dumps(claims(username="XX")).encode().replace(b"XX", b"\\ud800x\\udc00"),
        ),
        "escapes_username": token(
            claims(username='<a&b>\u2028"\\\n\x01\u00e9\U0001f600'), IAM, kid=k
        ),
        "padded_segments": raw_token(
            json.dumps(hdr).encode(), json.dumps(claims(jti="pad")).encode(), pad=True
        ),
        "nested_jwt": raw_token(
            json.dumps({"alg": "RS256", "kid": k, "cty": "JWT"}).encode(), inner.encode()
        ),
        "nested_jwt_lower": raw_token(
            json.dumps({"alg": "RS256", "kid": k, "cty": "jwt"}).encode(), inner.encode()
        ),
        "nested_jwt_quoted": raw_token(
            json.dumps({"alg": "RS256", "kid": k, "cty": "JWT"}).encode(),
            b'"' + inner.encode() + b'"',
        ),
        "four_parts": token(claims(), IAM, kid=k) + ".x",
        "empty_parts": "..",
        "leading_space": " " + token(claims(), IAM, kid=k),
        "bad_signature_length": token(claims(), IAM, kid=k)[:-8],
        "no_signature": token(claims(), None, kid=k),
        "big_numbers": raw_token(
            json.dumps(hdr).encode(),
            json.dumps(claims(jti="big")).encode()[:-1]
            + b', "n": 123456789012345678901234567890, "f": 1.50, "z": -0, "e": 1E+2}',
        ),
    }
    # a token the payload of which has a line break inside its base64
    good = token(claims(jti="newline"), IAM, kid=k).split(".")
    body = good[1][:10] + "\n" + good[1][10:]
    out["newline_in_payload"] = f"{good[0]}.{body}.{b64(sign(IAM, f'{good[0]}.{body}'.encode()))}"
    return out


def dataset() -> dict[str, Any]:
    data = copy.deepcopy(conformance_data())
    gaia = data["gaia"]
    gaia["roles"]["Weird"] = {"x": "inventory.read", "y": 7}
    gaia["roles"]["Stringy"] = "inventory.read"
    gaia["revocations"]["jti"].update({"jti-false": False, "jti-null": None, "jti-zero": 0})
    gaia["revocations"]["subjects"].update(
        {"sub-str": "1767225600", "sub-float": 1767225600.0, "sub-list": [1]}
    )
    return data


def key_variants() -> dict[str, dict[str, Any]]:
    base = conformance_data()
    iam_key = base["gaia"]["keys"]["keys"][0]
    variants = {
        "key_without_kid": {k: v for k, v in iam_key.items() if k != "kid"},
        "key_without_alg": {k: v for k, v in iam_key.items() if k != "alg"},
        "key_alg_es256": {**iam_key, "alg": "ES256"},
        "key_alg_unknown": {**iam_key, "alg": "XX999"},
        "key_alg_ps256": {**iam_key, "alg": "PS256"},
    }
    out = {}
    for name, key in variants.items():
        data = copy.deepcopy(base)
        data["gaia"]["keys"] = {"keys": [key]}
        out[name] = data
    single = copy.deepcopy(base)
    single["gaia"]["keys"] = iam_key  # one JWK, not a set
    out["single_jwk"] = single
    broken = copy.deepcopy(base)
    broken["gaia"]["keys"] = {"keys": [iam_key, {"kty": "nope"}]}
    out["key_set_with_bad_key"] = broken
    no_issuer = copy.deepcopy(base)
    no_issuer["gaia"]["config"]["issuer"] = ""
    out["empty_issuer"] = no_issuer
    return out


def start_opa(tmp_path: Any, name: str, data: dict[str, Any]) -> OPA:
    root = tmp_path / name
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "authz.rego").write_bytes(read(STOCK_REGO))
    (root / "data.json").write_text(json.dumps(data))
    (root / ".manifest").write_text(
        json.dumps({"revision": name, "roots": ["gaia"], "rego_version": 1})
    )
    return OPA(opa_binary() or "opa", ["--bundle", str(root)], str(tmp_path))


PERMISSIONS: list[Any] = ["inventory.read", "inventory.write", "", 5, None]


def compare(opa: OPA, data: dict[str, Any], toks: dict[str, str], perms: list[Any]) -> list[str]:
    policy = StockPolicy(gj.loads(json.dumps(data).encode()))
    mismatches = []
    for name, tok in toks.items():
        for perm in perms:
            now = time.time_ns()
            want = opa.query("gaia/authz/decision", {"token": tok, "permission": perm})["result"]
            ev = policy.evaluate(tok, perm, now)
            got = {"allow": ev.allow, "reasons": list(ev.reasons)}
            if got != want:
                mismatches.append(f"{name} {perm!r}: OPA {want}, python {got}")
        want_p = opa.query("gaia/authz/principal", {"token": tok}).get("result")
        ev = policy.evaluate(tok, None, time.time_ns())
        got_p = public_claims(ev.principal) if ev.principal is not None else None
        if got_p != want_p:
            mismatches.append(f"{name} principal: OPA {want_p}, python {got_p}")
    return mismatches


def test_decisions_match_stock_opa(tmp_path: Any) -> None:
    data = dataset()
    opa = start_opa(tmp_path, "main", data)
    try:
        mismatches = compare(opa, data, tokens(), PERMISSIONS)
    finally:
        opa.stop()
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("variant", sorted(key_variants()))
def test_key_sets_match_stock_opa(tmp_path: Any, variant: str) -> None:
    data = key_variants()[variant]
    toks = {
        n: t
        for n, t in tokens().items()
        if n
        in ("valid", "unknown_kid_iam_key", "empty_kid", "foreign_no_kid", "expired", "iss_missing")
    }
    opa = start_opa(tmp_path, variant, data)
    try:
        mismatches = compare(opa, data, toks, ["inventory.read"])
    finally:
        opa.stop()
    assert not mismatches, "\n".join(mismatches)


def test_opa_binary_is_the_pinned_version() -> None:
    import subprocess

    out = subprocess.run(
        [opa_binary() or "opa", "version"], capture_output=True, text=True, check=True
    ).stdout
    assert "Version: 1.22.3" in out


if os.environ.get("GAIA_IAM_DIFF_VERBOSE"):  # pragma: no cover - debugging aid
    print(sorted(tokens()))
