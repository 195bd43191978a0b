"""What the embedded and the sidecar engines share: the poll thread."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .types import Decision, InvalidToken, Principal

log = logging.getLogger("gaia_iam")

Clock = Callable[[], float]

# Longer tokens (no IAM token is near this) are decided but not cached, so
# that the cache's memory stays bounded.
MAX_CACHED_TOKEN = 16 << 10


def to_ns(now: float) -> int:
    """Clock seconds as integer nanoseconds (time.now_ns() in Rego)."""
    if isinstance(now, int):
        return now * 1_000_000_000
    return int(now * 1e9)


class Engine:
    """Polls in a daemon thread until closed; decides on the caller's thread."""

    name = "engine"

    def __init__(self, *, poll_interval: float, timeout: float, clock: Clock | None) -> None:
        if not poll_interval > 0:
            raise ValueError("poll_interval must be positive")
        if not timeout > 0:
            raise ValueError("timeout must be positive")
        self._poll_interval = float(poll_interval)
        self._timeout = float(timeout)
        self._clock: Clock = clock or time.time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: set[str] = set()

    # --- lifecycle ----------------------------------------------------

    def start(self) -> None:
        """Start polling in the background (at once, then every interval)."""
        self._thread = threading.Thread(target=self._run, name=f"gaia-iam-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the thread must live on
                log.exception("gaia_iam: background poll failed")
            if self._stop.wait(self._poll_interval):
                break

    def close(self) -> None:
        """Stop polling; returns once the thread has ended (or after a
        request in flight has timed out)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._timeout + 1.0)

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._stop.is_set()

    def poll(self) -> None:
        """One round of background work."""
        raise NotImplementedError

    # --- log once per outage ----------------------------------------

    def _failed(self, what: str, message: str, *args: object) -> None:
        if what in self._failing:
            log.debug(message, *args)
        else:
            self._failing.add(what)
            log.warning(message, *args)

    def _recovered(self, what: str, message: str, *args: object) -> None:
        if what in self._failing:
            self._failing.discard(what)
            log.info(message, *args)

    # --- decisions (implemented by the engines) ----------------------

    def ready(self) -> bool:
        raise NotImplementedError

    def authorize(self, token: str, permission: str) -> Decision:
        raise NotImplementedError

    def principal(self, token: str) -> Principal:
        raise NotImplementedError

    def check(self, token: str, permission: str) -> tuple[Decision, Principal | None]:
        """The decision and, when it allows, the principal."""
        decision = self.authorize(token, permission)
        if not decision.allow:
            return decision, None
        try:
            return decision, self.principal(token)
        except InvalidToken:
            return decision, None
