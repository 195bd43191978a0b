"""FastAPI integration, through FastAPI's TestClient (httpx)."""

from __future__ import annotations

import socket
from typing import Any, Iterator

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from gaia_iam import Authorizer, Principal
from gaia_iam.fastapi import get_authorizer, install, require_permission, set_authorizer

from .conftest import wait_for
from .helpers import FakeIAM


def make_app(authorizer: Authorizer | None) -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    def items(
        principal: Principal = Depends(require_permission("inventory.read", authorizer))
    ) -> dict[str, Any]:
        return {
            "user": principal.username,
            "roles": list(principal.roles),
            "sub": principal.claims["sub"],
        }

    @app.post("/items", dependencies=[Depends(require_permission("inventory.write", authorizer))])
    def create() -> dict[str, str]:
        return {"created": "yes"}

    @app.get("/async")
    async def async_items(
        principal: Principal = Depends(require_permission("inventory.read", authorizer))
    ) -> dict[str, str]:
        return {"user": principal.username}

    return app


@pytest.fixture
def authorizer(iam: FakeIAM) -> Iterator[Authorizer]:
    a = Authorizer(iam.url, poll_interval=3600)
    wait_for(a.ready, what="the bundle")
    yield a
    a.close()


@pytest.fixture
def client(authorizer: Authorizer) -> TestClient:
    return TestClient(make_app(authorizer))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_depends_returns_the_principal(client: TestClient, vectors: dict[str, Any]) -> None:
    r = client.get("/items", headers=bearer(vectors["tokens"]["viewer"]))
    assert r.status_code == 200
    assert r.json() == {
        "user": "victor",
        "roles": ["Viewer"],
        "sub": vectors["principals"]["viewer"]["sub"],
    }
    assert client.get("/async", headers=bearer(vectors["tokens"]["service"])).json() == {
        "user": "inventory-sync"
    }


def test_dependencies_list(client: TestClient, vectors: dict[str, Any]) -> None:
    assert client.post("/items", headers=bearer(vectors["tokens"]["admin"])).json() == {
        "created": "yes"
    }
    r = client.post("/items", headers=bearer(vectors["tokens"]["analyst"]))
    assert r.status_code == 403
    assert r.json() == {"error": "forbidden", "message": "missing permission inventory.write"}


@pytest.mark.parametrize(
    "headers, message, challenge",
    [
        ({}, "a bearer token is required", 'Bearer realm="gaia"'),
        (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "a bearer token is required",
            'Bearer realm="gaia"',
        ),
        (
            {"Authorization": "bearer not-a-jwt"},
            "token is invalid",
            'Bearer realm="gaia", error="invalid_token"',
        ),
    ],
)
def test_401(client: TestClient, headers: dict[str, str], message: str, challenge: str) -> None:
    r = client.get("/items", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "message": message}
    assert r.headers["www-authenticate"] == challenge


@pytest.mark.parametrize(
    "name, message",
    [
        ("expired", "token is expired"),
        ("revoked_subject_earlier", "token is revoked"),
        ("wrong_issuer", "token is invalid"),
        ("foreign_key_iam_kid", "token is invalid"),
    ],
)
def test_invalid_tokens(
    client: TestClient, vectors: dict[str, Any], name: str, message: str
) -> None:
    r = client.get("/items", headers=bearer(vectors["tokens"][name]))
    assert r.status_code == 401 and r.json() == {"error": "invalid_token", "message": message}


def test_503_before_the_first_bundle(vectors: dict[str, Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Authorizer(f"http://127.0.0.1:{port}", poll_interval=3600) as a:
        r = TestClient(make_app(a)).get("/items", headers=bearer(vectors["tokens"]["admin"]))
    assert r.status_code == 503
    assert r.json() == {"error": "unavailable", "message": "authorization policy not loaded yet"}
    assert r.headers["retry-after"] == "1"


def test_process_wide_authorizer_from_the_environment(
    iam: FakeIAM, vectors: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setenv("GAIA_IAM_URL", iam.url)
    monkeypatch.setenv("GAIA_IAM_POLL_INTERVAL", "3600")
    previous = set_authorizer(None)
    try:
        a = get_authorizer()
        wait_for(a.ready, what="the bundle")
        client = TestClient(make_app(None))
        assert client.get("/items", headers=bearer(vectors["tokens"]["admin"])).status_code == 200
        assert get_authorizer() is a
        a.close()
    finally:
        set_authorizer(previous)


def test_explicit_install(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    app = make_app(authorizer)
    install(app)
    install(app)  # idempotent
    r = TestClient(app).get("/items", headers=bearer(vectors["tokens"]["no_roles"]))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_sidecar_mode_runs_off_the_event_loop(
    iam: FakeIAM, vectors: dict[str, Any], bundle_raw: bytes, jwks_raw: bytes
) -> None:
    from .test_sidecar import FakeOPA

    opa = FakeOPA(bundle_raw, jwks_raw)
    try:
        with Authorizer(iam.url, opa_url=opa.url, poll_interval=3600) as a:
            wait_for(a.ready, what="OPA")
            client = TestClient(make_app(a))
            assert (
                client.get("/items", headers=bearer(vectors["tokens"]["viewer"])).status_code == 200
            )
            assert (
                client.post("/items", headers=bearer(vectors["tokens"]["viewer"])).status_code
                == 403
            )
    finally:
        opa.stop()
