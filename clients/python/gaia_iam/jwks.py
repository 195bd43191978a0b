"""JSON Web Keys: the IAM's JWKS and the key set the policy verifies with.

Two readers, after the two Go readers involved:

* :func:`parse_key_set` reads ``data.gaia.keys`` as ``io.jwt.decode_verify``
  does (OPA v1.22.3 ``topdown/tokens.go``, jwx v3 strict key-set parsing):
  every key must parse or the whole set is unusable; keys whose ``alg`` is
  not a JWT algorithm are dropped; each key keeps its ``kid`` and ``alg``.
* :func:`parse_iam_jwks` reads ``GET /.well-known/jwks.json`` as the Go SDK
  does to configure bundle verification: RSA public keys that have a
  ``kid``, by ``kid``; none at all is an error.

RSA verification follows Go's ``crypto/rsa``: keys under 1024 bits never
verify, and the signature must be exactly the modulus length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from ._gojson import GoJSONError, b64_guess, loads

# tokens.go's tokenAlgorithms: a JWK with any other alg is skipped.
TOKEN_ALGORITHMS = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "HS256",
        "HS384",
        "HS512",
        "EdDSA",
    }
)
_KEY_TYPES = frozenset({"RSA", "EC", "OKP", "oct"})
_MAX_KEYS = 1000  # jwx v3's default cap on a key set
_MIN_RSA_BITS = 1024  # Go's crypto/rsa refuses smaller keys

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


class KeySetError(ValueError):
    """A key set that cannot be used at all."""


@dataclass(frozen=True)
class VerificationKey:
    """One key of a set: its kid and alg ("" when absent) and RSA key."""

    kid: str
    alg: str
    rsa: rsa.RSAPublicKey | None  # None: not an RSA key, or unusable
    private: bool = False


def _b64_int(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise KeySetError(f"RSA key field {name} must be a string")
    raw = b64_guess(value.encode("utf-8"))
    if raw is None or not raw:
        raise KeySetError(f"RSA key field {name} is not base64")
    return int.from_bytes(raw, "big")


def _parse_key(obj: Any) -> VerificationKey | None:
    if not isinstance(obj, dict):
        raise KeySetError("a JWK must be an object")
    kty = obj.get("kty")
    if not isinstance(kty, str) or kty not in _KEY_TYPES:
        raise KeySetError("a JWK needs a supported kty")
    kid = obj.get("kid", "")
    alg = obj.get("alg", "")
    if not isinstance(kid, str) or not isinstance(alg, str):
        raise KeySetError("a JWK's kid and alg must be strings")
    if alg and alg not in TOKEN_ALGORITHMS:
        return None  # tokens.go skips keys with an unknown algorithm
    if kty != "RSA":
        return VerificationKey(kid, alg, None)
    n = _b64_int(obj.get("n"), "n")
    e = _b64_int(obj.get("e"), "e")
    try:
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        key = None  # parses, but Go's verifier refuses such a key
    return VerificationKey(kid, alg, key, private="d" in obj)


def parse_key_set(value: Any) -> tuple[VerificationKey, ...]:
    """The keys ``io.jwt.decode_verify`` gets from ``json.marshal(value)``."""
    if not isinstance(value, dict):
        raise KeySetError("the key set must be a JSON object")
    if "keys" not in value:
        key = _parse_key(value)
        return (key,) if key else ()
    entries = value["keys"]
    if not isinstance(entries, list):
        raise KeySetError('"keys" must be an array')
    if len(entries) > _MAX_KEYS:
        raise KeySetError("too many keys")
    keys = [_parse_key(entry) for entry in entries]
    return tuple(k for k in keys if k is not None)


def parse_iam_jwks(raw: bytes) -> dict[str, rsa.RSAPublicKey]:
    """The IAM's RSA public keys by kid, as the Go SDK reads its JWKS."""
    try:
        doc = loads(raw)
    except GoJSONError as exc:
        raise KeySetError(f"JWKS is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise KeySetError("JWKS must be a JSON object")
    entries = doc.get("keys") if "keys" in doc else [doc]
    if not isinstance(entries, list):
        raise KeySetError('JWKS "keys" must be an array')
    out: dict[str, rsa.RSAPublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or "d" in entry:
            continue  # only RSA public keys with a kid can sign bundles
        try:
            key = RSAAlgorithm.from_jwk({k: v for k, v in entry.items() if isinstance(v, str)})
        except Exception:  # noqa: BLE001 - PyJWT raises several types
            raise KeySetError(f"JWKS key {kid!r} is not a valid RSA key") from None
        if isinstance(key, rsa.RSAPublicKey):
            out[kid] = key
    if not out:
        raise KeySetError("JWKS holds no RSA key with a kid")
    return out


def rsa_verify(key: rsa.RSAPublicKey | None, message: bytes, signature: bytes) -> bool:
    """RS256 (PKCS#1 v1.5, SHA-256) as Go's ``rsa.VerifyPKCS1v15`` checks it."""
    if key is None:
        return False
    size = key.key_size
    if size < _MIN_RSA_BITS or len(signature) != (size + 7) // 8:
        return False
    try:
        key.verify(signature, message, _PKCS1, _SHA256)
    except InvalidSignature:
        return False
    return True


def same_keys(a: Mapping[str, rsa.RSAPublicKey], b: Mapping[str, rsa.RSAPublicKey]) -> bool:
    """Whether two kid → key maps hold the same keys."""
    if a.keys() != b.keys():
        return False
    return all(a[k].public_numbers() == b[k].public_numbers() for k in a)
