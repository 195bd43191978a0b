"""The values and errors of the public interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

# Reasons a Decision denies, as the policy names them (and the Go SDK).
TOKEN_INVALID = "token_invalid"
TOKEN_EXPIRED = "token_expired"
TOKEN_REVOKED = "token_revoked"
PERMISSION_MISSING = "permission_missing"
# Denials without a policy answer.
NOT_READY = "not_ready"  # no bundle yet (the Go SDK's reason)
POLICY_UNSUPPORTED = "policy_unsupported"  # the IAM serves a policy this client cannot run
ERROR = "error"  # the sidecar OPA could not be asked


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one token and permission."""

    allow: bool
    reasons: tuple[str, ...] = ()  # sorted; empty when allowed
    revision: str = ""  # the bundle revision that decided

    @property
    def decided(self) -> bool:
        """Whether the policy answered (False: not ready, unsupported, error)."""
        return self.allow or any(
            r.startswith("token_") or r == PERMISSION_MISSING for r in self.reasons
        )


@dataclass(frozen=True)
class Principal:
    """The caller a valid, unrevoked token names.

    ``claims`` is the verified token payload; ``permissions`` is the
    token's own claim, informational only: decisions use the bundle's
    current grants. It also works as a Django ``request.user``.
    """

    id: str
    username: str
    type: str
    roles: tuple[Any, ...]
    permissions: tuple[Any, ...]
    claims: dict[str, Any] = field(repr=False, compare=False)

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False
    is_active: ClassVar[bool] = True
    is_staff: ClassVar[bool] = False
    is_superuser: ClassVar[bool] = False

    @property
    def pk(self) -> str:
        """The subject id, for code that expects a Django user's pk."""
        return self.id

    @property
    def token_id(self) -> str | None:
        """The token's jti."""
        jti = self.claims.get("jti")
        return jti if isinstance(jti, str) else None

    @property
    def expires_at(self) -> int | float | None:
        """The token's exp (Unix seconds)."""
        exp = self.claims.get("exp")
        return exp if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None

    def get_username(self) -> str:
        """Django's user API."""
        return self.username

    def __str__(self) -> str:
        return self.username or self.id

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "Principal":
        """A principal from verified claims."""

        def text(name: str) -> str:
            v = claims.get(name)
            return v if isinstance(v, str) else ""

        def items(name: str) -> tuple[Any, ...]:
            v = claims.get(name)
            return tuple(v) if isinstance(v, list) else ()

        return cls(
            id=text("sub"),
            username=text("username"),
            type=text("type"),
            roles=items("roles"),
            permissions=items("permissions"),
            claims=claims,
        )


class GaiaIAMError(Exception):
    """Base class of this package's errors."""


class InvalidToken(GaiaIAMError):
    """The token is not a valid, unrevoked IAM token.

    ``reason`` is ``token_invalid``, ``token_expired`` or ``token_revoked``.
    """

    def __init__(self, reason: str = TOKEN_INVALID) -> None:
        super().__init__(reason)
        self.reason = reason


class NotReady(GaiaIAMError):
    """No decision can be made yet (or at all): no bundle, unsupported
    policy, or the sidecar OPA is unreachable.

    ``reason`` is ``not_ready``, ``policy_unsupported`` or ``error``.
    """

    def __init__(
        self, reason: str = NOT_READY, message: str = "authorization policy not loaded yet"
    ) -> None:
        super().__init__(message)
        self.reason = reason
