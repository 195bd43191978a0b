"""The Authorizer: local permission checks from the IAM's signed bundle."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from typing import Any

from . import _http
from ._engine import MAX_CACHED_TOKEN, Clock, Engine, to_ns
from .bundle import Bundle, BundleRefused, UnknownSigningKey, read_bundle
from .cache import DEFAULT_SIZE, DecisionCache, validity
from .decide import STOCK_POLICY_DIGEST, StockPolicy, public_claims
from .jwks import KeySetError, parse_iam_jwks, same_keys
from .types import (
    NOT_READY,
    POLICY_UNSUPPORTED,
    TOKEN_INVALID,
    Decision,
    InvalidToken,
    NotReady,
    Principal,
)

log = logging.getLogger("gaia_iam")

JWKS_PATH = "/.well-known/jwks.json"
BUNDLE_PATH = "/bundles/gaia.tar.gz"
MAX_JWKS_BYTES = 1 << 20
MAX_BUNDLE_BYTES = 64 << 20
_JWKS_FILE = "jwks.json"
_BUNDLE_FILE = "bundle.tar.gz"
_NOT_LOADED = Decision(False, (NOT_READY,), "")


class _State:
    """What decides now: an active stock-policy bundle, or a denial."""

    __slots__ = ("policy", "revision", "cache", "denial", "sha256", "digest")

    def __init__(
        self,
        policy: StockPolicy | None,
        revision: str,
        cache: DecisionCache | None,
        denial: Decision | None,
        sha256: str = "",
        digest: str = "",
    ) -> None:
        self.policy = policy
        self.revision = revision
        self.cache = cache
        self.denial = denial
        self.sha256 = sha256
        self.digest = digest


_NO_BUNDLE = _State(None, "", None, _NOT_LOADED)


def _write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class EmbeddedEngine(Engine):
    """Decides with the stock policy over the bundle's data, in process."""

    name = "poll"

    def __init__(
        self,
        iam_url: str,
        *,
        poll_interval: float,
        cache_dir: str | None,
        issuer: str | None,
        timeout: float,
        clock: Clock | None,
        cache_size: int,
    ) -> None:
        super().__init__(poll_interval=poll_interval, timeout=timeout, clock=clock)
        self._jwks_url = iam_url + JWKS_PATH
        self._bundle_url = iam_url + BUNDLE_PATH
        self._issuer = issuer
        self._cache_size = cache_size
        self._cache_dir = cache_dir
        self._keys: dict[str, Any] = {}
        self._keys_raw = b""
        self._etag: str | None = None
        self._state = _NO_BUNDLE
        self._refused: set[str] = set()
        self._unsupported: set[str] = set()
        if cache_dir:
            os.makedirs(cache_dir, mode=0o700, exist_ok=True)
            self._load_cached()

    # --- decisions: the hot path --------------------------------------

    def ready(self) -> bool:
        return self._state.policy is not None

    @property
    def revision(self) -> str:
        return self._state.revision

    def authorize(self, token: str, permission: str) -> Decision:
        state = self._state
        policy = state.policy
        if policy is None:
            return state.denial  # type: ignore[return-value]
        now = self._clock()
        key = (token, permission)
        try:
            hit = state.cache.get(key, now)  # type: ignore[union-attr]
        except TypeError:  # an unhashable permission: decide, do not cache
            ev = policy.evaluate(token, permission, to_ns(now))
            return Decision(ev.allow, ev.reasons, state.revision)
        if hit is not None:
            return hit
        ev = policy.evaluate(token, permission, to_ns(now))
        decision = Decision(ev.allow, ev.reasons, state.revision)
        span = validity(ev.instants, now)
        if span is not None and isinstance(token, str) and len(token) <= MAX_CACHED_TOKEN:
            state.cache.put(key, span[0], span[1], decision)  # type: ignore[union-attr]
        return decision

    def principal(self, token: str) -> Principal:
        state = self._state
        policy = state.policy
        if policy is None:
            denial = state.denial
            reason = denial.reasons[0] if denial and denial.reasons else NOT_READY
            raise NotReady(reason, _denial_message(reason))
        now = self._clock()
        key = (token, None)
        try:
            hit = state.cache.get(key, now)  # type: ignore[union-attr]
        except TypeError:
            raise InvalidToken(TOKEN_INVALID) from None
        if hit is None:
            ev = policy.evaluate(token, None, to_ns(now))
            if ev.principal is not None:
                hit = Principal.from_claims(public_claims(ev.principal))
            else:
                hit = next((r for r in ev.reasons if r.startswith("token_")), TOKEN_INVALID)
            span = validity(ev.instants, now)
            if span is not None and isinstance(token, str) and len(token) <= MAX_CACHED_TOKEN:
                state.cache.put(key, span[0], span[1], hit)  # type: ignore[union-attr]
        if isinstance(hit, str):
            raise InvalidToken(hit)
        return hit

    # --- background: JWKS and bundle -------------------------------------

    def poll(self) -> None:
        self._refresh_keys()
        if not self.closed:
            self._refresh_bundle()

    def _refresh_keys(self) -> bool:
        """Fetch the JWKS; True when the keys changed."""
        try:
            resp = _http.get(
                self._jwks_url,
                timeout=self._timeout,
                limit=MAX_JWKS_BYTES,
                accept="application/json",
            )
        except OSError as exc:
            self._failed(
                "jwks",
                "gaia_iam: cannot fetch the IAM's JWKS from %s: %s; keeping the keys it has",
                self._jwks_url,
                exc,
            )
            return False
        if resp.status != 200:
            self._failed(
                "jwks",
                "gaia_iam: the IAM answered %s for %s; keeping the keys it has",
                resp.status,
                self._jwks_url,
            )
            return False
        try:
            keys = parse_iam_jwks(resp.body)
        except KeySetError as exc:
            self._failed(
                "jwks", "gaia_iam: the IAM's JWKS is unusable (%s); keeping the keys it has", exc
            )
            return False
        self._recovered("jwks", "gaia_iam: fetching the IAM's JWKS again")
        if same_keys(keys, self._keys):
            return False
        self._keys, self._keys_raw = keys, resp.body
        log.info("gaia_iam: the IAM's JWKS holds keys %s", sorted(keys))
        return True

    def _refresh_bundle(self) -> None:
        etag = self._etag if self._state is not _NO_BUNDLE else None
        try:
            resp = _http.get(
                self._bundle_url,
                timeout=self._timeout,
                limit=MAX_BUNDLE_BYTES,
                etag=etag,
                accept="application/gzip, application/vnd.openpolicyagent.bundles",
            )
        except OSError as exc:
            self._failed(
                "bundle",
                "gaia_iam: cannot fetch the bundle from %s: %s; keeping revision %r",
                self._bundle_url,
                exc,
                self._state.revision,
            )
            return
        if resp.status == 304:
            self._recovered("bundle", "gaia_iam: fetching the bundle again")
            return
        if resp.status != 200:
            self._failed(
                "bundle",
                "gaia_iam: the IAM answered %s for %s; keeping revision %r",
                resp.status,
                self._bundle_url,
                self._state.revision,
            )
            return
        self._recovered("bundle", "gaia_iam: fetching the bundle again")
        # As OPA does, forget the ETag unless this bundle is activated: a
        # refused bundle is downloaded in full again at the next poll.
        self._etag = None
        if self._offer(resp.body, from_iam=True):
            self._etag = resp.etag

    def _offer(self, raw: bytes, *, from_iam: bool, may_refetch: bool = True) -> bool:
        """Verify and activate raw; False (logged once) when refused."""
        sha = hashlib.sha256(raw).hexdigest()
        if sha == self._state.sha256:
            return True
        try:
            bundle = read_bundle(raw, self._keys, stock_digest=STOCK_POLICY_DIGEST)
        except UnknownSigningKey as exc:
            if from_iam and may_refetch and self._refresh_keys():
                return self._offer(raw, from_iam=from_iam, may_refetch=False)
            self._refuse(sha, str(exc))
            return False
        except BundleRefused as exc:
            self._refuse(sha, str(exc))
            return False
        if not self._activate(bundle):
            return False
        if from_iam:  # the pair on disk: the bundle and the JWKS that verified it
            self._persist(_JWKS_FILE, self._keys_raw)
            self._persist(_BUNDLE_FILE, raw)
        return True

    def _refuse(self, sha: str, why: str) -> None:
        if sha in self._refused:
            log.debug("gaia_iam: bundle %s refused again: %s", sha[:12], why)
            return
        if len(self._refused) > 256:
            self._refused.clear()
        self._refused.add(sha)
        log.warning("gaia_iam: bundle refused (%s); keeping revision %r", why, self._state.revision)

    def _activate(self, bundle: Bundle) -> bool:
        if bundle.policy_digest != STOCK_POLICY_DIGEST or bundle.wasm:
            self._state = _State(
                None,
                bundle.revision,
                None,
                Decision(False, (POLICY_UNSUPPORTED,), bundle.revision),
                bundle.sha256,
                bundle.policy_digest,
            )
            if bundle.policy_digest not in self._unsupported:
                self._unsupported.add(bundle.policy_digest)
                log.error(
                    "gaia_iam: the IAM's bundle (revision %r) carries a policy this client "
                    "does not implement (policy digest %s, stock %s): denying every check. Run a "
                    "stock OPA beside the service and use sidecar mode: Authorizer(iam_url, "
                    'opa_url="http://127.0.0.1:8181")',
                    bundle.revision,
                    bundle.policy_digest,
                    STOCK_POLICY_DIGEST,
                )
            return True
        policy = StockPolicy(bundle.data)
        if self._issuer is not None and policy.issuer != self._issuer:
            self._refuse(
                bundle.sha256,
                f"its issuer {policy.issuer!r} is not the configured issuer {self._issuer!r}",
            )
            return False
        self._state = _State(
            policy,
            bundle.revision,
            DecisionCache(self._cache_size),
            None,
            bundle.sha256,
            bundle.policy_digest,
        )
        log.info("gaia_iam: bundle revision %r active", bundle.revision)
        return True

    # --- cache_dir ---------------------------------------------------------

    def _persist(self, name: str, data: bytes) -> None:
        if not self._cache_dir:
            return
        try:
            _write_atomic(os.path.join(self._cache_dir, name), data)
        except OSError as exc:
            log.warning("gaia_iam: cannot write %s to the cache directory: %s", name, exc)

    def _load_cached(self) -> None:
        assert self._cache_dir
        try:
            with open(os.path.join(self._cache_dir, _JWKS_FILE), "rb") as f:
                raw_keys = f.read(MAX_JWKS_BYTES + 1)
            with open(os.path.join(self._cache_dir, _BUNDLE_FILE), "rb") as f:
                raw_bundle = f.read(MAX_BUNDLE_BYTES + 1)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("gaia_iam: cannot read the cache directory: %s", exc)
            return
        try:
            self._keys, self._keys_raw = parse_iam_jwks(raw_keys), raw_keys
        except KeySetError as exc:
            log.warning("gaia_iam: the cached JWKS is unusable: %s", exc)
            return
        if self._offer(raw_bundle, from_iam=False):
            log.info("gaia_iam: started from the cached bundle, revision %r", self._state.revision)


def _denial_message(reason: str) -> str:
    if reason == NOT_READY:
        return "authorization policy not loaded yet"
    if reason == POLICY_UNSUPPORTED:
        return "the IAM's policy is not the stock policy this client implements (use sidecar mode)"
    return "authorization is unavailable"


class Authorizer:
    """Answers permission checks locally, from the IAM's signed bundle.

    ``Authorizer(iam_url)`` returns at once and fetches the IAM's JWKS and
    bundle in a background daemon thread, every ``poll_interval`` seconds;
    until the first bundle is active every check is denied (``not_ready``).
    With ``opa_url`` the checks are asked of a stock OPA beside the service
    (sidecar mode) instead. Thread-safe: create one per process.
    """

    def __init__(
        self,
        iam_url: str,
        *,
        poll_interval: float = 10.0,
        cache_dir: str | None = None,
        issuer: str | None = "gaia-iam",
        timeout: float = 5.0,
        opa_url: str | None = None,
        clock: Clock | None = None,
        cache_size: int = DEFAULT_SIZE,
    ) -> None:
        iam_url = _http.check_url(iam_url, "iam_url")
        self._engine: Engine
        if opa_url:
            from .sidecar import SidecarEngine

            self._engine = SidecarEngine(
                _http.check_url(opa_url, "opa_url"),
                poll_interval=poll_interval,
                timeout=timeout,
                clock=clock,
                cache_size=cache_size,
            )
        else:
            self._engine = EmbeddedEngine(
                iam_url,
                poll_interval=poll_interval,
                cache_dir=cache_dir,
                issuer=issuer,
                timeout=timeout,
                clock=clock,
                cache_size=cache_size,
            )
        self.iam_url = iam_url
        self.opa_url = opa_url
        self._engine.start()

    @property
    def sidecar(self) -> bool:
        """Whether checks are asked of an OPA sidecar."""
        return self.opa_url is not None

    @property
    def revision(self) -> str:
        """The revision of the bundle deciding now ("" before the first)."""
        return getattr(self._engine, "revision", "")

    def ready(self) -> bool:
        """Whether checks can be allowed: a stock-policy bundle is active
        (sidecar: OPA answered with a defined result)."""
        return self._engine.ready()

    def authorize(self, token: str, permission: str) -> Decision:
        """The policy's decision for token and permission; never raises."""
        return self._engine.authorize(token, permission)

    def has_permission(self, token: str, permission: str) -> bool:
        """Whether token grants permission; False on any error."""
        try:
            return self._engine.authorize(token, permission).allow
        except Exception:  # noqa: BLE001 - a check must never raise
            log.exception("gaia_iam: authorization failed")
            return False

    def principal(self, token: str) -> Principal:
        """The caller of a valid, unrevoked token.

        Raises InvalidToken (reason token_invalid, token_expired or
        token_revoked), or NotReady when no decision can be made.
        The principal's claims are shared: do not modify them.
        """
        return self._engine.principal(token)

    def check(self, token: str, permission: str) -> tuple[Decision, Principal | None]:
        """The decision and, when it allows, the principal (for middleware)."""
        return self._engine.check(token, permission)

    def close(self) -> None:
        """Stop the background thread. Checks keep the last answers' basis."""
        self._engine.close()

    def __enter__(self) -> "Authorizer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = f"opa_url={self.opa_url!r}" if self.opa_url else "embedded"
        return f"<gaia_iam.Authorizer {self.iam_url} {mode} ready={self.ready()}>"
