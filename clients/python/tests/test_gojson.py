"""Go's JSON and base64 rules, as OPA's code depends on them."""

from __future__ import annotations

import hashlib
import json
import tarfile

import pytest

from gaia_iam import _gojson as gj

from .helpers import CONFORMANCE


@pytest.mark.parametrize(
    "value, encoded",
    [
        ("plain", '"plain"'),
        ("<a href='x'>&</a>", "\"<a href='x'>&</a>\""),  # SetEscapeHTML(false)
        ("\u2028\u2029", '"\\u2028\\u2029"'),  # always escaped
        ('"\\/', '"\\"\\\\/"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
        ("\x7f", '"\x7f"'),
        ("é😀", '"é😀"'),
        ("a\ud800b", '"a\\ufffdb"'),  # not UTF-8: the replacement escape
    ],
)
def test_strings_as_go_encodes_them(value: str, encoded: str) -> None:
    assert gj.encode_string(value) == encoded


def test_canonical_form_sorts_keys_by_bytes_and_keeps_numbers() -> None:
    doc = gj.loads(
        b'{"b": [1.0, 1e2, -0, 1E+2, 123456789012345678901234567890], '
        b'"a": {"\xc3\xa9": 1, "Z": 2, "z": 3}, "c": [true, false, null, {}, []]}'
    )
    assert gj.canonical(doc) == (
        b'{"a":{"Z":2,"z":3,"\xc3\xa9":1},"b":[1.0,1e2,-0,1E+2,123456789012345678901234567890],'
        b'"c":[true,false,null,{},[]]}'
    )


def test_invalid_utf8_is_replaced_byte_by_byte() -> None:
    assert gj.loads(b'"a\xe2\x82b\xffc\xed\xa0\x80"') == "a\ufffd\ufffdb\ufffdc\ufffd\ufffd\ufffd"


def test_lone_surrogates_become_replacement_characters() -> None:
    assert gj.loads(b'"\\ud800x\\udc00\\ud83d\\ude00"') == "\ufffdx\ufffd\U0001f600"
    # keys that collide once replaced: the later wins, as in Go's map
    assert {
        k: v.text for k, v in gj.loads(b'{"\\ud800": 1, "\\udbff": 2, "\\ud800": 3}').items()
    } == {"\ufffd": "3"}


def test_duplicate_keys_last_wins() -> None:
    assert gj.loads(b'{"a": 1, "a": 2}')["a"].text == "2"


@pytest.mark.parametrize(
    "raw", [b"NaN", b"[Infinity]", b'{"a": 1} x', b"", b'{"a":}', b'"\x01"', b"\xef\xbb\xbf{}"]
)
def test_not_json(raw: bytes) -> None:
    with pytest.raises(gj.GoJSONError):
        gj.loads(raw)


def test_decoder_reads_only_the_first_value() -> None:
    assert gj.loads_first(b' {"a": "b"} trailing garbage') == {"a": "b"}


def test_struct_fields_match_case_insensitively_as_go() -> None:
    decode = gj.struct(
        {"keyid": gj.string_field, "scope": gj.string_field, "files": gj.slice_of(gj.zero_string)}
    )
    got = gj.decode_struct(
        b'{"KeyID": "k1", "\xc5\xbfcope": "s", "FILES": ["a", null], "unknown": 1}', decode
    )
    assert got == {"keyid": "k1", "scope": "s", "files": ["a", ""]}
    assert gj.decode_struct(b'{"\xe2\x84\xaaeyid": "kelvin"}', decode)["keyid"] == "kelvin"
    # null leaves a string, clears a slice
    assert gj.decode_struct(
        b'{"keyid": "a", "keyid": null, "files": ["x"], "files": null}', decode
    ) == {"keyid": "a", "scope": None, "files": None}
    with pytest.raises(gj.StructError):
        gj.decode_struct(b'{"keyid": 5}', decode)
    with pytest.raises(gj.StructError):
        gj.decode_struct(b"[]", decode)


def test_int_fields_take_integer_literals_only() -> None:
    decode = gj.struct({"iat": gj.int_field})
    assert gj.decode_struct(b'{"iat": 12}', decode)["iat"] == 12
    for bad in (
        b'{"iat": 1.0}',
        b'{"iat": 1e3}',
        b'{"iat": "1"}',
        b'{"iat": 99999999999999999999}',
    ):
        with pytest.raises(gj.StructError):
            gj.decode_struct(bad, decode)


@pytest.mark.parametrize(
    "text, raw",
    [
        (b"QQ", b"A"),
        (b"QQ==", b"A"),
        (b"QUI", b"AB"),
        (b"QUJD", b"ABC"),
        (b"", b""),
        (b"Q", None),
        (b"QQ=", None),
        (b"Q===", None),
        (b"QQ==QQ==", None),
        (b"Q+E", None),
        (b"QQ\n", None),
        (b"QUI\n=", b"AB"),
    ],
)
def test_rego_base64url_decode(text: bytes, raw: bytes | None) -> None:
    assert gj.b64url_opa(text) == raw


def test_raw_url_base64_refuses_padding_and_line_breaks() -> None:
    assert gj.b64_raw_url(b"QUI") == b"AB"
    assert gj.b64_raw_url(b"QUI=") is None
    assert gj.b64_raw_url(b"Q\nUI") is None
    assert gj.b64_guess(b"QUI=") == b"AB" and gj.b64_guess(b"+/8") == b"\xfb\xff"


def test_conformance_data_hash_is_the_signed_one() -> None:
    with tarfile.open(f"{CONFORMANCE}/bundle.tar.gz") as tar:
        data = tar.extractfile("/data.json").read()  # type: ignore[union-attr]
        sigs = json.loads(tar.extractfile("/.signatures.json").read())  # type: ignore[union-attr]
    segment = sigs["signatures"][0].split(".")[1].encode()
    payload = json.loads(gj.b64url_opa(segment))  # type: ignore[arg-type]
    listed = {f["name"]: f["hash"] for f in payload["files"]}
    assert hashlib.sha256(gj.canonical(gj.loads(data))).hexdigest() == listed["data.json"]
    assert hashlib.sha256(data).hexdigest() != listed["data.json"]  # not the raw bytes
