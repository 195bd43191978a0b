"""Django / DRF integration, with no database and no django.contrib.auth."""

from __future__ import annotations

import json
import os
import socket
from typing import Any, Callable, Iterator

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only",
        ALLOWED_HOSTS=["*"],
        DATABASES={},  # no database: any query would fail the test
        INSTALLED_APPS=["rest_framework"],  # no django.contrib.auth, no sessions
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
    )
    django.setup()

from django.apps import apps  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from gaia_iam import Authorizer, Principal  # noqa: E402
from gaia_iam.django import (  # noqa: E402
    GaiaJWTAuthentication,
    HasPermission,
    get_authorizer,
    require_permission,
    set_authorizer,
)

from .conftest import wait_for  # noqa: E402
from .helpers import FakeIAM  # noqa: E402


def view_with(permissions: list[Any]) -> Callable[..., Any]:
    class View(APIView):
        authentication_classes = [GaiaJWTAuthentication]
        permission_classes = permissions

        def get(self, request: Any) -> Response:
            return Response(
                {
                    "user": request.user.username,
                    "sub": request.auth["sub"],
                    "is_principal": isinstance(request.user, Principal),
                }
            )

    return View.as_view()


class Items(APIView):
    authentication_classes = [GaiaJWTAuthentication]
    permission_classes = [HasPermission("inventory.write")]

    def get(self, request: Any) -> Response:
        return Response({"user": request.user.username})


@require_permission("inventory.read")
def plain_items(request: Any) -> JsonResponse:
    return JsonResponse(
        {"user": request.user.username, "roles": list(request.gaia_principal.roles)}
    )


@require_permission("inventory.read")
async def async_items(request: Any) -> JsonResponse:
    return JsonResponse({"user": request.user.username})


urlpatterns = [
    path("items", Items.as_view()),
    path("plain", plain_items),
    path("async", async_items),
]


@pytest.fixture
def authorizer(iam: FakeIAM) -> Iterator[Authorizer]:
    a = Authorizer(iam.url, poll_interval=3600)
    wait_for(a.ready, what="the bundle")
    previous = set_authorizer(a)
    yield a
    set_authorizer(previous)
    a.close()


@pytest.fixture
def not_ready() -> Iterator[Authorizer]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = Authorizer(f"http://127.0.0.1:{port}", poll_interval=3600)
    previous = set_authorizer(a)
    yield a
    set_authorizer(previous)
    a.close()


factory = APIRequestFactory()


def call(view: Callable[..., Any], token: str | None = None, header: str | None = None) -> Any:
    extra = {}
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    elif token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = view(factory.get("/x", **extra))
    response.render()
    return response


def body(response: Any) -> Any:
    return json.loads(response.content)


def test_no_auth_app_and_no_database() -> None:
    assert not apps.is_installed("django.contrib.auth")
    assert settings.DATABASES == {} or not settings.DATABASES.get("default", {}).get("ENGINE")


def test_allowed(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    r = call(view_with([HasPermission("inventory.write")]), vectors["tokens"]["admin"])
    assert r.status_code == 200
    assert body(r) == {
        "user": "cj",
        "sub": vectors["principals"]["admin"]["sub"],
        "is_principal": True,
    }


@pytest.mark.parametrize(
    "name, message",
    [
        ("expired", "token is expired"),
        ("revoked_jti", "token is revoked"),
        ("wrong_issuer", "token is invalid"),
        ("unknown_kid", "token is invalid"),
        ("malformed_two_parts", "token is invalid"),
        ("alg_none", "token is invalid"),
    ],
)
def test_invalid_tokens_are_401(
    authorizer: Authorizer, vectors: dict[str, Any], name: str, message: str
) -> None:
    r = call(Items.as_view(), vectors["tokens"][name])
    assert r.status_code == 401
    assert body(r) == {"error": "invalid_token", "message": message}
    assert r["WWW-Authenticate"] == 'Bearer realm="gaia", error="invalid_token"'


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_missing_bearer_token_is_401(authorizer: Authorizer, header: str | None) -> None:
    r = call(Items.as_view(), header=header)
    assert r.status_code == 401
    assert body(r) == {"error": "invalid_token", "message": "a bearer token is required"}
    assert r["WWW-Authenticate"] == 'Bearer realm="gaia"'


def test_missing_permission_is_403(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    r = call(Items.as_view(), vectors["tokens"]["viewer"])
    assert r.status_code == 403
    assert body(r) == {"error": "forbidden", "message": "missing permission inventory.write"}


def test_before_the_first_bundle_is_503(not_ready: Authorizer, vectors: dict[str, Any]) -> None:
    r = call(Items.as_view(), vectors["tokens"]["admin"])
    assert r.status_code == 503
    assert body(r) == {"error": "unavailable", "message": "authorization policy not loaded yet"}
    assert r["Retry-After"] == "1"


def test_and(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    view = view_with([HasPermission("inventory.read") & HasPermission("inventory.write")])
    assert call(view, vectors["tokens"]["admin"]).status_code == 200
    r = call(view, vectors["tokens"]["viewer"])
    assert r.status_code == 403
    assert body(r) == {"error": "forbidden", "message": "missing permission inventory.write"}


def test_or(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    view = view_with([HasPermission("inventory.write") | HasPermission("inventory.read")])
    assert call(view, vectors["tokens"]["viewer"]).status_code == 200
    r = call(view, vectors["tokens"]["role_without_permissions"])
    assert r.status_code == 403
    assert (
        body(r)["message"]
        == "missing permission inventory.write or missing permission inventory.read"
    )


def test_not(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    view = view_with([~HasPermission("inventory.write")])
    assert call(view, vectors["tokens"]["viewer"]).status_code == 200
    r = call(view, vectors["tokens"]["admin"])
    assert r.status_code == 403 and body(r)["error"] == "forbidden"
    # no negation turns a bad token into an allow
    assert call(view, vectors["tokens"]["expired"]).status_code == 401
    assert call(view).status_code == 401


def test_nested_and_with_drf_classes(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    view = view_with(
        [
            (IsAuthenticated & HasPermission("inventory.read"))
            | ~HasPermission("analytics.report.view")
        ]
    )
    assert call(view, vectors["tokens"]["viewer"]).status_code == 200
    both = view_with([IsAuthenticated & HasPermission("analytics.report.view")])
    r = call(both, vectors["tokens"]["viewer"])
    assert r.status_code == 403
    assert body(r) == {"error": "forbidden", "message": "missing permission analytics.report.view"}
    assert call(both, vectors["tokens"]["analyst"]).status_code == 200


def test_has_permission_classes_are_classes(authorizer: Authorizer) -> None:
    cls = HasPermission("inventory.read")
    assert isinstance(cls, type) and cls is HasPermission("inventory.read")
    assert cls.permission == "inventory.read"
    assert callable(HasPermission("a") & HasPermission("b"))


def test_plain_view_decorator(authorizer: Authorizer, vectors: dict[str, Any]) -> None:
    client = Client()
    ok = client.get("/plain", HTTP_AUTHORIZATION=f"Bearer {vectors['tokens']['viewer']}")
    assert ok.status_code == 200 and ok.json() == {"user": "victor", "roles": ["Viewer"]}
    r = client.get("/plain")
    assert r.status_code == 401 and r.json()["message"] == "a bearer token is required"
    assert r["WWW-Authenticate"] == 'Bearer realm="gaia"'
    r = client.get("/plain", HTTP_AUTHORIZATION=f"Bearer {vectors['tokens']['revoked_subject']}")
    assert r.status_code == 401 and r.json() == {
        "error": "invalid_token",
        "message": "token is revoked",
    }
    r = client.get("/plain", HTTP_AUTHORIZATION=f"Bearer {vectors['tokens']['no_roles']}")
    assert r.status_code == 403 and r.json() == {
        "error": "forbidden",
        "message": "missing permission inventory.read",
    }
    r = client.get("/items", HTTP_AUTHORIZATION=f"Bearer {vectors['tokens']['admin']}")
    assert r.status_code == 200 and r.json() == {"user": "cj"}
    r = client.get("/async", HTTP_AUTHORIZATION=f"Bearer {vectors['tokens']['admin']}")
    assert r.status_code == 200 and r.json() == {"user": "cj"}


def test_plain_view_before_the_first_bundle(not_ready: Authorizer, vectors: dict[str, Any]) -> None:
    r = Client().get("/plain", HTTP_AUTHORIZATION=f"Bearer {vectors['tokens']['admin']}")
    assert r.status_code == 503 and r.json()["error"] == "unavailable" and r["Retry-After"] == "1"


def test_default_unauthenticated_user_without_the_auth_app(
    authorizer: Authorizer, vectors: dict[str, Any]
) -> None:
    # DRF's default AnonymousUser needs django.contrib.auth: still 401, not a crash
    with override_settings(REST_FRAMEWORK={}):
        r = call(Items.as_view())
        assert r.status_code == 401 and body(r)["message"] == "a bearer token is required"
        r = call(Items.as_view(), vectors["tokens"]["expired"])
        assert r.status_code == 401 and body(r)["message"] == "token is expired"
        assert call(Items.as_view(), vectors["tokens"]["admin"]).status_code == 200


def test_authorizer_from_settings_then_environment(
    iam: FakeIAM, vectors: dict[str, Any], monkeypatch: Any, tmp_path: Any
) -> None:
    previous = set_authorizer(None)
    try:
        with override_settings(
            GAIA_IAM={"URL": iam.url, "POLL_INTERVAL": "0.05", "CACHE_DIR": str(tmp_path)}
        ):
            a = get_authorizer()
            assert a is get_authorizer()  # one per process
            wait_for(a.ready, what="the bundle")
            assert a._engine._poll_interval == 0.05  # noqa: SLF001
            assert call(Items.as_view(), vectors["tokens"]["admin"]).status_code == 200
            a.close()
        set_authorizer(None)
        monkeypatch.setenv("GAIA_IAM_URL", iam.url)
        monkeypatch.setenv("GAIA_IAM_POLL_INTERVAL", "7")
        with override_settings(GAIA_IAM=None):
            b = get_authorizer()
            assert b.iam_url == iam.url and b._engine._poll_interval == 7.0  # noqa: SLF001
            b.close()
    finally:
        set_authorizer(previous)


def test_missing_url_is_a_clear_error(monkeypatch: Any) -> None:
    monkeypatch.delenv("GAIA_IAM_URL", raising=False)
    previous = set_authorizer(None)
    try:
        with override_settings(GAIA_IAM={}):
            with pytest.raises(RuntimeError, match="GAIA_IAM_URL"):
                get_authorizer()
    finally:
        set_authorizer(previous)


if os.environ.get("GAIA_IAM_DJANGO_DEBUG"):  # pragma: no cover
    print(settings.INSTALLED_APPS)
