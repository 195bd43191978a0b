"""Bundle verification rules beyond the conformance set (bundle.Reader.Read)."""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gaia_iam import _gojson as gj
from gaia_iam.bundle import BundleRefused, UnknownSigningKey, policy_digest, read_bundle
from gaia_iam.decide import STOCK_POLICY_DIGEST
from gaia_iam.jwks import parse_iam_jwks

from .helpers import (
    CONFORMANCE,
    b64,
    bundle_files,
    conformance_data,
    hash_file,
    private_key,
    read,
    sign,
    signature_file,
    signed_bundle,
    tar_gz,
    token,
)

IAM = private_key("iam.pem")
KEYS = parse_iam_jwks(read(f"{CONFORMANCE}/jwks.json"))
KID = next(iter(KEYS))


def files(**kw: Any) -> list[tuple[str, bytes]]:
    return bundle_files(conformance_data(), **kw)


def accept(raw: bytes) -> Any:
    return read_bundle(raw, KEYS, stock_digest=STOCK_POLICY_DIGEST)


def refuse(raw: bytes, match: str = "") -> None:
    with pytest.raises(BundleRefused, match=match):
        accept(raw)


def with_signature(fs: list[tuple[str, bytes]], sig: bytes) -> bytes:
    return tar_gz([*fs, ("/.signatures.json", sig)])


def jws(payload: Any, header: Any = None, key: Any = IAM) -> bytes:
    header = header or {"alg": "RS256", "kid": KID}
    return json.dumps({"signatures": [token(payload, key, header=header)]}).encode()


def listing(fs: list[tuple[str, bytes]], algorithm: str = "SHA-256") -> list[dict[str, str]]:
    return [
        {"name": n.lstrip("/"), "hash": hash_file(n, raw), "algorithm": algorithm} for n, raw in fs
    ]


def test_baseline_is_accepted() -> None:
    b = accept(signed_bundle(files(revision="r1"), IAM, KID))
    assert b.revision == "r1" and b.policy_digest == STOCK_POLICY_DIGEST and not b.wasm


def test_key_id_from_the_payload_when_the_header_has_none() -> None:
    accept(signed_bundle(files(), IAM, KID, header_kid=False))


def test_header_alg_is_not_what_decides() -> None:
    # verify.go verifies with the configured key's algorithm (RS256)
    fs = files()
    accept(with_signature(fs, jws({"files": listing(fs)}, {"alg": "HS256", "kid": KID})))


def test_no_key_id_at_all() -> None:
    fs = files()
    refuse(with_signature(fs, jws({"files": listing(fs)}, {"alg": "RS256"})), "key ID is empty")


def test_kid_that_is_not_a_string() -> None:
    fs = files()
    refuse(
        with_signature(fs, jws({"files": listing(fs), "keyid": KID}, {"alg": "RS256", "kid": 7})),
        "key ID",
    )


def test_unknown_kid_is_reported_as_such() -> None:
    fs = files()
    with pytest.raises(UnknownSigningKey) as err:
        accept(with_signature(fs, jws({"files": listing(fs)}, {"alg": "RS256", "kid": "k-new"})))
    assert err.value.kid == "k-new"


def test_scope_must_be_empty() -> None:
    fs = files()
    refuse(with_signature(fs, jws({"files": listing(fs), "scope": "write"})), "scope")


def test_payload_fields_match_case_insensitively() -> None:
    fs = files()
    accept(with_signature(fs, jws({"FILES": listing(fs), "Scope": ""})))


@pytest.mark.parametrize("plugin, ok", [("_default", True), ("", True), ("custom", False)])
def test_verifier_plugin(plugin: str, ok: bool) -> None:
    fs = files()
    doc = json.loads(signature_file(fs, IAM, KID))
    doc["plugin"] = plugin
    raw = with_signature(fs, json.dumps(doc).encode())
    accept(raw) if ok else refuse(raw, "verifier")


@pytest.mark.parametrize(
    "doc, why",
    [
        ({}, "missing .signatures.json"),
        ({"signatures": None}, "missing .signatures.json"),
        ({"signatures": []}, "missing JWT"),
    ],
)
def test_empty_signatures(doc: Any, why: str) -> None:
    refuse(with_signature(files(), json.dumps(doc).encode()), why)


def test_signatures_file_is_read_as_one_json_value() -> None:
    fs = files()
    accept(with_signature(fs, signature_file(fs, IAM, KID) + b" trailing"))


def test_two_signature_files() -> None:
    fs = files()
    sig = signature_file(fs, IAM, KID)
    refuse(
        tar_gz([*fs, ("/.signatures.json", sig), ("/x/.signatures.json", sig)]),
        "multiple signatures files",
    )


def test_other_hash_algorithms_and_upper_case_hex() -> None:
    import hashlib

    fs = files()
    listed = []
    for name, raw in fs:
        content = raw if name.endswith(".rego") else gj.canonical(gj.loads(raw))
        listed.append(
            {
                "name": name.lstrip("/"),
                "algorithm": "SHA-512",
                "hash": hashlib.sha512(content).hexdigest().upper(),
            }
        )
    accept(with_signature(fs, jws({"files": listed})))


def test_unsupported_hash_algorithm() -> None:
    fs = files()
    refuse(
        with_signature(fs, jws({"files": listing(fs, "SHA3-256")})), "unsupported hashing algorithm"
    )


def test_hash_that_is_not_hex() -> None:
    fs = files()
    listed = listing(fs)
    listed[0]["hash"] = "zz" + listed[0]["hash"][2:]
    refuse(with_signature(fs, jws({"files": listed})), "not hex")


def test_file_twice_in_the_tar() -> None:
    fs = files()
    sig = signature_file(fs, IAM, KID)
    refuse(tar_gz([*fs, ("/.signatures.json", sig), fs[0]]), "not included")


def test_raw_bytes_are_hashed_for_rego_canonical_json_for_data() -> None:
    fs = files()
    # re-indent data.json after signing: same canonical JSON, same hash
    reindented = [
        (n, json.dumps(json.loads(raw), indent=4).encode() if n == "/data.json" else raw)
        for n, raw in fs
    ]
    accept(with_signature(reindented, signature_file(fs, IAM, KID)))
    # one more newline in the Rego after signing: refused
    changed = [(n, raw + b"\n" if n.endswith(".rego") else raw) for n, raw in fs]
    refuse(with_signature(changed, signature_file(fs, IAM, KID)), "digest mismatch")


def test_delta_bundle() -> None:
    fs = [*files(), ("/patch.json", b'{"data": [{"op": "upsert", "path": "/gaia/x", "value": 1}]}')]
    refuse(signed_bundle(fs, IAM, KID), "delta")


def test_data_outside_the_roots() -> None:
    data = {**conformance_data(), "other": {"x": 1}}
    refuse(signed_bundle(bundle_files(data), IAM, KID), "do not permit data")


def test_data_files_mount_at_their_directory() -> None:
    fs = [*files(), ("/gaia/extra/data.json", b'{"x": 1}')]
    b = accept(signed_bundle(fs, IAM, KID))
    assert b.data["gaia"]["extra"]["x"].text == "1"


def test_conflicting_data_files() -> None:
    fs = [*files(), ("/gaia/data.json", b'{"config": 1}')]
    refuse(signed_bundle(fs, IAM, KID), "insert data")


def test_data_at_a_rule_of_the_policy() -> None:
    data = copy.deepcopy(conformance_data())
    data["gaia"]["authz"] = {"allow": True}
    refuse(signed_bundle(bundle_files(data), IAM, KID), "conflicts")


def test_data_json_with_a_bom() -> None:
    # OPA's downloader activates data with util.Unmarshal, which skips a BOM
    fs = files()
    with_bom = [(n, b"\xef\xbb\xbf" + raw if n == "/data.json" else raw) for n, raw in fs]
    accept(with_signature(with_bom, signature_file(fs, IAM, KID)))


def test_null_data_file_is_ignored() -> None:
    accept(signed_bundle([*files(), ("/gaia/extra/data.json", b"null")], IAM, KID))


def test_only_data_under_the_roots_is_kept() -> None:
    data = {**conformance_data(), "ga": {}}  # a prefix of the root "gaia": allowed, not stored
    b = accept(signed_bundle(bundle_files(data), IAM, KID))
    assert sorted(b.data) == ["gaia"]


def test_non_object_data_at_the_root() -> None:
    refuse(
        signed_bundle([*files(), ("/x/../data.json", b"[1]")], IAM, KID),
        "root value must be object",
    )


@pytest.mark.parametrize(
    "manifest, why",
    [
        ({"rego_version": 0}, "Rego v0"),
        ({"rego_version": 2}, "rego"),
        ({"file_rego_versions": {"/policies/*.rego": 0}}, "Rego v0"),
        ({"roots": ["gaia", "gaia/x"]}, "overlapped roots"),
        ({"roots": ["other"]}, "do not permit"),
        ({"revision": 5}, "manifest"),
        ({"wasm": [{"module": "/policy.wasm", "entrypoint": "gaia/authz/allow"}]}, "wasm module"),
    ],
)
def test_manifests_opa_refuses(manifest: dict[str, Any], why: str) -> None:
    refuse(signed_bundle(files(manifest=manifest), IAM, KID), why)


def test_rego_version_per_file_pattern() -> None:
    accept(
        signed_bundle(
            files(manifest={"rego_version": 0, "file_rego_versions": {"*/authz.rego": 1}}), IAM, KID
        )
    )


def test_no_manifest_means_every_root() -> None:
    fs = [f for f in files() if f[0] != "/.manifest"]
    b = accept(signed_bundle(fs, IAM, KID))
    assert b.revision == ""


def test_wasm_is_flagged() -> None:
    fs = [*files(), ("/policy.wasm", b"\x00asm")]
    assert accept(signed_bundle(fs, IAM, KID)).wasm


def test_custom_rego_changes_the_digest() -> None:
    fs = files(extra_modules={"/policies/custom.rego": b"package gaia.custom\n\nx := 1\n"})
    b = accept(signed_bundle(fs, IAM, KID))
    assert b.policy_digest != STOCK_POLICY_DIGEST
    assert b.policy_digest == policy_digest([(n, raw) for n, raw in fs if n.endswith(".rego")])


def test_policy_digest_orders_paths_by_bytes() -> None:
    a = policy_digest([("/b.rego", b"2"), ("/a.rego", b"1")])
    assert a == policy_digest([("a.rego", b"1"), ("b.rego", b"2")])


def test_small_rsa_keys_never_verify() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=768)
    keys = {"small": small.public_key()}
    fs = files()
    with pytest.raises(BundleRefused, match="verify"):
        read_bundle(
            with_signature(
                fs, jws({"files": listing(fs)}, {"alg": "RS256", "kid": "small"}, small)
            ),
            keys,
        )


@pytest.mark.parametrize(
    "raw", [b"", b"not gzip", gzip.compress(b"not a tar" * 100)[:-4], gzip.compress(b"x" * 1000)]
)
def test_broken_archives(raw: bytes) -> None:
    refuse(raw)


def test_signature_over_other_bytes() -> None:
    fs = files()
    sig = json.loads(signature_file(fs, IAM, KID))
    head, body, _ = sig["signatures"][0].split(".")
    sig["signatures"][0] = f"{head}.{body}.{b64(sign(IAM, b'something else'))}"
    refuse(with_signature(fs, json.dumps(sig).encode()), "verify")
