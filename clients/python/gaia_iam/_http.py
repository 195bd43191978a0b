"""HTTP GET with the standard library, for the JWKS and the bundle."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import NamedTuple
from urllib.parse import urlsplit

USER_AGENT = "gaia-iam-python/0.1"


class Response(NamedTuple):
    """Status, body and ETag of a response (any status)."""

    status: int
    body: bytes
    etag: str | None


class TooLarge(OSError):
    """The response body is over the limit."""


_OPENER = urllib.request.build_opener()


def get(
    url: str, *, timeout: float, limit: int, etag: str | None = None, accept: str = "*/*"
) -> Response:
    """GET url; raises OSError (URLError, timeouts) when no answer comes."""
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            body = resp.read(limit + 1)
            if len(body) > limit:
                raise TooLarge(f"{url}: response over {limit} bytes")
            return Response(resp.status, body, resp.headers.get("ETag"))
    except urllib.error.HTTPError as exc:  # 304 and every non-2xx status
        with exc:
            return Response(exc.code, b"", exc.headers.get("ETag") if exc.headers else None)


def check_url(url: str, name: str) -> str:
    """url without a trailing slash; ValueError unless it is http(s)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{name} must be an http(s) URL such as http://127.0.0.1:8080, not {url!r}"
        )
    return url.rstrip("/")
