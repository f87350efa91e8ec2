"""Normalization: one canonical form, decoded layers, bounded and total on any input."""

from __future__ import annotations

import base64
import html
from urllib.parse import quote

import pytest
from mcp_gateway.domain.confusables_data import CONFUSABLES
from mcp_gateway.domain.normalize import (
    MAX_INPUT_CHARS,
    MAX_LAYERS,
    MAX_NORMALIZED_CHARS,
    decoded_layers,
    is_oversize,
    normalize,
    squash,
    tagged_variants,
    variants,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DeLeTe The Bucket", "delete the bucket"),
        ("ＤＥＬＥＴＥ　ｔｈｅ　ｂｕｃｋｅｔ", "delete the bucket"),  # fullwidth
        ("𝐝𝐞𝐥𝐞𝐭𝐞 𝕓𝕦𝕔𝕜𝕖𝕥", "delete bucket"),  # math bold, double-struck
        ("ⓓⓔⓛⓔⓣⓔ", "delete"),  # circled
        ("d\u200be\u200cl\u200de\u2060t\ufeffe", "delete"),  # zero-width
        ("de\u00adlete", "delete"),  # soft hyphen
        ("d\u202ee\u202cl\u2066e\u2069te", "delete"),  # bidi controls
        ("del\U000e0041\U000e0001ete", "delete"),  # tag characters
        ("d\u0336e\u0336l\u0336e\u0336t\u0336e\u0336", "delete"),  # combining overlay
        ("dé́l̈ëtę", "delete"),  # stacked accents
        ("dеlеtе", "delete"),  # Cyrillic ie
        ("ΤΕRΜΙΝΑΤΕ", "terminate"),  # Greek capitals
        ("ԁrор", "drop"),  # Cyrillic komi de, o, er
        ("ᴅᴇʟᴇᴛᴇ", "delete"),  # small capitals
        ("🇩🇪🇱🇪🇹🇪", "delete"),  # regional indicators
        ("wipe\x00 the\x07 logs", "wipe the logs"),  # controls
        ("rm -rf /", "rm rf"),
        ("a_b-c.d/e\\f|g+h*i:j;k,l'm\"n`o~p", "a b c d e f g h i j k l m n o p"),
        ("drop\n\ttable", "drop table"),
        ("Löschen", "loschen"),
        ("Straße", "strasse"),
        ("删除 存储桶", "删除 存储桶"),
        ("١٢٣ errors", "123 errors"),  # other-script digits
        ("", ""),
    ],
)
def test_normalize_folds_case_width_invisibles_marks_confusables_and_separators(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Delete the bucket",
        "dеlеtе\u200b",
        "ＤＲＯＰ_ＴＡＢＬＥ",
        "d̶e̶l̶e̶t̶e̶",
        "usuń",
        "удалить",
        "ß",
        "İ",
        "削除",
        "a\ud800b",
    ],
)
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


def test_squash_removes_every_separator() -> None:
    assert squash("d.e.l.e.t.e") == "delete"
    assert squash("d e l e t e") == "delete"
    assert squash("de-lete") == "delete"
    assert squash("DROP_TABLE") == "droptable"


def test_the_confusables_table_is_compact_and_maps_to_ascii_letters() -> None:
    assert all(len(k) == 1 and not k.isascii() for k in CONFUSABLES)
    assert all(v.isascii() and v.isalpha() and v.islower() for v in CONFUSABLES.values())
    assert len(CONFUSABLES) > 300


def test_variants_start_with_the_canonical_form() -> None:
    assert variants("Delete the BUCKET")[0] == "delete the bucket"


@pytest.mark.parametrize(
    ("encoded", "how"),
    [
        ("%64%65%6C%65%74%65 bucket", "url"),
        (quote("%64%65%6c%65%74%65 bucket", safe=""), "url>url"),
        ("%u0064%u0065lete bucket", "url"),
        ("&#100;&#x65;&#108;ete bucket", "html"),
        (html.escape("&#100;elete bucket"), "html>html"),
        ("\\u0064\\u0065\\x6c\\145te bucket", "escape"),
        ("\\u{64}elete bucket", "escape"),
        (base64.b64encode(b"delete bucket").decode(), "base64"),
        (base64.urlsafe_b64encode("¿delete bucket?>".encode()).decode().rstrip("="), "base64"),
        ("0x64656c657465206275636b6574", "hex"),
        ("64 65 6c 65 74 65 20 62 75 63 6b 65 74", "hex"),
        ("\u202etekcub eteled\u202c", "rtl"),
        ("list " + "".join(chr(0xE0000 + ord(c)) for c in "delete bucket"), "tags"),
        (base64.b64encode(quote("delete bucket", safe="").encode()).decode(), "base64>url"),
    ],
)
def test_variants_decode_encoded_layers(encoded: str, how: str) -> None:
    tagged = dict((v, h) for h, v in tagged_variants(encoded))
    matches = [v for v in tagged if "delete bucket" in v]
    assert matches, tagged
    assert tagged[matches[0]].split("+")[0] == how


def test_variants_decode_bytes_smuggled_in_variation_selectors() -> None:
    smuggled = "🙂" + "".join(chr(0xFE00 + b) if b < 16 else chr(0xE0100 + b - 16) for b in b"delete bucket")
    assert any("delete bucket" in v for v in variants(smuggled))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("d3l3t3 th3 8uck3t", "delete the bucket"),
        ("k1ll @ll", "kill all"),
        ("de1ete", "delete"),
        ("deIete", "delete"),  # capital I for lower-case L
        ("terrninate", "terminate"),  # rn for m
        ("pur$e", "purse"),
        ("DeleteBucket", "delete bucket"),  # camelCase
    ],
)
def test_variants_include_leetspeak_and_camel_case_forms(text: str, expected: str) -> None:
    assert expected in variants(text)


def test_invisible_characters_used_as_word_separators_yield_a_spaced_form() -> None:
    assert "delete the bucket" in variants("delete\u200bthe\u200bbucket")


def test_ordinary_words_and_identifiers_are_not_taken_for_base64_or_hex() -> None:
    for text in (
        "timestamp checkout inventory",
        "/aws/lambda/orders-api",
        "deadbeefcafe1234",
        "AKIAIOSFODNN7EXAMPLE",
    ):
        assert len(decoded_layers(text)) == 1, text


def test_binary_base64_is_not_decoded_into_a_layer() -> None:
    assert len(decoded_layers(base64.b64encode(bytes(range(256))).decode())) == 1


def test_decoding_is_bounded_in_depth_and_layer_count() -> None:
    deep = "delete bucket"
    for _ in range(6):
        deep = base64.b64encode(deep.encode()).decode()
    assert not any("delete" in v for v in variants(deep))  # six layers deep is beyond MAX_DECODE_DEPTH
    many = " ".join(base64.b64encode(f"word number {i}".encode()).decode() for i in range(100))
    assert len(decoded_layers(many)) <= MAX_LAYERS


def test_oversize_input_is_truncated_for_scanning_and_reported() -> None:
    huge = "delete " * 200_000
    assert is_oversize(huge)
    assert not is_oversize("delete")
    assert len(normalize(huge)) <= MAX_INPUT_CHARS
    assert all(len(v) <= MAX_NORMALIZED_CHARS for v in variants(huge))


def test_compatibility_expansion_is_capped() -> None:
    assert len(normalize("\ufdfa" * MAX_INPUT_CHARS)) <= MAX_NORMALIZED_CHARS


@pytest.mark.parametrize(
    "text",
    [
        "\ud800",
        "a\udfffb\ud83d",
        "\\ud83d\\ude00 \\ud800",
        "%ff%fe%00",
        "&#xD800; &#0; &#99999999;",
        "\\U0011ffff \\u{110000}",
        "\x00\x01\x02\x7f\x9f",
        "====",
        "ZZZZ====ZZZZ",
        "\U000e0000" * 10,
        "\ufe0f" * 50,
        "\u202e" * 5 + "\u202c",
    ],
)
def test_invalid_or_hostile_text_never_crashes(text: str) -> None:
    assert isinstance(normalize(text), str)
    assert all(isinstance(v, str) for v in variants(text))
