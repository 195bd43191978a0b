"""Sidecar mode: the same interface answered by an OPA beside the service."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from http.server import ThreadingHTTPServer
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives import serialization

from gaia_iam import Authorizer, InvalidToken, NotReady
from gaia_iam.bundle import read_bundle
from gaia_iam.decide import STOCK_POLICY_DIGEST, StockPolicy, public_claims
from gaia_iam.jwks import parse_iam_jwks

from .conftest import wait_for
from .helpers import ROOT, FakeIAM, QuietHandler, private_key
from .opa import OPA, opa_binary


class FakeOPA:
    """Answers /v1/data/gaia/authz/{decision,principal} with the stock policy."""

    def __init__(self, bundle_raw: bytes, jwks_raw: bytes) -> None:
        b = read_bundle(bundle_raw, parse_iam_jwks(jwks_raw), stock_digest=STOCK_POLICY_DIGEST)
        self.policy, self.revision = StockPolicy(b.data), b.revision
        self.loaded = True
        self.down = False
        self.requests: Counter[str] = Counter()
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                if fake.down:  # drop kept-alive connections as a dead OPA would
                    self.close_connection = True
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rule = self.path.split("?")[0].rsplit("/", 1)[-1]
                fake.requests[rule] += 1
                assert "provenance=true" in self.path
                answer: dict[str, Any] = {"decision_id": "x"}
                if fake.loaded:
                    inp = body["input"]
                    ev = fake.policy.evaluate(
                        inp.get("token"), inp.get("permission"), time.time_ns()
                    )
                    if rule == "decision":
                        answer["result"] = {"allow": ev.allow, "reasons": list(ev.reasons)}
                    elif ev.principal is not None:
                        answer["result"] = public_claims(ev.principal)
                    answer["provenance"] = {
                        "version": "1.22.3",
                        "bundles": {"gaia": {"revision": fake.revision}},
                    }
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def total(self) -> int:
        return sum(self.requests.values())

    def stop(self) -> None:
        self.down = True
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_opa(bundle_raw: bytes, jwks_raw: bytes) -> Any:
    server = FakeOPA(bundle_raw, jwks_raw)
    yield server
    server.stop()



def assert_answers_every_vector(a: Any, vectors: dict[str, Any]) -> None:
    """a gives every conformance decision and principal, from the vectors' bundle."""
    for case in vectors["cases"]:
        d = a.authorize(vectors["tokens"][case["token"]], case["permission"])
        assert (d.allow, list(d.reasons)) == (case["allow"], case["reasons"]), case
        assert d.revision == vectors["revision"]
    for name, want in vectors["principals"].items():
        if want is None:
            with pytest.raises(InvalidToken):
                a.principal(vectors["tokens"][name])
        else:
            assert a.principal(vectors["tokens"][name]).claims == want

def test_sidecar_decides_every_case(
    fake_opa: FakeOPA, vectors: dict[str, Any], make_authorizer: Callable[..., Authorizer]
) -> None:
    a = make_authorizer("http://127.0.0.1:1", opa_url=fake_opa.url)
    assert a.sidecar
    wait_for(a.ready, what="OPA")
    assert_answers_every_vector(a, vectors)


def test_sidecar_caches_per_revision(
    fake_opa: FakeOPA, vectors: dict[str, Any], make_authorizer: Callable[..., Authorizer]
) -> None:
    a = make_authorizer("http://127.0.0.1:1", opa_url=fake_opa.url, poll_interval=0.05)
    wait_for(a.ready, what="OPA")
    admin = vectors["tokens"]["admin"]
    assert a.authorize(admin, "inventory.write").allow
    asked = fake_opa.requests["decision"]
    for _ in range(100):
        assert a.authorize(admin, "inventory.write").allow
    # only background probes, no question per decision
    assert fake_opa.requests["decision"] - asked <= 3
    fake_opa.revision = "rev-2"
    wait_for(lambda: a.revision == "rev-2", what="the new revision")
    before = fake_opa.requests["decision"]
    d = a.authorize(admin, "inventory.write")
    assert d.revision == "rev-2" and fake_opa.requests["decision"] > before


def test_sidecar_not_ready_and_down(
    fake_opa: FakeOPA, vectors: dict[str, Any], make_authorizer: Callable[..., Authorizer]
) -> None:
    fake_opa.loaded = False
    a = make_authorizer("http://127.0.0.1:1", opa_url=fake_opa.url)
    wait_for(lambda: fake_opa.requests["decision"] >= 2, what="probes")
    admin = vectors["tokens"]["admin"]
    assert not a.ready()
    assert a.authorize(admin, "inventory.read").reasons == ("not_ready",)
    with pytest.raises(NotReady):
        a.principal(admin)
    fake_opa.loaded = True
    wait_for(a.ready, what="OPA")
    assert a.authorize(admin, "inventory.read").allow
    fake_opa.stop()
    other = vectors["tokens"]["viewer"]
    assert a.authorize(other, "inventory.read").reasons == ("error",)
    assert not a.has_permission(other, "inventory.read")
    with pytest.raises(NotReady) as err:
        a.principal(other)
    assert err.value.reason == "error"
    wait_for(lambda: not a.ready(), what="the probe to fail")


@pytest.mark.skipif(opa_binary() is None, reason="no opa binary (set GAIA_IAM_TEST_OPA)")
def test_sidecar_with_a_stock_opa(
    iam: FakeIAM, vectors: dict[str, Any], tmp_path: Any, make_authorizer: Callable[..., Authorizer]
) -> None:
    pem = (
        private_key("iam.pem")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    env = {
        "GAIA_IAM_URL": iam.url,
        "GAIA_IAM_PUBLIC_KEY": pem.strip().replace("\n", "\\n"),
        "GAIA_IAM_CLIENT_ID": "unused",
        "GAIA_IAM_CLIENT_SECRET": "unused",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        opa = OPA(
            opa_binary() or "opa",
            ["--config-file", os.path.join(ROOT, "bundles", "opa-config.yaml")],
            str(tmp_path),
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        a = make_authorizer(iam.url, opa_url=opa.url)
        wait_for(a.ready, timeout=20, what="the stock OPA's bundle")
        assert_answers_every_vector(a, vectors)
    finally:
        opa.stop()
