"""Reading and verifying the IAM's signed policy bundle as OPA does.

:func:`read_bundle` follows OPA v1.22.3's ``bundle.Reader.Read`` with the
configuration the Go SDK gives it (signature mandatory, keys from the IAM's
JWKS by ``kid``, no fixed ``keyid``, no scope, no exclusions):

* the gzipped tar's regular files, in order; a file whose base name is
  ``.signatures.json`` holds ``{"signatures": [<JWT>]}``: exactly one;
* the JWT (``verify.go``): its key id is the header's ``kid``, else the
  payload's ``keyid``; that key must be one of the JWKS; RS256 must verify;
  the payload's ``scope`` must be empty;
* every other file must be listed in the payload's ``files`` (name without
  the leading ``/``) with a matching hash: ``data.json``, ``data.yaml``
  and ``.manifest`` over their canonical JSON (``hash.go``), others over
  their bytes; and every listed file must be in the tar;
* then the manifest and the roots are checked as ``validateAndInjectDefaults``
  does, and the data is activated as OPA activates a downloaded bundle (lazy
  mode, ``bundle/store.go``): each data file parsed with ``util.Unmarshal``
  (a BOM skipped, ``null`` ignored), checked against the roots (``doDFS``),
  merged at its directory, and only what lies under the roots kept.

Anything else raises :class:`BundleRefused`; the caller keeps its last good
bundle.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import re
import tarfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric import rsa

from . import _gojson as gj
from .jwks import rsa_verify

# The decompressed size OPA allows a bundle (size_limit_bytes defaults to
# 1 GiB per file); a smaller total keeps a gzip bomb from hurting a service.
MAX_UNPACKED_BYTES = 256 << 20

_HASHES: dict[str, Callable[[], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-224": hashlib.sha224,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
    "SHA-512-224": lambda: hashlib.new("sha512_224"),
    "SHA-512-256": lambda: hashlib.new("sha512_256"),
}
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")

# Rules of the stock policy: data at these paths conflicts with them.
STOCK_RULES = (
    "allow",
    "decision",
    "reasons",
    "principal",
    "claims",
    "_constraints",
    "_valid",
    "_expired",
    "_revoked",
    "_granted",
)
STOCK_PACKAGE = ("gaia", "authz")


class BundleRefused(Exception):
    """The bundle is not one OPA would activate."""


class UnknownSigningKey(BundleRefused):
    """The bundle is signed under a key id the JWKS does not (yet) hold."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"verification key {kid!r} is not in the IAM's JWKS")
        self.kid = kid


@dataclass(frozen=True)
class Bundle:
    """A verified bundle."""

    revision: str
    data: dict[str, Any]
    modules: tuple[tuple[str, bytes], ...]  # (path without leading "/", bytes)
    policy_digest: str
    manifest: dict[str, Any] = field(default_factory=dict)
    wasm: bool = False  # carries a Wasm module or a plan (not Rego only)
    sha256: str = ""


# --- Go path helpers -------------------------------------------------------


def go_base(path: str) -> str:
    """``filepath.Base``."""
    if path == "":
        return "."
    stripped = path.rstrip("/")
    if stripped == "":
        return "/"
    return stripped.rsplit("/", 1)[-1]


def go_dir(path: str) -> str:
    """``filepath.Dir``: all but the last element, cleaned."""
    head = path[: path.rfind("/") + 1]
    cleaned = posixpath.normpath(head) if head else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def policy_digest(modules: Iterable[tuple[str, bytes]]) -> str:
    """testdata/conformance/README.md's digest of a bundle's Rego.

    SHA-256 over ``<path>\\n<sha256 hex of the bytes>\\n`` for each module,
    by byte order of its path (without the leading ``/``).
    """
    entries = sorted((p.lstrip("/").encode("utf-8", "surrogateescape"), raw) for p, raw in modules)
    h = hashlib.sha256()
    for path, raw in entries:
        h.update(path + b"\n" + hashlib.sha256(raw).hexdigest().encode("ascii") + b"\n")
    return h.hexdigest()


# --- the Go structs OPA decodes ------------------------------------------

_FILE_INFO = gj.struct(
    {"name": gj.string_field, "hash": gj.string_field, "algorithm": gj.string_field}
)
_DECODED_SIGNATURE = gj.struct(
    {
        "files": gj.slice_of(_FILE_INFO),
        "keyid": gj.string_field,
        "scope": gj.string_field,
        "iat": gj.int_field,
        "iss": gj.string_field,
    }
)
_SIGNATURES_CONFIG = gj.struct(
    {"signatures": gj.slice_of(gj.zero_string), "plugin": gj.string_field}
)
_WASM_RESOLVER = gj.struct(
    {"entrypoint": gj.string_field, "module": gj.string_field, "annotations": gj.any_field}
)
_MANIFEST = gj.struct(
    {
        "revision": gj.string_field,
        "roots": gj.slice_of(gj.zero_string),
        "wasm": gj.slice_of(_WASM_RESOLVER),
        "rego_version": gj.optional_int_field,
        "file_rego_versions": gj.map_of(gj.zero_int),
        "metadata": gj.map_of(gj.any_field),
    }
)
_PATCH = gj.struct(
    {
        "data": gj.slice_of(
            gj.struct({"op": gj.string_field, "path": gj.string_field, "value": gj.any_field})
        )
    }
)


def _decode(raw: bytes, decoder: gj.Decoder, what: str, *, first_value: bool) -> Any:
    try:
        return gj.decode_struct(raw, decoder, first_value=first_value)
    except gj.GoJSONError as exc:
        raise BundleRefused(f"{what}: {exc}") from None


# --- the tar ---------------------------------------------------------------


class _Limited(io.RawIOBase):
    def __init__(self, inner: Any, limit: int) -> None:
        self._inner, self._left = inner, limit

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(min(len(b), self._left + 1))
        if len(data) > self._left:
            raise BundleRefused("bundle exceeds the size limit")
        self._left -= len(data)
        b[: len(data)] = data
        return len(data)


def _tar_files(raw: bytes) -> list[tuple[str, bytes]]:
    """The regular files of the gzipped tar, in order (the tarball loader)."""
    try:
        unpacked = io.BufferedReader(
            _Limited(gzip.GzipFile(fileobj=io.BytesIO(raw)), MAX_UNPACKED_BYTES)
        )
        files = []
        with tarfile.open(fileobj=unpacked, mode="r|") as tar:
            for member in tar:
                if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                    continue  # directories, links and the like are skipped
                f = tar.extractfile(member)
                files.append((member.name, f.read() if f else b""))
        return files
    except BundleRefused:
        raise
    except (OSError, EOFError, tarfile.TarError, gzip.BadGzipFile, ValueError) as exc:
        raise BundleRefused(f"archive read failed: {exc}") from None


# --- the signature (verify.go) --------------------------------------------


def _signature_kid(header_b64: bytes) -> str | None:
    # jwsbb.HeaderParseCompact + HeaderGetString(hdr, "kid"): jwx's
    # base64, fastjson (the first "kid" member wins); a kid that is there
    # but not a string, or a header that does not decode, is an error.
    raw = gj.b64_guess(header_b64)
    if raw is None:
        raise BundleRefused("failed to extract key ID from headers: bad base64")
    try:
        header = gj.loads(raw, pairs=True)
    except gj.GoJSONError as exc:
        raise BundleRefused(f"failed to extract key ID from headers: {exc}") from None
    if not isinstance(header, gj.Pairs):
        return None
    for key, value in header:
        if key == "kid":
            if not isinstance(value, str):
                raise BundleRefused("failed to extract key ID from headers: kid is not a string")
            return value
    return None


def _verify_signature(
    token: str, keys: Mapping[str, rsa.RSAPublicKey]
) -> dict[str, dict[str, Any]]:
    parts = token.encode("utf-8", "surrogateescape").split(b".")
    if len(parts) != 3:
        raise BundleRefused("failed to split compact JWT")
    header_b64, payload_b64, signature_b64 = parts
    kid = _signature_kid(header_b64) or ""
    payload = gj.b64_raw_url(payload_b64)
    if payload is None:
        raise BundleRefused("failed to base64 decode JWT payload")
    ds = _decode(payload, _DECODED_SIGNATURE, "signature payload", first_value=False)
    if not kid:
        kid = ds["keyid"] or ""
    if not kid:
        raise BundleRefused("verification key ID is empty")
    key = keys.get(kid)
    if key is None:
        raise UnknownSigningKey(kid)
    signature = gj.b64_raw_url(signature_b64)
    if signature is None:
        raise BundleRefused("failed to base64 decode JWT signature")
    # The configured key's algorithm (RS256) decides, not the header's alg.
    if not rsa_verify(key, header_b64 + b"." + payload_b64, signature):
        raise BundleRefused("failed to verify JWT signature")
    if (ds["scope"] or "") != "":
        raise BundleRefused("scope mismatch")
    return {f["name"] or "": f for f in (ds["files"] or [])}


def _is_structured(path: str) -> bool:
    base = go_base(path)
    return base in ("data.json", "data.yaml", "data.yml", ".manifest")


def _structured_value(raw: bytes, path: str) -> Any:
    # util.Unmarshal: strip a UTF-8 BOM; JSON, else YAML (not supported here).
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return gj.loads(raw)
    except gj.GoJSONError:
        raise BundleRefused(f"{path}: not JSON (YAML bundle files are not supported)") from None


def _verify_file(path: str, raw: bytes, files: dict[str, dict[str, Any]]) -> None:
    # VerifyBundleFile
    info = files.get(path)
    if info is None:
        raise BundleRefused(f"file {path} not included in bundle signature")
    algorithm = info["algorithm"] or ""
    if not algorithm:
        raise BundleRefused(f"no hashing algorithm provided for file {path}")
    factory = _HASHES.get(algorithm)
    if factory is None:
        raise BundleRefused(f"unsupported hashing algorithm: {algorithm}")
    h = factory()
    if _is_structured(path):
        h.update(gj.canonical(_structured_value(raw, path)))
    else:
        h.update(raw)
    want = info["hash"] or ""
    if not _HEX.fullmatch(want):
        raise BundleRefused(f"{path}: signature hash is not hex")
    if bytes.fromhex(want) != h.digest():
        raise BundleRefused(f"{path}: digest mismatch")
    del files[path]


# --- data, manifest, roots -------------------------------------------------


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    # internal/merge.InterfaceMaps: objects merge, anything else conflicts.
    for key, add in b.items():
        if key in a:
            if not isinstance(a[key], dict) or not isinstance(add, dict):
                raise BundleRefused(f"failed to insert data file at {key}")
            _merge(a[key], add)
        else:
            a[key] = add
    return a


def _segments(path: str) -> list[str]:
    return path.split("/")


def _root_contains(root: list[str], other: list[str]) -> bool:
    if len(root) == 1 and root[0] == "":
        return True
    if len(root) > len(other):
        return False
    return all(root[i] == other[i] for i in range(len(root)))


def _roots_contain(roots: list[str], path: str) -> bool:
    return any(_root_contains(_segments(r), _segments(path)) for r in roots)


def _go_clean(path: str) -> str:
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _go_join(*elements: str) -> str:
    parts = [e for e in elements if e]
    return _go_clean("/".join(parts)) if parts else ""


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _storage_path(path: str) -> list[str]:
    """``storage.ParsePathEscaped("/" + p)``: segments, URL-unescaped."""
    if not path:
        return []
    out = []
    for segment in path.split("/"):
        if _BAD_ESCAPE.search(segment):
            raise BundleRefused(f"storage path invalid: /{path}")
        out.append(unquote(segment, errors="replace"))
    return out


def _do_dfs(obj: dict[str, Any] | None, path: str, roots: list[str]) -> None:
    # bundle/store.go doDFS: activation's check that data stays in the roots
    if len(roots) == 1 and roots[0] == "":
        return
    for key, child in (obj or {}).items():
        new = _go_join(path.strip("/"), key).lstrip("/.")
        if _roots_contain(roots, new):
            continue
        if not any(r.strip("/").startswith(new) for r in roots):
            raise BundleRefused(f"manifest roots {roots} do not permit data at path '/{new}'")
        if child is not None and not isinstance(child, dict):
            raise BundleRefused(f"manifest roots {roots} do not permit data at path '/{new}'")
        _do_dfs(child, new, roots)


def _activate_data(data_files: list[tuple[str, Any]], roots: list[str]) -> dict[str, Any]:
    """The data OPA's store holds after activating a downloaded bundle.

    OPA's HTTP downloader reads bundles in lazy mode: each data file is
    checked against the roots (doDFS), then the inmem store's Truncate
    merges them, by path length, and keeps only what lies under the roots.
    """
    for name, value in data_files:
        directory = go_dir(name.strip("/"))
        if value is None or isinstance(value, dict):
            _do_dfs(value, directory, roots)
            continue
        key = go_dir(name).lstrip("/.")
        segments = key.split("/") if key else []
        if not segments:
            raise BundleRefused("root value must be object")
        tree: Any = value
        for segment in reversed(segments):
            tree = {segment: tree}
        _do_dfs(tree, directory, roots)

    merged: dict[str, Any] = {}
    for name, value in sorted(
        data_files, key=lambda f: len(_storage_path(go_dir(f[0]).lstrip("/.")))
    ):
        if value is None:
            continue
        tree = value
        storage_key = _storage_path(go_dir(name).lstrip("/."))
        if not storage_key and not isinstance(tree, dict):
            raise BundleRefused("root value must be object")
        for segment in reversed(storage_key):
            tree = {segment: tree}
        _merge(merged, tree)

    stored: dict[str, Any] = {}
    for root in roots:
        path = _storage_path(root)
        node: Any = merged
        for segment in path:
            node = node.get(segment, _MISSING) if isinstance(node, dict) else _MISSING
            if node is _MISSING:
                break
        if node is _MISSING:
            continue
        if not path:
            stored = node
            continue
        target = stored
        for segment in path[:-1]:
            target = target.setdefault(segment, {})
        target[path[-1]] = node
    return stored


_MISSING = object()


_GLOB_SPECIAL = re.compile(r"\\.|\*|\?|\[!?[^\]]*\]|\{[^}]*\}|.", re.S)


def _glob(pattern: str) -> re.Pattern[str]:
    # gobwas/glob without separators: * any run, ? one char, [..], {a,b}.
    out = []
    for tok in _GLOB_SPECIAL.findall(pattern):
        if tok == "*":
            out.append(".*")
        elif tok == "?":
            out.append(".")
        elif tok.startswith("\\") and len(tok) == 2:
            out.append(re.escape(tok[1]))
        elif tok.startswith("[") and len(tok) > 2:
            body = tok[1:-1]
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
        elif tok.startswith("{") and tok.endswith("}"):
            out.append("(?:" + "|".join(re.escape(a) for a in tok[1:-1].split(",")) + ")")
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out), re.S)


def _rego_version(manifest: dict[str, Any], path: str) -> int:
    versions = manifest["file_rego_versions"] or {}
    for pattern in sorted(versions):
        try:
            matched = _glob(pattern).fullmatch(path) is not None
        except re.error:
            raise BundleRefused(f"failed to compile glob pattern {pattern}") from None
        if matched:
            return versions[pattern]
    version = manifest["rego_version"]
    return 1 if version is None else version  # the SDK parses Rego v1 by default


_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", re.M)


def _package(raw: bytes) -> tuple[str, ...] | None:
    text = raw.decode("utf-8", "replace")
    # skip comment lines before the package clause
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _PACKAGE.match(line)
        return tuple(m.group(1).split(".")) if m else None
    return None


# --- Reader.Read -----------------------------------------------------------


def read_bundle(
    raw: bytes, keys: Mapping[str, rsa.RSAPublicKey], *, stock_digest: str | None = None
) -> Bundle:
    """Verify and read a bundle; raise BundleRefused if OPA would refuse it.

    ``keys`` are the IAM's RSA keys by kid. ``stock_digest``, when given,
    is the digest of the one policy the caller can run: a bundle with that
    digest must then parse as OPA parses it (Rego v1).
    """
    entries = _tar_files(raw)

    # preProcessBundle
    signatures: dict[str, Any] | None = None
    signatures_path = None
    patch: dict[str, Any] | None = None
    descriptors: list[tuple[str, bytes]] = []
    for name, content in entries:
        base = go_base(name)
        if base == ".signatures.json":
            if signatures_path is not None:
                raise BundleRefused(
                    f"bundle contains multiple signatures files: {signatures_path!r} and {name!r}"
                )
            signatures_path = name
            signatures = _decode(content, _SIGNATURES_CONFIG, "signatures", first_value=True)
            continue
        descriptors.append((name, content))
        if base == "patch.json":
            patch = _decode(content, _PATCH, "patch", first_value=True)
    if patch is not None and patch["data"]:
        raise BundleRefused("delta bundles do not support signature verification")

    # checkSignaturesAndDescriptors
    if signatures is None or (signatures["signatures"] is None and not signatures["plugin"]):
        raise BundleRefused("bundle missing .signatures.json file")
    plugin = signatures["plugin"] or ""
    if plugin not in ("", "_default"):
        raise BundleRefused(f"no verifier exists under id {plugin}")
    tokens = signatures["signatures"] or []
    if not tokens:
        raise BundleRefused(".signatures.json: missing JWT (expected exactly one)")
    if len(tokens) > 1:
        raise BundleRefused(".signatures.json: multiple JWTs not supported (expected exactly one)")
    files = _verify_signature(tokens[0], keys)

    for name, content in descriptors:
        path = name[1:] if name.startswith("/") else name
        _verify_file(path, content, files)
    if files:
        raise BundleRefused(
            f"file(s) {sorted(files)} specified in bundle signatures "
            "but not found in the target bundle"
        )

    data_files: list[tuple[str, Any]] = []
    modules: list[tuple[str, bytes]] = []
    wasm_paths: list[str] = []
    plans = False
    manifest_path = None
    manifest = _MANIFEST(None, None)
    for name, content in descriptors:
        base = go_base(name)
        if name.endswith(".rego"):
            modules.append((name, content))
        elif base == "policy.wasm":
            wasm_paths.append(name)
        elif base in ("plan.json", "plan.pb"):
            plans = True
        elif base in ("data.json", "data.yaml", "data.yml"):
            # lazy mode: util.Unmarshal at activation (a BOM is skipped)
            data_files.append((name, _structured_value(content, name)))
        elif name.endswith(".manifest.pb"):
            raise BundleRefused("protobuf manifests are not supported")
        elif name.endswith(".manifest"):
            if manifest_path is not None:
                raise BundleRefused(
                    f"bundle contains multiple manifest files: {manifest_path!r} and {name!r}"
                )
            manifest_path = name
            manifest = _decode(
                content, _MANIFEST, "bundle load failed on manifest decode", first_value=True
            )

    digest = policy_digest((name, content) for name, content in modules)

    # Module parsing: the stock policy is Rego v1 and parses under v1 only.
    for name, _ in modules:
        version = _rego_version(manifest, name)
        if version not in (0, 1):
            raise BundleRefused(f"unknown bundle rego-version {version} for file '{name}'")
        if stock_digest is not None and digest == stock_digest and version != 1:
            raise BundleRefused(f"{name}: the policy does not parse as Rego v{version}")

    # validateAndInjectDefaults
    roots = [r.strip("/") for r in (manifest["roots"] if manifest["roots"] is not None else [""])]
    for i in range(len(roots)):
        for j in range(i + 1, len(roots)):
            a, b = _segments(roots[i]), _segments(roots[j])
            if _root_contains(a, b) or _root_contains(b, a):
                raise BundleRefused(f"manifest has overlapped roots: '{roots[i]}' and '{roots[j]}'")
    if manifest["rego_version"] is not None and manifest["rego_version"] not in (0, 1):
        raise BundleRefused(f"manifest has invalid rego version {manifest['rego_version']}")
    for pattern, version in (manifest["file_rego_versions"] or {}).items():
        if version not in (0, 1):
            raise BundleRefused(f"manifest has invalid rego version {version} for file '{pattern}'")
    for name, content in modules:
        package = _package(content)
        if package is None:
            raise BundleRefused(f"{name}: no package clause")
        if not any(_root_contains(_segments(r), list(package)) for r in roots):
            raise BundleRefused(
                f"manifest roots {roots} do not permit package "
                f"{'.'.join(package)} in module '{name}'"
            )
    entrypoints: set[str] = set()
    for resolver in manifest["wasm"] or []:
        if resolver["module"] not in wasm_paths:
            raise BundleRefused(
                f"manifest references wasm module '{resolver['module']}' "
                "but the module file does not exist"
            )
        entrypoint = resolver["entrypoint"] or ""
        if not _roots_contain(roots, entrypoint):
            raise BundleRefused(f"manifest roots {roots} do not permit '{entrypoint}' entrypoint")
        if entrypoint in entrypoints:
            raise BundleRefused(
                f"entrypoint '{entrypoint}' cannot be used by more than one wasm module"
            )
        entrypoints.add(entrypoint)
    data = _activate_data(data_files, roots)

    # Activation compiles the policy with the data: base documents at the
    # stock policy's rule paths conflict with its rules.
    if stock_digest is not None and digest == stock_digest:
        node: Any = data
        for segment in STOCK_PACKAGE:
            if segment not in node:
                node = None
                break
            node = node[segment]
            if not isinstance(node, dict):
                raise BundleRefused(f"data at {segment} conflicts with package gaia.authz")
        if isinstance(node, dict) and any(rule in node for rule in STOCK_RULES):
            raise BundleRefused("data conflicts with the rules of package gaia.authz")

    return Bundle(
        revision=manifest["revision"] or "",
        data=data,
        modules=tuple((name.lstrip("/"), content) for name, content in modules),
        policy_digest=digest,
        manifest={k: v for k, v in manifest.items() if v is not None},
        wasm=bool(wasm_paths) or plans,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
