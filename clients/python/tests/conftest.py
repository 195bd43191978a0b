"""Fixtures: the conformance vectors, a fake IAM over real HTTP, Authorizers."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Iterator

import pytest

from gaia_iam import Authorizer

from .helpers import CONFORMANCE, FakeIAM, read
from .opa import opa_binary


def pytest_configure(config: Any) -> None:
    # The differential tests need an OPA of the pinned version (make test
    # builds one from go.mod's tool and names it in GAIA_IAM_TEST_OPA);
    # under CI=true they must not be skipped for want of it.
    if os.environ.get("CI") == "true" and opa_binary() is None:
        raise pytest.UsageError("CI=true and no opa binary: set GAIA_IAM_TEST_OPA (make test does)")


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    path = os.path.join(CONFORMANCE, "vectors.json")
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def jwks_raw(vectors: dict[str, Any]) -> bytes:
    return read(os.path.join(CONFORMANCE, "jwks.json"))


@pytest.fixture(scope="session")
def bundle_raw(vectors: dict[str, Any]) -> bytes:
    return read(os.path.join(CONFORMANCE, "bundle.tar.gz"))


@pytest.fixture
def iam(jwks_raw: bytes, bundle_raw: bytes) -> Iterator[FakeIAM]:
    server = FakeIAM(jwks_raw, bundle_raw)
    yield server
    server.stop()


@pytest.fixture
def make_authorizer() -> Iterator[Callable[..., Authorizer]]:
    made: list[Authorizer] = []

    def make(url: str, **kwargs: Any) -> Authorizer:
        kwargs.setdefault("poll_interval", 0.05)
        kwargs.setdefault("timeout", 2.0)
        a = Authorizer(url, **kwargs)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def ready_authorizer(iam: FakeIAM, make_authorizer: Callable[..., Authorizer]) -> Authorizer:
    a = make_authorizer(iam.url)
    wait_for(a.ready, what="the first bundle")
    return a
