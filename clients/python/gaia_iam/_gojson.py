"""JSON and base64 exactly as the Go code that OPA runs reads and writes them.

OPA decodes JSON with Go's ``encoding/json`` and ``UseNumber`` (numbers keep
the text they were written with), hashes bundle files by re-encoding the
decoded values with ``json.Encoder`` and ``SetEscapeHTML(false)``, and
decodes structs with case-insensitive field names. The helpers here
reproduce those rules so that a digest, a signature check or a claim
comparison comes out as it does in OPA.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable


class GoNumber:
    """A JSON number as ``json.Number`` keeps it: the text of the source."""

    __slots__ = ("text", "_dec")

    def __init__(self, text: str) -> None:
        self.text = text
        self._dec: Decimal | None = None

    @property
    def decimal(self) -> Decimal:
        """The exact value (Rego compares numbers exactly)."""
        if self._dec is None:
            self._dec = Decimal(self.text)
        return self._dec

    def to_python(self) -> int | float:
        """The value ``json.loads`` gives for the same text."""
        t = self.text
        if "." in t or "e" in t or "E" in t:
            return float(t)
        return int(t)

    def __repr__(self) -> str:
        return f"GoNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GoNumber):
            return self.decimal == other.decimal
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.decimal)


class Pairs(list):
    """A JSON object as its (key, value) members in source order."""


class GoJSONError(ValueError):
    """The input is not JSON as Go reads it."""


def _go_replace(err: UnicodeError) -> tuple[str, int]:
    # Go's decoder replaces every invalid byte with U+FFFD on its own;
    # Python reports maximal invalid subsequences, whose bytes are each
    # invalid for Go, so one replacement per byte of the range matches.
    if isinstance(err, UnicodeDecodeError):
        return "\ufffd" * (err.end - err.start), err.end
    raise err


codecs.register_error("gaia_iam.go", _go_replace)

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def go_text(raw: bytes) -> str:
    """Decode bytes as Go's JSON decoder sees them (invalid UTF-8 replaced)."""
    return raw.decode("utf-8", "gaia_iam.go")


def _reject_constant(name: str) -> Any:
    raise GoJSONError(f"invalid JSON literal {name}")


def _fix_string(s: str) -> str:
    return _SURROGATE.sub("\ufffd", s)


def _fix(value: Any, pairs: bool) -> Any:
    # Lone surrogate escapes (\ud800) decode to U+FFFD in Go; two keys that
    # become equal then collide, the later winning, as in Go's map.
    if isinstance(value, str):
        return _fix_string(value)
    if isinstance(value, Pairs):
        members = [(_fix_string(k), _fix(v, pairs)) for k, v in value]
        return Pairs(members) if pairs else dict(members)
    if isinstance(value, list):
        return [_fix(v, pairs) for v in value]
    return value


def loads(raw: bytes | str, *, pairs: bool = False) -> Any:
    """Parse one whole JSON document as ``util.UnmarshalJSON`` does.

    Numbers become :class:`GoNumber`; objects are dicts (last duplicate
    wins), or :class:`Pairs` when ``pairs`` is true. Raises GoJSONError.
    """
    text = go_text(raw) if isinstance(raw, (bytes, bytearray)) else raw
    needs_fix = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    hook = Pairs if (pairs or needs_fix) else None
    try:
        value = json.loads(
            text,
            parse_int=GoNumber,
            parse_float=GoNumber,
            parse_constant=_reject_constant,
            object_pairs_hook=hook,
        )
    except (ValueError, RecursionError) as exc:
        raise GoJSONError(str(exc)) from None
    if needs_fix:
        value = _fix(value, pairs)
    return value


_WS = " \t\r\n"


def loads_first(raw: bytes, *, pairs: bool = False) -> Any:
    """Parse the first JSON value of raw, as ``json.Decoder.Decode`` does.

    Bytes after that value are not read, so they may be anything.
    """
    text = go_text(raw)
    start = len(text) - len(text.lstrip(_WS))
    needs_fix = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    hook = Pairs if (pairs or needs_fix) else None
    decoder = json.JSONDecoder(
        parse_int=GoNumber,
        parse_float=GoNumber,
        parse_constant=_reject_constant,
        object_pairs_hook=hook,
    )
    try:
        value, _ = decoder.raw_decode(text, start)
    except (ValueError, RecursionError) as exc:
        raise GoJSONError(str(exc)) from None
    if needs_fix:
        value = _fix(value, pairs)
    return value


def is_valid(raw: bytes) -> bool:
    """``json.Valid``: raw is exactly one JSON value."""
    try:
        loads(raw)
    except GoJSONError:
        return False
    return True


def to_python(value: Any) -> Any:
    """Turn a decoded document into what ``json.loads`` would have given."""
    if isinstance(value, GoNumber):
        return value.to_python()
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    return value


# --- encoding: json.Encoder with SetEscapeHTML(false) -----------------------

_ESCAPE = re.compile('[\x00-\x1f"\\\\\u2028\u2029\ud800-\udfff]')
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c >= "\ud800":
        return "\\ufffd"  # not valid UTF-8: Go writes the replacement escape
    return "\\u%04x" % ord(c)


def encode_string(s: str) -> str:
    """A string as Go's encoder writes it without HTML escaping.

    Quote, backslash and control characters are escaped (``\\b \\f \\n \\r
    \\t`` short, others ``\\u00xx``), U+2028 and U+2029 always, and
    ``< > &`` never.
    """
    return '"' + _ESCAPE.sub(_escape, s) + '"'


def _walk(value: Any, out: list[str]) -> None:
    # OPA's bundle hash walk (bundle/hash.go): objects with sorted keys,
    # arrays in order, primitives as json.Encoder writes them, no spaces.
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(encode_string(key))
            out.append(":")
            _walk(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _walk(item, out)
        out.append("]")
    elif isinstance(value, str):
        out.append(encode_string(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, GoNumber):
        out.append(value.text)
    elif isinstance(value, int):
        out.append(str(value))
    else:
        raise TypeError(f"cannot hash {type(value).__name__}")


def canonical(value: Any) -> bytes:
    """The bytes OPA hashes for a structured bundle file."""
    out: list[str] = []
    _walk(value, out)
    return "".join(out).encode("utf-8")


# --- struct decoding: encoding/json into a Go struct ----------------------


def fold(name: str) -> str:
    """Go's foldName: names equal under Unicode simple case folding."""
    out = []
    for c in name:
        if c < "\x80":
            out.append(c.upper())
        elif c == "\u017f":  # LATIN SMALL LETTER LONG S folds with s
            out.append("S")
        elif c == "\u212a":  # KELVIN SIGN folds with k
            out.append("K")
        else:
            out.append(c)
    return "".join(out)


Decoder = Callable[[Any, Any], Any]


class StructError(GoJSONError):
    """A JSON value does not fit the Go type it is decoded into."""


def _int64(value: Any) -> int:
    if isinstance(value, GoNumber) and re.fullmatch(r"-?[0-9]+", value.text):
        n = int(value.text)
        if -(1 << 63) <= n < (1 << 63):
            return n
    raise StructError(f"cannot decode {value!r} into an int")


def string_field(value: Any, old: Any) -> Any:
    """A Go ``string``: null leaves the field as it was."""
    if value is None:
        return old
    if isinstance(value, str):
        return value
    raise StructError("expected a string")


def int_field(value: Any, old: Any) -> Any:
    """A Go ``int``/``int64``: an integer literal; null leaves it."""
    if value is None:
        return old
    return _int64(value)


def optional_int_field(value: Any, old: Any) -> Any:
    """A Go ``*int``: null sets it to nil."""
    if value is None:
        return None
    return _int64(value)


def any_field(value: Any, old: Any) -> Any:
    """A Go ``any``."""
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def slice_of(element: Decoder) -> Decoder:
    """A Go slice: null sets it to nil, an array replaces it."""

    def decode(value: Any, old: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list) or isinstance(value, Pairs):
            raise StructError("expected an array")
        return [element(v, element(None, None)) for v in value]

    return decode


def map_of(element: Decoder) -> Decoder:
    """A Go map[string]T: null sets nil, an object adds to the map."""

    def decode(value: Any, old: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Pairs):
            raise StructError("expected an object")
        out = dict(old) if isinstance(old, dict) else {}
        for k, v in value:
            out[k] = element(v, out.get(k, element(None, None)))
        return out

    return decode


def zero_string(value: Any, old: Any) -> Any:
    """A slice element of type string (null gives the zero value)."""
    if value is None:
        return "" if old is None else old
    return string_field(value, old)


def zero_int(value: Any, old: Any) -> Any:
    """A map element of type int (null gives the zero value)."""
    if value is None:
        return 0 if old is None else old
    return _int64(value)


def struct(fields: dict[str, Decoder]) -> Decoder:
    """A Go struct with these JSON field names (matched as Go matches)."""
    folded = {fold(name): name for name in fields}

    def decode(value: Any, old: Any) -> Any:
        out = dict(old) if isinstance(old, dict) else {name: None for name in fields}
        if value is None:
            return out
        if not isinstance(value, Pairs):
            raise StructError("expected an object")
        for key, item in value:
            name = key if key in fields else folded.get(fold(key))
            if name is not None:
                out[name] = fields[name](item, out[name])
        return out

    return decode


def decode_struct(raw: bytes, decoder: Decoder, *, first_value: bool = False) -> Any:
    """``json.Unmarshal`` (or ``Decoder.Decode`` with first_value) into a type."""
    value = loads_first(raw, pairs=True) if first_value else loads(raw, pairs=True)
    return decoder(value, None)


# --- base64 as the Go decoders involved accept it --------------------------

_URL_BODY = re.compile(rb"[A-Za-z0-9_-]*")
_STD_BODY = re.compile(rb"[A-Za-z0-9+/]*")


def _decode(s: bytes, body_re: re.Pattern[bytes], padded: bool, url: bool) -> bytes | None:
    if b"\r" in s or b"\n" in s:
        s = s.replace(b"\r", b"").replace(b"\n", b"")
    body = s.rstrip(b"=")
    pad = len(s) - len(body)
    if not body_re.fullmatch(body):
        return None
    if padded:
        if len(s) % 4 or pad > 2:
            return None
    else:
        if pad or len(body) % 4 == 1:
            return None
        body += b"=" * (-len(body) % 4)
        s = body
    if url:
        s = s.replace(b"-", b"+").replace(b"_", b"/")
    try:
        return binascii.a2b_base64(s)
    except binascii.Error:
        return None


def b64url_opa(s: bytes) -> bytes | None:
    """Rego's ``base64url.decode`` (``builtinBase64UrlDecode``), or None."""
    if not s.endswith(b"="):
        r = len(s) % 4
        if r == 1:
            return None
        if r:
            s += b"=" * (4 - r)
    return _decode(s, _URL_BODY, True, True)


def b64_raw_url(s: bytes) -> bytes | None:
    """``base64.RawURLEncoding`` into a buffer of ``DecodedLen`` bytes.

    OPA's bundle verifier uses the whole buffer, so a line break (which the
    decoder skips, leaving the buffer's tail zero) makes the result wrong:
    refuse it here, as the JSON or the signature check does there.
    """
    if b"\r" in s or b"\n" in s:
        return None
    return _decode(s, _URL_BODY, False, True)


def b64_guess(s: bytes) -> bytes | None:
    """jwx's base64 decoder, which guesses the variant from the text."""
    padded = s.endswith(b"=")
    url = b"+" not in s and b"/" not in s
    return _decode(s, _URL_BODY if url else _STD_BODY, padded, url)


def b64url_encode(raw: bytes) -> str:
    """Unpadded base64url, as JWTs are written."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decimal_of(value: Any) -> Decimal | None:
    """The exact value of a JSON number (GoNumber or int), else None."""
    if isinstance(value, GoNumber):
        try:
            return value.decimal
        except (InvalidOperation, ValueError):
            return None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    return None


def iter_pairs(value: Any) -> Iterable[tuple[str, Any]]:
    """Members of a decoded object, dict or Pairs."""
    return value.items() if isinstance(value, dict) else iter(value)
