"""FastAPI integration.

``require_permission("inventory.read")`` is a dependency::

    @app.get("/items")
    def items(principal: Principal = Depends(require_permission("inventory.read"))): ...

    @app.post("/items", dependencies=[Depends(require_permission("inventory.write"))])
    def create(): ...

Without ``authorizer`` it uses one process-wide Authorizer configured from
the environment (``GAIA_IAM_URL``, ``GAIA_IAM_POLL_INTERVAL``,
``GAIA_IAM_CACHE_DIR``). Refusals are the Go SDK's: 401 ``{"error":
"invalid_token", ...}`` with ``WWW-Authenticate: Bearer``, 403 ``{"error":
"forbidden", ...}``, 503 ``{"error": "unavailable", ...}``; the handler
that renders them is added to the app on first use (or call
:func:`install` yourself).
"""

from __future__ import annotations

import weakref
from typing import Any, Awaitable, Callable

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from . import _default
from ._answers import Refusal, answer
from .authorizer import Authorizer
from .types import Principal

__all__ = ["require_permission", "install", "get_authorizer", "set_authorizer", "GaiaHTTPException"]


def get_authorizer() -> Authorizer:
    """The process-wide Authorizer, started from the environment on first use."""
    return _default.get_default(lambda: None)


def set_authorizer(authorizer: Authorizer | None) -> Authorizer | None:
    """Use this Authorizer as the process-wide one (tests)."""
    return _default.set_default(authorizer)


class GaiaHTTPException(HTTPException):
    """A refusal; rendered as ``{"error", "message"}`` once installed."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(
            status_code=refusal.status, detail=refusal.body, headers=refusal.headers or None
        )
        self.refusal = refusal


async def _render(request: Request, exc: Exception) -> JSONResponse:
    refusal = exc.refusal  # type: ignore[attr-defined]
    return JSONResponse(refusal.body, status_code=refusal.status, headers=refusal.headers or None)


def install(app: Any) -> None:
    """Render Gaia refusals in the Go SDK's shape in this app."""
    if GaiaHTTPException not in app.exception_handlers:
        app.add_exception_handler(GaiaHTTPException, _render)
    # An app already serving has built its middleware stack: tell its
    # exception middleware too.
    node = getattr(app, "middleware_stack", None)
    for _ in range(64):
        if node is None:
            break
        handlers = getattr(node, "_exception_handlers", None)
        if isinstance(handlers, dict) and hasattr(node, "add_exception_handler"):
            if GaiaHTTPException not in handlers:
                node.add_exception_handler(GaiaHTTPException, _render)
            break
        node = getattr(node, "app", None)


def require_permission(
    permission: str, authorizer: Authorizer | None = None
) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets a request through only when its bearer token
    grants permission, and returns the caller's Principal."""
    if not isinstance(permission, str):
        raise TypeError("require_permission needs a permission name")
    installed: weakref.WeakSet[Any] = weakref.WeakSet()

    async def dependency(request: Request) -> Principal:
        app = request.app
        if app not in installed:
            install(app)
            installed.add(app)
        checker = authorizer or get_authorizer()
        header = request.headers.get("authorization")
        if checker.sidecar:  # a cache miss is an HTTP call: off the event loop
            principal, refusal = await run_in_threadpool(answer, checker, header, permission)
        else:
            principal, refusal = answer(checker, header, permission)
        if refusal is not None:
            raise GaiaHTTPException(refusal)
        return principal  # type: ignore[return-value]

    dependency.__name__ = f"require_permission_{permission.replace('.', '_')}"
    dependency.__qualname__ = dependency.__name__
    return dependency
