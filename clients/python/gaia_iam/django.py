"""Django and Django REST framework integration.

* :class:`GaiaJWTAuthentication`: a DRF authentication class; with a valid
  bearer token ``request.user`` is the :class:`~gaia_iam.Principal` and
  ``request.auth`` its verified claims.
* :func:`HasPermission` ``("inventory.write")``: a DRF permission class,
  composable with DRF's ``&``, ``|`` and ``~``.
* :func:`require_permission` ``("inventory.read")``: a decorator for plain
  Django views.

Settings: ``GAIA_IAM = {"URL": ..., "POLL_INTERVAL": ..., "CACHE_DIR": ...}``
(also ``ISSUER``, ``TIMEOUT``, ``OPA_URL``), each falling back to the
environment variable ``GAIA_IAM_URL``, ``GAIA_IAM_POLL_INTERVAL``, ... One
Authorizer per process, started on first use. Nothing here touches a model,
the database, sessions or groups; without ``django.contrib.auth`` installed,
also set ``REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None}``.

Refusals are those of the Go SDK: 401 ``{"error": "invalid_token", ...}``
with ``WWW-Authenticate: Bearer``, 403 ``{"error": "forbidden", "message":
"missing permission X"}``, 503 ``{"error": "unavailable", ...}``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, ClassVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import (
    AND,
    NOT,
    OR,
    BasePermission,
    BasePermissionMetaclass,
    OperandHolder,
    OperationHolderMixin,
    SingleOperandHolder,
)

from . import _default
from ._answers import REALM, Refusal, answer, bearer_token, invalid_token, unavailable
from .authorizer import Authorizer
from .types import InvalidToken, NotReady, Principal

__all__ = [
    "GaiaJWTAuthentication",
    "HasPermission",
    "require_permission",
    "get_authorizer",
    "set_authorizer",
]


def _config() -> dict[str, Any]:
    return dict(getattr(settings, "GAIA_IAM", None) or {})


def get_authorizer() -> Authorizer:
    """The process-wide Authorizer, started from the settings on first use."""
    return _default.get_default(_config)


def set_authorizer(authorizer: Authorizer | None) -> Authorizer | None:
    """Use this Authorizer from now on (tests); returns the previous one."""
    return _default.set_default(authorizer)


# --- DRF errors in the Go SDK's shape -----------------------------------


class GaiaRefusal(APIException):
    """A refusal rendered by DRF as ``{"error", "message"}`` with headers."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(detail=refusal.body)
        self.status_code = refusal.status
        self.refusal = refusal
        challenge = refusal.headers.get("WWW-Authenticate")
        if challenge:
            self.auth_header = challenge  # DRF sends it as WWW-Authenticate
        if "Retry-After" in refusal.headers:
            self.wait = int(refusal.headers["Retry-After"])  # and this as Retry-After


class _Refused:
    """request.user when authentication failed but DRF cannot be told so
    (it would need django.contrib.auth's AnonymousUser): HasPermission
    raises the refusal."""

    is_authenticated = False
    is_anonymous = True
    pk = None
    id = None

    def __init__(self, refusal: Refusal | None) -> None:
        self.refusal = refusal

    def __str__(self) -> str:
        return "anonymous"


def _drf_can_fail() -> bool:
    # DRF sets request.user to UNAUTHENTICATED_USER when authentication
    # fails; the default (django.contrib.auth's AnonymousUser) only imports
    # with that app installed.
    from django.apps import apps
    from rest_framework.settings import api_settings

    if (
        "UNAUTHENTICATED_USER" in api_settings.user_settings
        and not api_settings.user_settings["UNAUTHENTICATED_USER"]
    ):
        return True
    return apps.is_installed("django.contrib.auth")


class GaiaJWTAuthentication(BaseAuthentication):
    """Authenticates ``Authorization: Bearer <IAM access token>``."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None if _drf_can_fail() else (_Refused(None), None)
        try:
            principal = get_authorizer().principal(token)
        except InvalidToken as exc:
            refusal = invalid_token(exc.reason)
        except NotReady as exc:
            refusal = unavailable(exc.reason)
        else:
            return principal, principal.claims
        if _drf_can_fail():
            raise GaiaRefusal(refusal)
        return _Refused(refusal), None

    def authenticate_header(self, request: Any) -> str:
        return REALM


# --- HasPermission and composition ---------------------------------------

_FORBIDDEN = {"error": "forbidden", "message": "permission denied"}


def _message_of(permission: Any) -> dict[str, str]:
    message = getattr(permission, "message", None)
    if isinstance(message, dict):
        return message
    if message:
        return {"error": "forbidden", "message": str(message)}
    return dict(_FORBIDDEN)


class _And(AND):
    def has_permission(self, request: Any, view: Any) -> bool:
        for op in (self.op1, self.op2):
            if not op.has_permission(request, view):
                self.message = _message_of(op)
                return False
        return True


class _Or(OR):
    def has_permission(self, request: Any, view: Any) -> bool:
        if self.op1.has_permission(request, view) or self.op2.has_permission(request, view):
            return True
        first, second = _message_of(self.op1), _message_of(self.op2)
        self.message = {
            "error": "forbidden",
            "message": f"{first['message']} or {second['message']}",
        }
        return False


class _Not(NOT):
    def has_permission(self, request: Any, view: Any) -> bool:
        if not self.op1.has_permission(request, view):
            return True
        name = getattr(self.op1, "permission", None)
        text = f"permission {name} excludes this request" if name else "permission denied"
        self.message = {"error": "forbidden", "message": text}
        return False


class _Operations(OperationHolderMixin):
    def __and__(self, other: Any) -> Any:
        return _OperandHolder(_And, self, other)

    def __or__(self, other: Any) -> Any:
        return _OperandHolder(_Or, self, other)

    def __rand__(self, other: Any) -> Any:
        return _OperandHolder(_And, other, self)

    def __ror__(self, other: Any) -> Any:
        return _OperandHolder(_Or, other, self)

    def __invert__(self) -> Any:
        return _SingleOperandHolder(_Not, self)


class _OperandHolder(_Operations, OperandHolder):
    pass


class _SingleOperandHolder(_Operations, SingleOperandHolder):
    pass


class _PermissionMeta(_Operations, BasePermissionMetaclass):
    """Composition of HasPermission classes keeps the Gaia messages."""


class GaiaPermission(BasePermission, metaclass=_PermissionMeta):
    """Base of the classes HasPermission makes: allows when the bearer
    token grants ``permission`` today; raises 401/503 (which no ``~`` can
    turn into an allow) when the token is bad or no decision can be made."""

    permission: ClassVar[str] = ""
    message: Any = None

    def has_permission(self, request: Any, view: Any) -> bool:
        user = getattr(request, "user", None)
        refused = getattr(user, "refusal", None) if isinstance(user, _Refused) else None
        if refused is not None:
            raise GaiaRefusal(refused)
        principal, refusal = answer(
            get_authorizer(), request.META.get("HTTP_AUTHORIZATION"), self.permission
        )
        if refusal is None:
            return True
        if refusal.status == 403:
            self.message = refusal.body
            return False
        raise GaiaRefusal(refusal)


_classes: dict[str, type[GaiaPermission]] = {}


def HasPermission(permission: str) -> type[GaiaPermission]:  # noqa: N802 - reads as a class
    """The DRF permission class requiring ``permission``, e.g.
    ``permission_classes = [HasPermission("inventory.write")]``."""
    if not isinstance(permission, str):
        raise TypeError("HasPermission needs a permission name")
    cls = _classes.get(permission)
    if cls is None:
        cls = _PermissionMeta(
            f"HasPermission[{permission}]",
            (GaiaPermission,),
            {
                "permission": permission,
                "__module__": __name__,
                "__doc__": f"Requires the IAM permission {permission!r}.",
            },
        )
        _classes[permission] = cls
    return cls


# --- plain Django views ----------------------------------------------------


def _refusal_response(refusal: Refusal) -> HttpResponse:
    response = JsonResponse(refusal.body, status=refusal.status)
    for name, value in refusal.headers.items():
        response[name] = value
    return response


def require_permission(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a Django view so that it runs only for a bearer token that
    grants permission; ``request.user`` (and ``request.gaia_principal``) is
    then the Principal."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        def gate(request: HttpRequest) -> HttpResponse | None:
            principal, refusal = answer(
                get_authorizer(), request.META.get("HTTP_AUTHORIZATION"), permission
            )
            if refusal is not None:
                return _refusal_response(refusal)
            request.gaia_principal = principal
            request.user = principal
            return None

        if asyncio.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = gate(request)
                return refused if refused is not None else await view(request, *args, **kwargs)

            return async_wrapper

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = gate(request)
            return refused if refused is not None else view(request, *args, **kwargs)

        return wrapper

    return decorator


def principal_of(request: Any) -> Principal | None:
    """The Principal a Gaia check let through for this request, if any."""
    user = getattr(request, "gaia_principal", None) or getattr(request, "user", None)
    return user if isinstance(user, Principal) else None
