"""The language-neutral conformance vectors (testdata/conformance)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any, Callable

import pytest

from gaia_iam import STOCK_POLICY_DIGEST, Authorizer, InvalidToken
from gaia_iam.bundle import BundleRefused, policy_digest, read_bundle
from gaia_iam.jwks import parse_iam_jwks

from .conftest import wait_for
from .helpers import CONFORMANCE, STOCK_REGO, FakeIAM, read


def test_stock_digest_is_the_digest_of_policies_authz_rego(vectors: dict[str, Any]) -> None:
    raw = read(STOCK_REGO)
    by_rule = hashlib.sha256(
        b"policies/authz.rego\n" + hashlib.sha256(raw).hexdigest().encode() + b"\n"
    ).hexdigest()
    assert policy_digest([("/policies/authz.rego", raw)]) == by_rule
    assert STOCK_POLICY_DIGEST == by_rule == vectors["policy_digest"]


def test_bundle_verifies_with_revision_and_digest(
    vectors: dict[str, Any], jwks_raw: bytes, bundle_raw: bytes
) -> None:
    b = read_bundle(bundle_raw, parse_iam_jwks(jwks_raw), stock_digest=STOCK_POLICY_DIGEST)
    assert b.revision == vectors["revision"]
    assert b.policy_digest == vectors["policy_digest"]
    assert [path for path, _ in b.modules] == ["policies/authz.rego"]


@pytest.fixture
def at_vector_time(
    vectors: dict[str, Any], iam: FakeIAM, make_authorizer: Callable[..., Authorizer]
) -> Authorizer:
    a = make_authorizer(iam.url, clock=lambda: vectors["time"])
    wait_for(a.ready, what="the conformance bundle")
    return a


def test_every_case_at_the_vectors_time(
    vectors: dict[str, Any], at_vector_time: Authorizer
) -> None:
    wrong = []
    for case in vectors["cases"]:
        d = at_vector_time.authorize(vectors["tokens"][case["token"]], case["permission"])
        if (d.allow, list(d.reasons)) != (case["allow"], case["reasons"]):
            wrong.append((case, d))
        assert d.revision == vectors["revision"]
        assert (
            at_vector_time.has_permission(vectors["tokens"][case["token"]], case["permission"])
            is case["allow"]
        )
    assert not wrong
    assert len(vectors["cases"]) >= 180


def test_every_case_again_from_the_cache(
    vectors: dict[str, Any], at_vector_time: Authorizer
) -> None:
    for _ in range(2):
        for case in vectors["cases"]:
            d = at_vector_time.authorize(vectors["tokens"][case["token"]], case["permission"])
            assert (d.allow, list(d.reasons)) == (case["allow"], case["reasons"]), case


def test_every_case_at_the_wall_clock(
    vectors: dict[str, Any], ready_authorizer: Authorizer
) -> None:
    for case in vectors["cases"]:
        d = ready_authorizer.authorize(vectors["tokens"][case["token"]], case["permission"])
        assert (d.allow, list(d.reasons)) == (case["allow"], case["reasons"]), case


def test_every_principal(vectors: dict[str, Any], at_vector_time: Authorizer) -> None:
    decisions = {}
    for case in vectors["cases"]:
        decisions.setdefault(case["token"], case["reasons"])
    for name, want in vectors["principals"].items():
        tok = vectors["tokens"][name]
        if want is None:
            with pytest.raises(InvalidToken) as err:
                at_vector_time.principal(tok)
            token_reasons = [r for r in decisions[name] if r.startswith("token_")]
            assert err.value.reason == (token_reasons[0] if token_reasons else "token_invalid")
        else:
            p = at_vector_time.principal(tok)
            assert p.claims == want
            assert p.id == want["sub"] and p.username == want["username"] and p.type == want["type"]
            assert list(p.roles) == want["roles"]
            assert list(p.permissions) == want.get("permissions", [])


with open(os.path.join(CONFORMANCE, "vectors.json")) as _f:
    _REFUSED = json.load(_f)["refused_bundles"]


@pytest.mark.parametrize("entry", _REFUSED, ids=[e["file"] for e in _REFUSED])
def test_refused_bundles_are_refused(jwks_raw: bytes, entry: dict[str, Any]) -> None:
    with pytest.raises(BundleRefused):
        read_bundle(
            read(os.path.join(CONFORMANCE, entry["file"])),
            parse_iam_jwks(jwks_raw),
            stock_digest=STOCK_POLICY_DIGEST,
        )


def test_every_refused_bundle_over_http_keeps_the_last_good(
    vectors: dict[str, Any],
    iam: FakeIAM,
    bundle_raw: bytes,
    caplog: Any,
    make_authorizer: Callable[..., Authorizer],
) -> None:
    a = make_authorizer(iam.url, clock=lambda: vectors["time"])
    wait_for(a.ready, what="the first bundle")
    analyst = vectors["tokens"]["analyst"]
    viewer = vectors["tokens"]["viewer"]
    caplog.set_level(logging.WARNING, logger="gaia_iam")
    for entry in vectors["refused_bundles"]:
        raw = read(os.path.join(CONFORMANCE, entry["file"]))
        before = iam.count("/bundles/gaia.tar.gz")
        iam.set(bundle=raw)
        # several polls of the bad bundle: each downloads it in full (no ETag kept)
        wait_for(lambda: iam.count("/bundles/gaia.tar.gz") >= before + 3, what="polls")
        assert a.ready()
        assert a.revision == vectors["revision"]
        assert a.authorize(analyst, "inventory.read").allow
        # data-tampered grants Viewer inventory.write: never active
        assert not a.authorize(viewer, "inventory.write").allow
        refusals = [r for r in caplog.records if "bundle refused" in r.getMessage()]
        assert len(refusals) == 1, (entry, [r.getMessage() for r in refusals])  # logged once
        caplog.clear()
    iam.set(bundle=bundle_raw)


def test_custom_policy_bundle_is_not_decided(
    vectors: dict[str, Any], iam: FakeIAM, caplog: Any, make_authorizer: Callable[..., Authorizer]
) -> None:
    custom = read(os.path.join(CONFORMANCE, vectors["custom_policy_bundle"]))
    iam.set(bundle=custom)
    caplog.set_level(logging.ERROR, logger="gaia_iam")
    a = make_authorizer(iam.url, clock=lambda: vectors["time"])
    wait_for(lambda: iam.count("/bundles/gaia.tar.gz") >= 4, what="polls")
    assert not a.ready()
    d = a.authorize(vectors["tokens"]["admin"], "inventory.read")
    assert not d.allow and d.reasons == ("policy_unsupported",)
    assert not a.has_permission(vectors["tokens"]["admin"], "inventory.read")
    lines = [r.getMessage() for r in caplog.records if "sidecar" in r.getMessage()]
    assert len(lines) == 1 and "opa_url=" in lines[0]


def test_custom_policy_after_a_stock_one_stops_deciding(
    vectors: dict[str, Any],
    iam: FakeIAM,
    bundle_raw: bytes,
    make_authorizer: Callable[..., Authorizer],
) -> None:
    a = make_authorizer(iam.url, clock=lambda: vectors["time"])
    wait_for(a.ready, what="the stock bundle")
    iam.set(bundle=read(os.path.join(CONFORMANCE, vectors["custom_policy_bundle"])))
    wait_for(lambda: not a.ready(), what="the custom bundle")
    assert a.authorize(vectors["tokens"]["admin"], "inventory.read").reasons == (
        "policy_unsupported",
    )
    iam.set(bundle=bundle_raw)
    wait_for(a.ready, what="the stock bundle again")
    assert a.authorize(vectors["tokens"]["admin"], "inventory.read").allow
