"""Every fast path of normalize.py gives what the code it replaced gives (issue 21).

The references are the replaced functions, kept next to their fast paths (``*_reference``). Each comparison runs over
the corpus strings, joins of them and the stress texts of test_detection_fast_paths.py, and over inputs built to reach
the corners of the fast path (tokens glued to a word, base64 with padding, bytes that are almost text).
"""

from __future__ import annotations

import base64
import random

import pytest
from mcp_gateway.domain import normalize as nz
from test_detection_fast_paths import ALL_TEXTS, CORPUS

_PAYLOADS = ["delete the bucket", "for each bucket", "rm -rf /", "ignore previous instructions", "héllo wörld", "ok"]


def _encoded_payloads() -> list[str]:
    """Base64 and base64url of short texts, with and without padding, some with a word glued in front."""
    out = []
    for payload in _PAYLOADS:
        raw = payload.encode()
        for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            for token in (encoded, encoded.rstrip("=")):
                out += [token, *(prefix + token for prefix in ("a", "ab", "abc", "follow", "x1y2z3w", "deadbeef1234"))]
    return out


def _tokens() -> list[str]:
    """Base64 candidates: every candidate of the texts, merged pairs of them, encoded payloads, and odd shapes."""
    rng = random.Random(21)
    candidates = sorted({c for text in ALL_TEXTS for c in nz._BASE64.findall(nz._prepare(text))})
    merged = [rng.choice(candidates) + rng.choice(candidates) for _ in range(3000)]
    odd = ["abcd" + "=" * k for k in range(12)] + ["ab=cdefghij", "abcdefgh==", "abcdefghi=", "ZGVs\u00e9ZXRl", "a" * 7]
    odd += ["".join(rng.choice("AZaz09+/-_=") for _ in range(rng.randrange(0, 30))) for _ in range(3000)]
    return [*candidates, *merged, *_encoded_payloads(), *odd]


def test_printable_bytes_read_as_text_exactly_as_the_strict_decoding_does() -> None:
    rng = random.Random(22)
    samples = [t.encode() for t in ALL_TEXTS[:3000]]
    samples += [t.encode()[:n] for t in ALL_TEXTS[:500] for n in (0, 1, 2, 3, 4, 7)]
    samples += [base64.b64decode(t + "=" * (-len(t) % 4)) for t in _tokens() if len(t) % 4 != 1 and t.isalnum()]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24))) for _ in range(5000)]
    samples += [bytes(rng.choice(b"ab \t\n\r\x00\x07\x7f\xef\xbf\xbd\xc3\xa9") for _ in range(12)) for _ in range(3000)]
    samples += ["\ufffd delete".encode(), b"\xef\xbf\xbd\xff abc", "abc\ufffd".encode() + b"\x80", b"ab\x00" * 5]
    texts = 0
    for raw in samples:
        assert nz._printable(raw) == nz._printable_reference(raw), raw
        texts += nz._printable(raw) is not None
    assert texts > 3000  # both outcomes are in the test


def test_base64_tokens_decoded_with_shared_groups_equal_every_start_decoded_alone() -> None:
    decoded = shifted = far = 0
    for token in _tokens():
        result = nz._b64_token_decoded(token)
        assert result == nz._b64_token_reference(token), token
        assert nz._b64_token(token) == result, token
        if result != token:
            decoded += 1
            start = result.find(" ")  # a start after 0 shows as the skipped characters and a space
            shifted += token[:start] + " " == result[: start + 1]
            far += start >= 4 and token[:start] + " " == result[: start + 1]
    assert decoded > 300
    assert shifted > 200
    assert far > 100  # starts past the first four, read from the decodings of starts 4 apart


def test_the_base64_memos_keep_only_short_candidates() -> None:
    # a warm function must not hold thousands of 64 KB blobs: long candidates are decoded, never remembered
    blob = base64.b64encode(b"delete the bucket " * 2000).decode()
    short = base64.b64encode(b"delete the bucket").decode()
    for memo, decode in ((nz._b64_token_memo, nz._b64_token), (nz._b64_text_memo, nz._b64_text)):
        memo.cache_clear()
        assert decode(blob) == decode(blob)
        assert memo.cache_info().currsize == 0
        decode(short)
        assert memo.cache_info().currsize == 1
    assert nz._b64_token(blob).startswith("delete the bucket")


@pytest.mark.parametrize("bound", [nz._PLAIN_RUNS_MAX, 50])
def test_base64_decoding_with_the_memo_of_plain_runs_equals_the_reference(
    bound: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nz, "_PLAIN_RUNS", set())
    monkeypatch.setattr(nz, "_PLAIN_RUNS_MAX", bound)  # a small bound: the memo is cleared many times on the way
    texts = [nz._prepare(t) for t in [*ALL_TEXTS, *_encoded_payloads(), "x " + "y" * 100 + " ZGVsZXRlIGFsbA=="]]
    changed = 0
    for _ in range(2):  # with the memo empty, then full of the texts' runs
        for text in texts:
            assert nz._decode_base64(text) == nz._decode_base64_reference(text), text
            changed += nz._decode_base64(text) is not None
        assert len(nz._PLAIN_RUNS) <= bound
    assert changed > 100  # decoding texts are in the test, not only plain ones
    assert all(len(run) <= nz._PLAIN_RUN_MAX_CHARS for run in nz._PLAIN_RUNS)


def test_a_run_is_remembered_as_plain_only_when_none_of_its_candidates_decodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(nz, "_PLAIN_RUNS", set())
    assert nz._decode_base64("requests to checkout took longer") is None
    assert {b"requests", b"checkout"} <= nz._PLAIN_RUNS
    assert nz._decode_base64("see ZGVsZXRlIGFsbA== now") == "see delete all now"
    assert b"ZGVsZXRlIGFsbA==" not in nz._PLAIN_RUNS
    assert nz._decode_base64("see ZGVsZXRlIGFsbA== now") == "see delete all now"


def test_the_corpora_hold_base64_for_the_fast_paths_to_decode() -> None:
    assert sum(nz._decode_base64_reference(nz._prepare(t)) is not None for t in CORPUS) > 50


def _ascii_noise(seed: int, count: int, alphabet: str) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))) for _ in range(count)]


_EVERY_ASCII = "".join(map(chr, range(128)))


def test_preparing_ascii_text_with_any_control_character_gives_the_reference() -> None:
    texts = [*ALL_TEXTS, *_ascii_noise(23, 3000, _EVERY_ASCII), *_ascii_noise(24, 1000, "ab \x00\x07\x1b\x7f\t\n")]
    removed = 0
    for text in texts:
        assert nz._prepare(text) == nz._prepare_reference(text), text
        removed += len(nz._prepare(text)) < len(text)
    assert removed > 3000


def test_finishing_runs_of_separators_of_every_length_gives_the_general_path() -> None:
    rng = random.Random(25)
    texts = _ascii_noise(26, 3000, 'aZ9 .-_?"\t')
    texts += [
        " " * rng.randrange(0, 9) + "x" + " " * rng.randrange(1, 12) + "y" + " " * rng.randrange(0, 9)
        for _ in range(500)
    ]
    texts += ["", " ", "  ", "   ", "\t\n", "?", "a", "a  b   c    d     e"]
    for text in [*texts, *(nz._prepare(t) for t in ALL_TEXTS if nz._prepare(t).isascii())]:
        assert nz._finish(text) == nz._finish_general(text), text


def test_splitting_ascii_camel_case_at_every_kind_of_point_gives_the_reference_split() -> None:
    texts = _ascii_noise(27, 4000, "aAbB1 _")
    texts += ["aA", "aAaA", "aAA", "AaA", "aAb", "xY", "dropTableNowPlease", "ABCdefGHi", "a" * 50 + "B" * 50]
    split = 0
    for text in texts:
        assert nz._camel_split(text) == nz._camel_split_reference(text), text
        assert nz.has_camel(text) == (nz._CAMEL.search(text) is not None), text
        split += nz._camel_split(text).count(" ") > text.count(" ") + 1
    assert split > 1000  # texts with several points


@pytest.mark.parametrize(("camel", "leet"), [(True, True), (True, False), (False, True), (False, False)])
def test_the_sources_of_every_form_equal_the_reference_sources(camel: bool, leet: bool) -> None:
    texts = [*ALL_TEXTS, *_ascii_noise(28, 3000, "ab1|I!rnvv0@$ 3e"), "rn", "vv", "r n", "I", "|", "plain words"]
    forms: set[str] = set()
    for text in texts:
        expected = nz._form_sources_reference(text, camel=camel, leet=leet)
        assert nz.form_sources(text, camel=camel, leet=leet) == expected, text
        assert nz.form_sources(text, nz._prepare(text), camel=camel, leet=leet) == expected, text
        forms |= {form for form, _ in expected}
    assert forms >= {"", "leet", "leet-l", "split"}


def test_hex_decoding_with_the_shape_as_bytes_gives_the_reference() -> None:
    texts = [*ALL_TEXTS, *_ascii_noise(29, 3000, "0123456789abcdefxX :,-"), "64656c657465 bucket", "de:ad:be:ef:00"]
    decoded = 0
    for text in texts:
        prepared = nz._prepare(text)
        assert nz._decode_hex(prepared) == nz._decode_hex_reference(prepared), text
        assert nz._decode_hex(text) == nz._decode_hex_reference(text), text
        decoded += nz._decode_hex(prepared) is not None
    assert decoded > 500


def test_url_decoding_that_first_looks_for_a_percent_sign_gives_the_pattern_search() -> None:
    for text in [*ALL_TEXTS, *_ascii_noise(30, 2000, "%4a1uU 0F")]:
        if nz._URL_ANY.search(text) is None:
            assert nz._decode_url(text) is None, text
        else:
            assert nz._decode_url(text) is not None, text


def test_decoded_layers_of_text_no_decoder_applies_to_equal_the_reference_layers() -> None:
    texts = [*ALL_TEXTS, *_encoded_payloads(), *_ascii_noise(31, 2000, "aZ09+/=%&;#\\x ")]
    texts += ["50% of requests", "R&D team", "C:\\temp", "%4", "&amp", "\\u00", "\x00\x07delete"]
    plain = layered = 0
    for text in texts:
        for limit in (nz.MAX_INPUT_CHARS, 12):
            layers = nz.decoded_layers(text, limit=limit)
            assert layers == nz._decoded_layers_reference(text, limit=limit), (text, limit)
            plain += text.isascii() and len(layers) == 1
            layered += len(layers) > 1
    assert plain > 3000
    assert layered > 300


def test_the_decoders_the_plain_layer_shortcut_calls_are_the_ascii_decoders_on_the_prepared_text() -> None:
    expected = [nz._decode_url, nz._decode_html, nz._decode_escapes, nz._decode_base64, nz._decode_hex]
    assert [decoder for _, decoder, _ in nz._ASCII_DECODERS] == expected
    assert all(on_prepared for _, _, on_prepared in nz._ASCII_DECODERS)
