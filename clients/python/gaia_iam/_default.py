"""One process-wide Authorizer for the framework integrations."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Mapping

from .authorizer import Authorizer

_lock = threading.Lock()
_instance: Authorizer | None = None


class ConfigError(RuntimeError):
    """The IAM's URL (or another setting) is missing or wrong."""


def settings_from(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Authorizer arguments from overrides (URL, POLL_INTERVAL, CACHE_DIR,
    and optionally ISSUER, TIMEOUT, OPA_URL), each falling back to the
    environment variable GAIA_IAM_<NAME>."""
    given: Mapping[str, Any] = overrides or {}

    def get(name: str) -> Any:
        value = given.get(name)
        if value is None or value == "":
            value = os.environ.get(f"GAIA_IAM_{name}") or None
        return value

    url = get("URL")
    if not url:
        raise ConfigError(
            "gaia_iam: set the IAM's URL (GAIA_IAM['URL'] or the GAIA_IAM_URL environment variable)"
        )
    kwargs: dict[str, Any] = {}
    try:
        for name, key, kind in (
            ("POLL_INTERVAL", "poll_interval", float),
            ("TIMEOUT", "timeout", float),
        ):
            if get(name) is not None:
                kwargs[key] = kind(get(name))
    except ValueError as exc:
        raise ConfigError(f"gaia_iam: {exc}") from None
    for name, key in (("CACHE_DIR", "cache_dir"), ("ISSUER", "issuer"), ("OPA_URL", "opa_url")):
        if get(name) is not None:
            kwargs[key] = str(get(name))
    return {"iam_url": str(url), **kwargs}


def get_default(config: Callable[[], Mapping[str, Any] | None]) -> Authorizer:
    """The process-wide Authorizer, started on first use from config()."""
    global _instance
    instance = _instance
    if instance is not None:
        return instance
    with _lock:
        if _instance is None:
            kwargs = settings_from(config())
            try:
                _instance = Authorizer(kwargs.pop("iam_url"), **kwargs)
            except ValueError as exc:
                raise ConfigError(f"gaia_iam: {exc}") from None
        return _instance


def set_default(authorizer: Authorizer | None) -> Authorizer | None:
    """Replace the process-wide Authorizer (tests; None: start anew)."""
    global _instance
    with _lock:
        previous, _instance = _instance, authorizer
    return previous
