"""The HTTP answers every framework integration gives, as the Go SDK's
middleware (sdk/middleware.go) gives them."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from .types import NOT_READY, PERMISSION_MISSING, Decision, Principal

REALM = 'Bearer realm="gaia"'
INVALID_TOKEN_CHALLENGE = 'Bearer realm="gaia", error="invalid_token"'


class Refusal(NamedTuple):
    """An error response: status, {"error", "message"} and headers."""

    status: int
    error: str
    message: str
    headers: dict[str, str]

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.error, "message": self.message}


class Checker(Protocol):
    def check(self, token: str, permission: str) -> tuple[Decision, Principal | None]:
        ...


BEARER_REQUIRED = Refusal(
    401, "invalid_token", "a bearer token is required", {"WWW-Authenticate": REALM}
)
NOT_VALID = Refusal(
    401, "invalid_token", "token is not valid", {"WWW-Authenticate": INVALID_TOKEN_CHALLENGE}
)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, sep, token = header.partition(" ")
    token = token.strip()
    if not sep or scheme.lower() != "bearer" or not token:
        return None
    return token


def invalid_token(reason: str) -> Refusal:
    """401 for a token_* reason."""
    what = reason[len("token_") :] if reason.startswith("token_") else "not valid"
    return Refusal(
        401, "invalid_token", f"token is {what}", {"WWW-Authenticate": INVALID_TOKEN_CHALLENGE}
    )


def unavailable(reason: str) -> Refusal:
    """503 while no decision can be made."""
    message = (
        "authorization policy not loaded yet"
        if reason == NOT_READY
        else "authorization is unavailable"
    )
    return Refusal(503, "unavailable", message, {"Retry-After": "1"})


def forbidden(permission: str) -> Refusal:
    """403 for a valid token lacking the permission."""
    return Refusal(403, "forbidden", f"missing permission {permission}", {})


def refusal_for(decision: Decision, permission: str) -> Refusal:
    """The refusal for a denying decision."""
    for reason in decision.reasons:
        if reason.startswith("token_"):
            return invalid_token(reason)
    if PERMISSION_MISSING in decision.reasons:
        return forbidden(permission)
    return unavailable(decision.reasons[0] if decision.reasons else NOT_READY)


def answer(
    checker: Checker, header: str | None, permission: str
) -> tuple[Principal | None, Refusal | None]:
    """The principal to let through, or the refusal to send."""
    token = bearer_token(header)
    if token is None:
        return None, BEARER_REQUIRED
    decision, principal = checker.check(token, permission)
    if not decision.allow:
        return None, refusal_for(decision, permission)
    if principal is None:
        return None, NOT_VALID
    return principal, None
