"""Sidecar mode: the same interface, answered by a stock OPA beside the service.

Use it when the IAM ships a policy other than the stock one. The OPA loads
and verifies the IAM's bundle itself (bundles/opa-config.yaml); this client
asks ``POST {opa_url}/v1/data/gaia/authz/decision`` (and ``.../principal``)
and caches the answers per (token, permission, revision) as the embedded
mode does, the revision coming from OPA's provenance.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from ._engine import MAX_CACHED_TOKEN, Clock, Engine
from .cache import DecisionCache, validity
from .decide import token_instants
from .types import ERROR, NOT_READY, TOKEN_INVALID, Decision, InvalidToken, NotReady, Principal

log = logging.getLogger("gaia_iam")

_NOT_READY = Decision(False, (NOT_READY,), "")
_ERROR = Decision(False, (ERROR,), "")
_PROBE = {"token": "", "permission": ""}


class SidecarError(Exception):
    """OPA did not answer, or not as expected."""


class _Revision:
    __slots__ = ("revision", "cache")

    def __init__(self, revision: str, size: int) -> None:
        self.revision = revision
        self.cache = DecisionCache(size)


class SidecarEngine(Engine):
    """Asks a local OPA, keeping one keep-alive connection per thread."""

    name = "sidecar"

    def __init__(
        self,
        opa_url: str,
        *,
        poll_interval: float,
        timeout: float,
        clock: Clock | None,
        cache_size: int,
    ) -> None:
        super().__init__(poll_interval=poll_interval, timeout=timeout, clock=clock)
        parts = urlsplit(opa_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._local = threading.local()
        self._cache_size = cache_size
        self._current = _Revision("", cache_size)
        self._ready = False

    # --- talking to OPA -----------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def _ask(self, rule: str, input_: dict[str, Any]) -> tuple[bool, Any, str]:
        """(defined, result, revision) of data.gaia.authz.<rule>."""
        body = json.dumps({"input": input_}).encode("utf-8")
        path = f"{self._base}/v1/data/gaia/authz/{rule}?provenance=true"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise SidecarError(f"cannot reach OPA: {exc}") from None
        if resp.status != 200:
            raise SidecarError(f"OPA answered {resp.status}")
        try:
            doc = json.loads(data)
        except ValueError:
            raise SidecarError("OPA's answer is not JSON") from None
        if not isinstance(doc, dict):
            raise SidecarError("OPA's answer is not an object")
        revision = ""
        bundles = (doc.get("provenance") or {}).get("bundles") or {}
        if isinstance(bundles, dict) and isinstance(bundles.get("gaia"), dict):
            revision = bundles["gaia"].get("revision") or ""
        return "result" in doc, doc.get("result"), revision

    def _at(self, revision: str) -> _Revision:
        current = self._current
        if current.revision != revision:
            current = _Revision(revision, self._cache_size)
            self._current = current
        return current

    def _remember(self, state: _Revision, key: Any, token: str, now: float, value: Any) -> None:
        if len(token) > MAX_CACHED_TOKEN:
            return
        instants = token_instants(token)
        if instants is None:
            return
        span = validity(instants, now)
        if span is not None:
            state.cache.put(key, span[0], span[1], value)

    # --- decisions ----------------------------------------------------------

    def ready(self) -> bool:
        return self._ready

    @property
    def revision(self) -> str:
        return self._current.revision

    def authorize(self, token: str, permission: str) -> Decision:
        if not isinstance(token, str):
            return Decision(False, (TOKEN_INVALID,), self._current.revision)
        state = self._current
        now = self._clock()
        key: tuple[str, str] | None = (token, permission)
        try:
            hit = state.cache.get(key, now)
        except TypeError:
            key, hit = None, None
        if hit is not None:
            return hit
        try:
            defined, result, revision = self._ask(
                "decision", {"token": token, "permission": permission}
            )
        except (SidecarError, TypeError, ValueError) as exc:
            self._failed(
                "opa", "gaia_iam: sidecar OPA at %s:%s failed: %s", self._host, self._port, exc
            )
            return _ERROR
        self._recovered("opa", "gaia_iam: sidecar OPA answers again")
        if not defined:
            self._ready = False
            return _NOT_READY
        decision = _decision(result, revision)
        if decision is None:
            self._failed("opa-answer", "gaia_iam: sidecar OPA's decision is malformed")
            return _ERROR
        self._ready = True
        state = self._at(revision)
        if key is not None:
            self._remember(state, key, token, now, decision)
        return decision

    def principal(self, token: str) -> Principal:
        if not isinstance(token, str):
            raise InvalidToken(TOKEN_INVALID)
        state = self._current
        now = self._clock()
        key = (token, None)
        hit = state.cache.get(key, now)
        if hit is None:
            try:
                defined, result, revision = self._ask("principal", {"token": token})
            except SidecarError as exc:
                self._failed(
                    "opa", "gaia_iam: sidecar OPA at %s:%s failed: %s", self._host, self._port, exc
                )
                raise NotReady(ERROR, "authorization is unavailable") from None
            if defined and isinstance(result, dict):
                hit = Principal.from_claims(result)
            else:
                decision = self.authorize(token, "")
                reason = next((r for r in decision.reasons if r.startswith("token_")), None)
                if reason is None:
                    if not decision.decided:
                        raise NotReady(
                            decision.reasons[0] if decision.reasons else NOT_READY,
                            "authorization policy not loaded yet",
                        )
                    reason = TOKEN_INVALID
                hit = reason
            self._remember(self._at(revision), key, token, now, hit)
        if isinstance(hit, str):
            raise InvalidToken(hit)
        return hit

    # --- background -----------------------------------------------------

    def poll(self) -> None:
        try:
            defined, result, revision = self._ask("decision", _PROBE)
        except SidecarError as exc:
            self._ready = False
            self._failed(
                "opa", "gaia_iam: sidecar OPA at %s:%s failed: %s", self._host, self._port, exc
            )
            return
        self._recovered("opa", "gaia_iam: sidecar OPA answers again")
        was = self._ready
        self._ready = defined and _decision(result, revision) is not None
        if self._ready:
            self._at(revision)
            if not was:
                log.info("gaia_iam: sidecar OPA ready, bundle revision %r", revision)


def _decision(result: Any, revision: str) -> Decision | None:
    if not isinstance(result, dict) or not isinstance(result.get("allow"), bool):
        return None
    reasons = result.get("reasons") or []
    if not isinstance(reasons, list):
        return None
    names = tuple(sorted(r for r in reasons if isinstance(r, str)))
    if result["allow"] and names:
        return None
    return Decision(result["allow"], names, revision)
