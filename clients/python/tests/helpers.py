"""Test helpers: RS256 tokens, signed bundles and a fake IAM over real HTTP."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import os
import tarfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gaia_iam import _gojson as gj
from gaia_iam.bundle import go_base

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONFORMANCE = os.path.join(ROOT, "testdata", "conformance")
STOCK_REGO = os.path.join(ROOT, "policies", "authz.rego")


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def private_key(name: str) -> rsa.RSAPrivateKey:
    """keys/iam.pem or keys/foreign.pem of the conformance vectors."""
    key = serialization.load_pem_private_key(read(os.path.join(CONFORMANCE, "keys", name)), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def b64(raw: bytes) -> str:
    return gj.b64url_encode(raw)


def sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def _segment(part: Any) -> str:
    if isinstance(part, str):
        return part  # already encoded
    if isinstance(part, bytes):
        return b64(part)
    return b64(json.dumps(part, separators=(",", ":")).encode("utf-8"))


def token(
    payload: Any,
    key: rsa.RSAPrivateKey | None = None,
    *,
    kid: str | None = None,
    header: Any = None,
) -> str:
    """A compact JWT: header/payload as dicts (JSON), bytes (raw) or str (as is)."""
    if header is None:
        header = {"alg": "RS256", "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
    head, body = _segment(header), _segment(payload)
    signature = sign(key, f"{head}.{body}".encode()) if key is not None else b""
    return f"{head}.{body}.{b64(signature)}"


def jwk(key: rsa.RSAPrivateKey | rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    numbers = pub.public_numbers()

    def enc(n: int) -> str:
        return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": enc(numbers.n),
        "e": enc(numbers.e),
    }


def hash_file(name: str, raw: bytes) -> str:
    base = go_base(name)
    if base in ("data.json", ".manifest"):
        return hashlib.sha256(gj.canonical(gj.loads(raw))).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def signature_file(
    files: Iterable[tuple[str, bytes]],
    key: rsa.RSAPrivateKey,
    kid: str,
    *,
    header_kid: bool = True,
    extra: dict[str, Any] | None = None,
) -> bytes:
    listed = [
        {"name": n.lstrip("/"), "hash": hash_file(n, raw), "algorithm": "SHA-256"}
        for n, raw in files
    ]
    payload: dict[str, Any] = {"files": listed, "keyid": kid}
    payload.update(extra or {})
    header = {"alg": "RS256", "typ": "JWT"}
    if header_kid:
        header["kid"] = kid
    jws = token(payload, key, header=header)
    return json.dumps({"signatures": [jws], "plugin": "_default"}, indent=1).encode()


def tar_gz(files: Iterable[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, raw in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(raw), 0o600, 0
            tar.addfile(info, io.BytesIO(raw))
    return gzip.compress(buf.getvalue(), mtime=0)


def bundle_files(
    data: Any,
    *,
    revision: str = "rev-1",
    rego: bytes | None = None,
    extra_modules: dict[str, bytes] | None = None,
    manifest: dict[str, Any] | None = None,
) -> list[tuple[str, bytes]]:
    """The files of a bundle as the IAM lays them out (no signature)."""
    rego = read(STOCK_REGO) if rego is None else rego
    man = {"revision": revision, "roots": ["gaia"], "rego_version": 1}
    man.update(manifest or {})
    data_raw = data if isinstance(data, bytes) else json.dumps(data, sort_keys=True).encode()
    files = [("/data.json", data_raw), ("/policies/authz.rego", rego)]
    for name, raw in (extra_modules or {}).items():
        files.append((name, raw))
    files.append(("/.manifest", json.dumps(man).encode()))
    return files


def signed_bundle(
    files: list[tuple[str, bytes]], key: rsa.RSAPrivateKey, kid: str, **kw: Any
) -> bytes:
    sig = signature_file(files, key, kid, **kw)
    out = list(files)
    out.insert(2, ("/.signatures.json", sig))
    return tar_gz(out)


def conformance_data() -> dict[str, Any]:
    """The data.json of the conformance bundle, as plain JSON."""
    with tarfile.open(os.path.join(CONFORMANCE, "bundle.tar.gz")) as tar:
        member = tar.extractfile("/data.json")
        assert member is not None
        return json.loads(member.read())


class QuietHandler(BaseHTTPRequestHandler):
    """A local fake server's handler: keep-alive, no request log, and no
    Nagle delay, which would add ~40 ms to a small kept-alive answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class FakeIAM:
    """Serves a JWKS and a bundle (with ETag / If-None-Match) on 127.0.0.1."""

    def __init__(self, jwks: bytes, bundle: bytes | None) -> None:
        self.jwks = jwks
        self.bundle = bundle
        self.requests: Counter[str] = Counter()
        self.not_modified = 0
        self.seen_if_none_match: list[str | None] = []
        self.on_bundle: Any = None  # called before each bundle request is answered
        self._lock = threading.Lock()
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                with fake._lock:
                    fake.requests[self.path] += 1
                    jwks_body, bundle_body = fake.jwks, fake.bundle
                if self.path == "/.well-known/jwks.json":
                    self._send(200, jwks_body, "application/json")
                elif self.path == "/bundles/gaia.tar.gz":
                    if fake.on_bundle is not None:
                        fake.on_bundle()
                        with fake._lock:
                            bundle_body = fake.bundle
                    if bundle_body is None:
                        self._send(404, b"{}", "application/json")
                        return
                    etag = '"' + hashlib.sha256(bundle_body).hexdigest()[:16] + '"'
                    inm = self.headers.get("If-None-Match")
                    with fake._lock:
                        fake.seen_if_none_match.append(inm)
                    if inm == etag:
                        with fake._lock:
                            fake.not_modified += 1
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self._send(200, bundle_body, "application/gzip", etag)
                else:
                    self._send(404, b"{}", "application/json")

            def _send(self, status: int, body: bytes, ctype: str, etag: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests[path]

    def total(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def set(self, *, jwks: bytes | None = None, bundle: bytes | None = None) -> None:
        with self._lock:
            if jwks is not None:
                self.jwks = jwks
            if bundle is not None:
                self.bundle = bundle

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
