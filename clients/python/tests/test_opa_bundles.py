"""Bundle hashing against a stock OPA v1.22.3 (skipped without one).

Bundles whose data.json and .manifest hold what Go's JSON encoding treats
specially (escapes, U+2028, ``< > &``, numbers as written, invalid UTF-8,
lone surrogates, key order by bytes) are signed with this client's canonical
hash and served to an OPA configured as the Go SDK configures it. OPA
activating each one shows both hash the same bytes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from gaia_iam.bundle import BundleRefused, read_bundle
from gaia_iam.decide import STOCK_POLICY_DIGEST
from gaia_iam.jwks import parse_iam_jwks

from .helpers import (
    CONFORMANCE,
    FakeIAM,
    bundle_files,
    conformance_data,
    hash_file,
    private_key,
    read,
    signature_file,
    signed_bundle,
    tar_gz,
    token,
)
from .opa import OPA, opa_binary

pytestmark = pytest.mark.skipif(
    opa_binary() is None, reason="no opa binary (set GAIA_IAM_TEST_OPA)"
)

IAM = private_key("iam.pem")

TRICKY_JSON = (
    b'{"gaia": {"config": {"issuer": "gaia-iam"}, "keys": KEYS, "roles": {}, '
    b'"revocations": {"jti": {}, "subjects": {}}, "probe": "MARKER", "tricky": {'
    b'"html": "<a href=\\"x\\">&amp;</a>", "seps": "\\u2028 and \\u2029 and \xe2\x80\xa8", '
    b'"ctl": "\\u0000\\u0001\\b\\f\\n\\r\\t\\u001f\\u007f\x7f", "quote": "\\"\\\\\\/", '
    b'"nums": [1.0, 1e2, 1E+2, -0, 0.000001, 123456789012345678901234567890, 1.5e-7, -12.50], '
    b'"unicode": "\\u00e9\xc3\xa9\\ud83d\\ude00\xf0\x9f\x98\x80", '
    b'"Z": 1, "a": 2, "\xc3\xa9": 3, "B": [true, false, null, {}, []], "dup": 1, "dup": 2}}}'
)
BROKEN_JSON = (
    b'{"gaia": {"config": {"issuer": "gaia-iam"}, "keys": KEYS, "roles": {}, '
    b'"revocations": {"jti": {}, "subjects": {}}, "probe": "MARKER", '
    b'"bad": "a\xff\xfeb\xe2\x82c", "lone": "\\ud800x\\udc00", "\\udbff": 1, "k\xff": 2}}'
)


def data_bytes(template: bytes, marker: str) -> bytes:
    keys = json.dumps(conformance_data()["gaia"]["keys"]).encode()
    return template.replace(b"KEYS", keys).replace(b"MARKER", marker.encode())


def bundles(kid: str) -> dict[str, bytes]:
    out = {}
    out["tricky-data"] = signed_bundle(
        bundle_files(data_bytes(TRICKY_JSON, "tricky-data"), revision="tricky-data"), IAM, kid
    )
    out["invalid-utf8"] = signed_bundle(
        bundle_files(data_bytes(BROKEN_JSON, "invalid-utf8"), revision="invalid-utf8"), IAM, kid
    )
    meta = {"gaia": {"policy_digest": STOCK_POLICY_DIGEST}, "note": "<&> \u2028 \u00e9", "n": 1.50}
    out["tricky-manifest"] = signed_bundle(
        bundle_files(
            data_bytes(TRICKY_JSON, "tricky-manifest"),
            revision="tricky-manifest",
            manifest={"metadata": meta},
        ),
        IAM,
        kid,
    )
    out["payload-keyid-only"] = signed_bundle(
        bundle_files(data_bytes(TRICKY_JSON, "payload-keyid-only"), revision="payload-keyid-only"),
        IAM,
        kid,
        header_kid=False,
    )
    return out


def opa_config(iam_url: str, kid: str) -> str:
    pem = (
        IAM.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return json.dumps(
        {
            "services": {"iam": {"url": iam_url}},
            "bundles": {
                "gaia": {
                    "service": "iam",
                    "resource": "/bundles/gaia.tar.gz",
                    "signing": {},
                    "polling": {"min_delay_seconds": 1, "max_delay_seconds": 1},
                }
            },
            "keys": {kid: {"key": pem, "algorithm": "RS256"}},
        }
    )


def probe(opa: OPA) -> Any:
    return opa.query("gaia/probe").get("result")


def test_opa_activates_bundles_hashed_by_this_client(tmp_path: Any) -> None:
    jwks = read(f"{CONFORMANCE}/jwks.json")
    keys = parse_iam_jwks(jwks)
    kid = next(iter(keys))
    made = bundles(kid)
    for name, raw in made.items():  # this client accepts each one
        assert read_bundle(raw, keys, stock_digest=STOCK_POLICY_DIGEST).revision == name
    iam = FakeIAM(jwks, made["tricky-data"])
    (tmp_path / "config.json").write_text(opa_config(iam.url, kid))
    opa = OPA(
        opa_binary() or "opa", ["--config-file", str(tmp_path / "config.json")], str(tmp_path)
    )
    try:
        for name, raw in made.items():
            iam.set(bundle=raw)
            deadline = time.monotonic() + 15
            while probe(opa) != name:
                assert time.monotonic() < deadline, f"OPA did not activate {name}"
                time.sleep(0.1)
    finally:
        opa.stop()
        iam.stop()


def verdict_variants(kid: str) -> dict[str, tuple[bytes, bool]]:
    """Bundles whose verdict follows from verify.go / bundle.go: (raw, accepted)."""

    def base(marker: str, **kw: Any) -> list[tuple[str, bytes]]:
        return bundle_files(data_bytes(TRICKY_JSON, marker), revision=marker, **kw)

    def listing(fs: list[tuple[str, bytes]]) -> list[dict[str, str]]:
        return [
            {"name": n.lstrip("/"), "hash": hash_file(n, raw), "algorithm": "SHA-256"}
            for n, raw in fs
        ]

    def with_sig(
        fs: list[tuple[str, bytes]], sig: bytes, files: list[tuple[str, bytes]] | None = None
    ) -> bytes:
        return tar_gz([*(files or fs), ("/.signatures.json", sig)])

    def jws(payload: Any, header: Any) -> bytes:
        return json.dumps({"signatures": [token(payload, IAM, header=header)]}).encode()

    out: dict[str, tuple[bytes, bool]] = {}
    fs = base("hs256-header")
    out["hs256-header"] = (
        with_sig(fs, jws({"files": listing(fs)}, {"alg": "HS256", "kid": kid})),
        True,
    )
    fs = base("upper-case-fields")
    out["upper-case-fields"] = (
        with_sig(fs, jws({"FILES": listing(fs), "KeyId": kid}, {"alg": "RS256"})),
        True,
    )
    fs = base("trailing-garbage")
    out["trailing-garbage"] = (with_sig(fs, signature_file(fs, IAM, kid) + b" }garbage"), True)
    fs = base("reindented")
    re_fs = [
        (n, b"\n \t" + raw.replace(b'": ', b'":\n   ') + b"\n\n" if n == "/data.json" else raw)
        for n, raw in fs
    ]
    out["reindented"] = (with_sig(fs, signature_file(fs, IAM, kid), re_fs), True)
    fs = base("bom")
    bom = [(n, b"\xef\xbb\xbf" + raw if n == "/data.json" else raw) for n, raw in fs]
    out["bom"] = (
        with_sig(fs, signature_file(fs, IAM, kid), bom),
        True,
    )  # skipped by util.Unmarshal
    fs = [*base("outside-roots"), ("/other/data.json", b'{"x": 1}')]
    out["outside-roots"] = (signed_bundle(fs, IAM, kid), False)
    fs = [*base("root-prefix"), ("/ga/data.json", b"{}")]
    out["root-prefix"] = (signed_bundle(fs, IAM, kid), True)
    fs = [*base("null-data"), ("/gaia/extra/data.json", b"null")]
    out["null-data"] = (signed_bundle(fs, IAM, kid), True)
    fs = [*base("conflict"), ("/gaia/data.json", b'{"config": 1}')]
    out["conflict"] = (signed_bundle(fs, IAM, kid), False)
    data = json.loads(data_bytes(TRICKY_JSON, "rule-conflict").replace(b'"dup": 1, ', b""))
    data["gaia"]["authz"] = {"allow": True}
    out["rule-conflict"] = (
        signed_bundle(bundle_files(data, revision="rule-conflict"), IAM, kid),
        False,
    )
    fs = [*base("extra-file"), ("/README.md", b"hello")]
    out["extra-file"] = (signed_bundle(fs, IAM, kid), True)
    fs = base("scope")
    out["scope"] = (
        with_sig(fs, jws({"files": listing(fs), "scope": "x"}, {"alg": "RS256", "kid": kid})),
        False,
    )
    fs = base("rego-v0", manifest={"rego_version": 0})
    out["rego-v0"] = (signed_bundle(fs, IAM, kid), False)
    fs = base("plugin")
    doc = json.loads(signature_file(fs, IAM, kid))
    doc["plugin"] = "other"
    out["plugin"] = (with_sig(fs, json.dumps(doc).encode()), False)
    return out


def test_verdicts_match_opa(tmp_path: Any) -> None:
    jwks = read(f"{CONFORMANCE}/jwks.json")
    keys = parse_iam_jwks(jwks)
    kid = next(iter(keys))
    first = signed_bundle(
        bundle_files(data_bytes(TRICKY_JSON, "start"), revision="start"), IAM, kid
    )
    iam = FakeIAM(jwks, first)
    (tmp_path / "config.json").write_text(opa_config(iam.url, kid))
    opa = OPA(
        opa_binary() or "opa", ["--config-file", str(tmp_path / "config.json")], str(tmp_path)
    )
    mismatches = []
    try:
        deadline = time.monotonic() + 15
        while probe(opa) != "start":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        current = "start"
        for name, (raw, accepted) in verdict_variants(kid).items():
            try:
                read_bundle(raw, keys, stock_digest=STOCK_POLICY_DIGEST)
                ours = True
            except BundleRefused:
                ours = False
            polls = iam.count("/bundles/gaia.tar.gz")
            iam.set(bundle=raw)
            deadline = time.monotonic() + 15
            while probe(opa) != name and iam.count("/bundles/gaia.tar.gz") < polls + 2:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            theirs = probe(opa) == name
            if theirs:
                current = name
            else:
                assert probe(opa) == current
            if (ours, theirs) != (accepted, accepted):
                mismatches.append(f"{name}: expected {accepted}, python {ours}, OPA {theirs}")
    finally:
        opa.stop()
        iam.stop()
    assert not mismatches, "\n".join(mismatches)
