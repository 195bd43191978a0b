"""The Authorizer over real HTTP: polling, ETag, cache_dir, close, clock."""

from __future__ import annotations

import copy
import json
import logging
import os
import socket
import threading
import time
from typing import Any, Callable

import pytest

from gaia_iam import Authorizer, InvalidToken, NotReady

from .conftest import wait_for
from .helpers import FakeIAM, bundle_files, conformance_data, jwk, private_key, signed_bundle, token

IAM_KEY = private_key("iam.pem")
OTHER_KEY = private_key("foreign.pem")


def iam_kid(jwks_raw: bytes) -> str:
    return json.loads(jwks_raw)["keys"][0]["kid"]


def claims(**kw: Any) -> dict[str, Any]:
    base = {
        "iss": "gaia-iam",
        "sub": "s-1",
        "username": "alice",
        "type": "user",
        "roles": ["Viewer"],
        "permissions": ["inventory.read"],
        "iat": 1767225600,
        "exp": 4102444800,
        "jti": "j-1",
    }
    base.update(kw)
    return base


def test_returns_at_once_and_denies_before_the_first_bundle(
    make_authorizer: Callable[..., Authorizer], vectors: dict[str, Any]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    t0 = time.perf_counter()
    a = make_authorizer(f"http://127.0.0.1:{port}")
    assert time.perf_counter() - t0 < 0.1
    assert not a.ready()
    d = a.authorize(vectors["tokens"]["admin"], "inventory.read")
    assert (d.allow, d.reasons, d.revision) == (False, ("not_ready",), "")
    assert not a.has_permission(vectors["tokens"]["admin"], "inventory.read")
    with pytest.raises(NotReady) as err:
        a.principal(vectors["tokens"]["admin"])
    assert err.value.reason == "not_ready"


def test_bundle_not_served_yet(
    iam: FakeIAM,
    bundle_raw: bytes,
    make_authorizer: Callable[..., Authorizer],
    vectors: dict[str, Any],
) -> None:
    iam.bundle = None  # 404
    a = make_authorizer(iam.url)
    wait_for(lambda: iam.count("/bundles/gaia.tar.gz") >= 2, what="polls")
    assert not a.ready()
    iam.set(bundle=bundle_raw)
    wait_for(a.ready, what="the bundle")
    assert a.authorize(vectors["tokens"]["admin"], "inventory.write").allow


def test_fetches_jwks_first_then_the_bundle(
    iam: FakeIAM, make_authorizer: Callable[..., Authorizer]
) -> None:
    order: list[str] = []
    iam.on_bundle = lambda: order.append(f"bundle after {iam.count('/.well-known/jwks.json')} jwks")
    a = make_authorizer(iam.url, poll_interval=3600)
    wait_for(a.ready, what="the bundle")
    assert order[0] == "bundle after 1 jwks"


def test_no_request_per_decision(
    iam: FakeIAM, vectors: dict[str, Any], make_authorizer: Callable[..., Authorizer]
) -> None:
    a = make_authorizer(iam.url, poll_interval=3600)
    wait_for(a.ready, what="the bundle")
    before = iam.total()
    assert before == 2  # one JWKS, one bundle
    for _ in range(200):
        for case in vectors["cases"]:
            a.authorize(vectors["tokens"][case["token"]], case["permission"])
        a.principal(vectors["tokens"]["admin"])
    assert iam.total() == before


def test_etag_and_304_keep_the_bundle(
    iam: FakeIAM, make_authorizer: Callable[..., Authorizer], vectors: dict[str, Any]
) -> None:
    a = make_authorizer(iam.url)
    wait_for(a.ready, what="the bundle")
    wait_for(lambda: iam.not_modified >= 3, what="304 answers")
    assert iam.seen_if_none_match[0] is None  # the first request has no ETag
    assert all(inm and inm.startswith('"') for inm in iam.seen_if_none_match[1:])
    assert a.ready() and a.revision == vectors["revision"]


def new_bundle(
    jwks_raw: bytes,
    revision: str,
    mutate: Callable[[dict[str, Any]], None],
    key: Any = IAM_KEY,
    kid: str | None = None,
) -> bytes:
    data = copy.deepcopy(conformance_data())
    mutate(data["gaia"])
    return signed_bundle(bundle_files(data, revision=revision), key, kid or iam_kid(jwks_raw))


def test_role_change_reaches_decisions_at_the_next_poll(
    iam: FakeIAM,
    jwks_raw: bytes,
    vectors: dict[str, Any],
    make_authorizer: Callable[..., Authorizer],
) -> None:
    a = make_authorizer(iam.url)
    wait_for(a.ready, what="the bundle")
    viewer = vectors["tokens"]["viewer"]
    assert a.authorize(viewer, "inventory.write").reasons == ("permission_missing",)  # now cached

    def grant(g: dict[str, Any]) -> None:
        g["roles"]["Viewer"] = ["inventory.read", "inventory.write"]
        g["revocations"]["jti"]["jti-victor"] = 4102444800

    iam.set(bundle=new_bundle(jwks_raw, "rev-granted", grant))
    wait_for(lambda: a.revision == "rev-granted", what="the new revision")
    d = a.authorize(viewer, "inventory.write")
    assert d.revision == "rev-granted"
    assert d.reasons == ("token_revoked",)  # the revocation reached it too
    assert a.authorize(vectors["tokens"]["multi_role"], "inventory.write").allow


def test_bundle_under_a_new_key_refetches_the_jwks(
    iam: FakeIAM, jwks_raw: bytes, caplog: Any, make_authorizer: Callable[..., Authorizer]
) -> None:
    a = make_authorizer(iam.url, poll_interval=0.2)
    wait_for(a.ready, what="the bundle")
    rotated = json.dumps(
        {"keys": [json.loads(jwks_raw)["keys"][0], jwk(OTHER_KEY, "kid-new")]}
    ).encode()
    signed_by_new = new_bundle(
        jwks_raw, "rev-new-key", lambda g: None, key=OTHER_KEY, kid="kid-new"
    )
    caplog.set_level(logging.INFO, logger="gaia_iam")

    def rotate() -> None:  # the IAM rotates between the client's two requests
        iam.on_bundle = None
        iam.set(jwks=rotated)

    jwks_before = iam.count("/.well-known/jwks.json")
    iam.on_bundle = rotate
    iam.set(bundle=signed_by_new)
    wait_for(lambda: a.revision == "rev-new-key", what="the bundle signed by the new key")
    # the poll's JWKS request, then the refetch the unknown kid triggered
    assert iam.count("/.well-known/jwks.json") == jwks_before + 2
    assert not [r for r in caplog.records if "refused" in r.getMessage()]


def test_bundle_under_an_unknown_key_is_refused_after_a_refetch(
    iam: FakeIAM,
    jwks_raw: bytes,
    vectors: dict[str, Any],
    caplog: Any,
    make_authorizer: Callable[..., Authorizer],
) -> None:
    a = make_authorizer(iam.url, poll_interval=3600)
    wait_for(a.ready, what="the bundle")  # the thread now sleeps for an hour
    caplog.set_level(logging.WARNING, logger="gaia_iam")
    engine = a._engine  # noqa: SLF001 - drive one poll by hand
    iam.set(
        bundle=new_bundle(jwks_raw, "rev-foreign", lambda g: None, key=OTHER_KEY, kid="kid-unknown")
    )
    jwks_before = iam.count("/.well-known/jwks.json")
    engine.poll()  # type: ignore[attr-defined]
    assert iam.count("/.well-known/jwks.json") == jwks_before + 2
    assert a.revision == vectors["revision"]
    assert [r for r in caplog.records if "bundle refused" in r.getMessage()]


def test_cache_dir_restart_with_the_iam_down(
    iam: FakeIAM, vectors: dict[str, Any], tmp_path: Any, make_authorizer: Callable[..., Authorizer]
) -> None:
    cache = str(tmp_path / "cache")
    first = make_authorizer(iam.url, cache_dir=cache)
    wait_for(first.ready, what="the bundle")
    wait_for(
        lambda: os.path.exists(os.path.join(cache, "bundle.tar.gz")), what="the persisted bundle"
    )
    first.close()
    assert sorted(os.listdir(cache)) == ["bundle.tar.gz", "jwks.json"]  # no temporary file left
    assert oct(os.stat(cache).st_mode & 0o777) == "0o700"
    iam.stop()

    t0 = time.perf_counter()
    second = make_authorizer(iam.url, cache_dir=cache, clock=lambda: vectors["time"])
    assert second.ready()  # decided from disk, before the IAM is back
    assert time.perf_counter() - t0 < 0.5
    assert second.revision == vectors["revision"]
    for case in vectors["cases"]:
        d = second.authorize(vectors["tokens"][case["token"]], case["permission"])
        assert (d.allow, list(d.reasons)) == (case["allow"], case["reasons"])


def test_cached_bundle_is_verified_again(
    iam: FakeIAM, tmp_path: Any, vectors: dict[str, Any], make_authorizer: Callable[..., Authorizer]
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    from .helpers import CONFORMANCE, read

    (cache / "jwks.json").write_bytes(read(f"{CONFORMANCE}/jwks.json"))
    (cache / "bundle.tar.gz").write_bytes(read(f"{CONFORMANCE}/refused/data-tampered.tar.gz"))
    iam.stop()
    a = make_authorizer(iam.url, cache_dir=str(cache))
    assert not a.ready()


def test_close_stops_the_thread_promptly(
    iam: FakeIAM, make_authorizer: Callable[..., Authorizer]
) -> None:
    a = make_authorizer(iam.url, poll_interval=3600)
    wait_for(a.ready, what="the bundle")
    thread = a._engine._thread  # noqa: SLF001
    assert thread is not None and thread.is_alive() and thread.daemon
    t0 = time.perf_counter()
    a.close()
    assert time.perf_counter() - t0 < 0.5
    assert not thread.is_alive()
    requests = iam.total()
    time.sleep(0.1)
    assert iam.total() == requests
    a.close()  # twice is fine


def test_close_while_a_request_hangs(make_authorizer: Callable[..., Authorizer]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts, never answers
    try:
        a = make_authorizer(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.3)
        time.sleep(0.05)
        t0 = time.perf_counter()
        a.close()
        assert time.perf_counter() - t0 < 1.5
        assert not a._engine._thread.is_alive()  # noqa: SLF001
    finally:
        listener.close()


def test_context_manager(iam: FakeIAM) -> None:
    with Authorizer(iam.url, poll_interval=3600) as a:
        wait_for(a.ready, what="the bundle")
        thread = a._engine._thread  # noqa: SLF001
    assert thread is not None and not thread.is_alive()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_expiry_is_checked_again_on_a_cache_hit(
    iam: FakeIAM, jwks_raw: bytes, make_authorizer: Callable[..., Authorizer]
) -> None:
    clock = Clock(1_800_000_000)
    a = make_authorizer(iam.url, clock=clock)
    wait_for(a.ready, what="the bundle")
    exp = 1_800_000_100
    tok = token(claims(exp=exp), IAM_KEY, kid=iam_kid(jwks_raw))
    assert a.authorize(tok, "inventory.read").allow
    assert a.principal(tok).expires_at == exp
    clock.now = exp - 1
    assert a.authorize(tok, "inventory.read").allow  # at the last valid second
    clock.now = exp - 0.0001  # inside the float rounding margin: decided afresh
    assert a.authorize(tok, "inventory.read").allow
    clock.now = exp
    assert a.authorize(tok, "inventory.read").reasons == ("token_expired",)
    with pytest.raises(InvalidToken) as err:
        a.principal(tok)
    assert err.value.reason == "token_expired"
    clock.now = exp + 3600
    assert a.authorize(tok, "inventory.read").reasons == ("token_expired",)


def test_not_before(
    iam: FakeIAM, jwks_raw: bytes, make_authorizer: Callable[..., Authorizer]
) -> None:
    clock = Clock(1_800_000_000)
    a = make_authorizer(iam.url, clock=clock)
    wait_for(a.ready, what="the bundle")
    tok = token(claims(nbf=1_800_000_050), IAM_KEY, kid=iam_kid(jwks_raw))
    assert a.authorize(tok, "inventory.read").reasons == ("token_invalid",)
    clock.now = 1_800_000_049
    assert a.authorize(tok, "inventory.read").reasons == ("token_invalid",)
    clock.now = 1_800_000_050
    assert a.authorize(tok, "inventory.read").allow


def test_lru_is_bounded(
    iam: FakeIAM, jwks_raw: bytes, make_authorizer: Callable[..., Authorizer]
) -> None:
    a = make_authorizer(iam.url, cache_size=10)
    wait_for(a.ready, what="the bundle")
    for i in range(50):
        a.authorize(token(claims(jti=f"j{i}"), IAM_KEY, kid=iam_kid(jwks_raw)), "inventory.read")
    assert len(a._engine._state.cache) == 10  # noqa: SLF001


def test_long_tokens_are_decided_but_not_cached(iam: FakeIAM, jwks_raw: bytes,
                                                make_authorizer: Callable[..., Authorizer]) -> None:
    a = make_authorizer(iam.url)
    wait_for(a.ready, what="the bundle")
    tok = token(claims(padding="x" * 20000), IAM_KEY, kid=iam_kid(jwks_raw))
    assert a.authorize(tok, "inventory.read").allow
    assert a.principal(tok).claims["padding"] == "x" * 20000
    assert len(a._engine._state.cache) == 0  # noqa: SLF001


def test_odd_arguments_never_raise(ready_authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    admin = vectors["tokens"]["admin"]
    odd: Any = ready_authorizer  # untyped calls, as from untyped code
    assert odd.authorize(admin, ["inventory.read"]).reasons == ("permission_missing",)
    assert odd.authorize(admin, None).reasons == ("permission_missing",)
    assert odd.authorize(None, "inventory.read").reasons == ("token_invalid",)
    assert odd.authorize(b"x.y.z", "inventory.read").reasons == ("token_invalid",)
    assert ready_authorizer.authorize("\ud800", "inventory.read").reasons == ("token_invalid",)
    assert not ready_authorizer.has_permission(object(), "inventory.read")  # type: ignore[arg-type]


def test_issuer_must_match_the_bundle(
    iam: FakeIAM, caplog: Any, make_authorizer: Callable[..., Authorizer]
) -> None:
    caplog.set_level(logging.WARNING, logger="gaia_iam")
    a = make_authorizer(iam.url, issuer="another-iam")
    wait_for(lambda: iam.count("/bundles/gaia.tar.gz") >= 3, what="polls")
    assert not a.ready()
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "another-iam" in refusals[0]
    b = make_authorizer(iam.url, issuer=None)  # trust the bundle's issuer
    wait_for(b.ready, what="the bundle")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Authorizer("iam.internal:8080")
    with pytest.raises(ValueError):
        Authorizer("http://127.0.0.1:1", poll_interval=0)
    with pytest.raises(ValueError):
        Authorizer("http://127.0.0.1:1", opa_url="localhost:8181")


def test_tokens_never_reach_the_logs(
    iam: FakeIAM,
    jwks_raw: bytes,
    vectors: dict[str, Any],
    caplog: Any,
    make_authorizer: Callable[..., Authorizer],
) -> None:
    caplog.set_level(logging.DEBUG, logger="gaia_iam")
    a = make_authorizer(iam.url)
    wait_for(a.ready, what="the bundle")
    for name, tok in vectors["tokens"].items():
        a.authorize(tok, "inventory.read")
        try:
            a.principal(tok)
        except InvalidToken:
            pass
    from .helpers import CONFORMANCE, read

    iam.set(bundle=read(f"{CONFORMANCE}/refused/data-tampered.tar.gz"))
    wait_for(lambda: any("refused" in r.getMessage() for r in caplog.records), what="a refusal")
    text = "\n".join(r.getMessage() for r in caplog.records)
    for tok in vectors["tokens"].values():
        for part in [tok, *tok.split(".")]:
            if len(part) > 20:
                assert part not in text


def test_concurrent_checks_while_bundles_change(
    iam: FakeIAM,
    jwks_raw: bytes,
    vectors: dict[str, Any],
    make_authorizer: Callable[..., Authorizer],
) -> None:
    a = make_authorizer(iam.url, poll_interval=0.01)
    wait_for(a.ready, what="the bundle")
    bundles = [new_bundle(jwks_raw, f"rev-{i}", lambda g: None) for i in range(3)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                for case in vectors["cases"][:60]:
                    d = a.authorize(vectors["tokens"][case["token"]], case["permission"])
                    assert (d.allow, list(d.reasons)) == (case["allow"], case["reasons"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for raw in bundles * 2:
        iam.set(bundle=raw)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
