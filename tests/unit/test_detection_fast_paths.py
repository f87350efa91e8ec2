"""Every fast path of the detector and of normalization gives what its slow path gives, on the corpora.

The fast paths (issue 21): ASCII text translated as bytes, only the non-ASCII runs of a text through the
per-character mark stripping and confusable folding, base64 decoding skipped when no candidate decodes, word
boundaries worked out only when a key is found, and leetspeak and camelCase forms read only in windows around the
tokens they change. Each is compared with the reference it replaced over the strings of tests/corpora (debugging
calls, attack calls, the adversarial and benign detection corpora), over joins of them (as the detector joins a
request's fields), and over texts built to stress the windows.
"""

from __future__ import annotations

import html
import json
import random
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from corpora.adversarial import adversarial_cases
from corpora.attack_calls import attack_corpus
from corpora.benign_requests import benign_cases
from corpora.debugging_calls import debugging_calls
from mcp_gateway.domain import detection
from mcp_gateway.domain import normalize as nz
from mcp_gateway.domain.detection import DEFAULT_RULES, Detector, PatternRule


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, int | float | bool):
        yield str(value)


def _corpus_strings() -> list[str]:
    out: list[str] = []
    for call in debugging_calls():
        out.extend(_strings(call.args))
        out.append(json.dumps(call.args, ensure_ascii=False))
    for attack in attack_corpus():
        for _, args in attack.calls:
            out.extend(_strings(args))
            out.append(json.dumps(args, ensure_ascii=False))
    for case in [*adversarial_cases(), *benign_cases()]:
        out.extend(case.fields.values())
    return list(dict.fromkeys(s for s in out if s))


CORPUS = _corpus_strings()
DETECTOR = Detector(DEFAULT_RULES)


def _joins(texts: list[str], count: int, seed: int) -> list[str]:
    """Texts joined as the detector joins fields: two or three corpus strings, with a space and with nothing."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = rng.sample(texts, rng.choice((2, 3)))
        out.append(rng.choice((" ", "")).join(parts))
    return out


def _stress(seed: int, count: int) -> list[str]:
    """Texts where windows are tight: triggers (digits, leetspeak symbols, "rn", capitals) next to rule words,
    long tokens, punctuation runs, terms split over many short words."""
    rng = random.Random(seed)
    pieces = [
        "delete", "d3l3te", "de|ete", "DeleteBucket", "drop", "table", "rn", "rnrn", "vv", "I", "1", "0", "@", "$",
        "!", "|", "for", "each", "fo", "r", "ea", "ch", "then", "th3n", "t h e n", "rm", "-rf", "ignore", "previous",
        "1nstruct1ons", "instructions", "...", "---", "\t", "\n", "x" * 40, "a1" * 30, "orders-api", "ERROR",
        "Timeout", "14:05", "5xx", "ticket", "000042", "deadbeef", "ZGVsZXRl", "a.b.c", "iterate", "0ver",
    ]  # fmt: skip
    out = []
    for _ in range(count):
        words = [rng.choice(pieces) for _ in range(rng.randrange(1, 60))]
        out.append("".join(w + rng.choice((" ", " ", "", "  ", "\n")) for w in words))
    return out


def _ascii(texts: Iterable[str]) -> list[str]:
    return [t for t in texts if t.isascii()]


ALL_TEXTS = [*CORPUS, *_joins(CORPUS, 1500, 1), *_stress(2, 1500)]


def test_the_corpora_hold_ascii_and_non_ascii_text_for_every_fast_path() -> None:
    assert len(CORPUS) > 2000
    assert len(_ascii(CORPUS)) > 1000
    assert len(CORPUS) - len(_ascii(CORPUS)) > 200


def test_preparing_ascii_text_without_the_unicode_steps_gives_the_reference() -> None:
    for text in ALL_TEXTS:
        assert nz._prepare(text) == nz._prepare_reference(text), text
        assert nz._prepare(text, " ") == nz._prepare_reference(text, " "), text


def test_finishing_ascii_text_as_bytes_gives_the_general_path() -> None:
    for text in _ascii(nz._prepare(t) for t in ALL_TEXTS):
        assert nz._finish(text) == nz._finish_general(text), text


def test_stripping_marks_run_by_run_gives_the_per_character_loop() -> None:
    for text in ALL_TEXTS:
        assert nz._strip_marks(text) == nz._strip_marks_reference(text), text


def test_folding_confusables_run_by_run_gives_the_whole_table() -> None:
    for text in ALL_TEXTS:
        assert nz._fold_confusables(text) == text.translate(nz._CONFUSABLES_TABLE), text


def test_the_byte_tables_translate_ascii_text_as_the_str_tables_do() -> None:
    for text in _ascii(ALL_TEXTS):
        assert nz._leet_i(text) == text.translate(nz._LEET_I), text
        assert nz._leet_l(text) == text.translate(nz._LEET_L).replace("rn", "m").replace("vv", "w"), text
        raw = text.encode("ascii")
        assert raw.translate(nz._HEX_SHAPE_BYTES).decode("ascii") == text.translate(nz._HEX_SHAPE), text


def test_translating_mixed_text_run_by_run_gives_the_str_tables() -> None:
    mixed = [t for t in ALL_TEXTS if not t.isascii()]
    mixed += [("capacity raised to 809 units, build 139f7110 " * 40) + extra for extra in ("é", "Ι1", "€4 rn")]
    for text in mixed:
        assert nz._leet_i(text) == text.translate(nz._LEET_I), text
        assert nz._leet_l(text) == text.translate(nz._LEET_L).replace("rn", "m").replace("vv", "w"), text
        assert nz._translate(text, nz._HEX_SHAPE, nz._HEX_SHAPE_BYTES) == text.translate(nz._HEX_SHAPE), text


def test_spacing_words_run_by_run_gives_the_separator_regex() -> None:
    texts = [*ALL_TEXTS, "a\u00a0b\u3000c__d", "x" * 20 + "é" + "_-. " * 5, "ß ﬁ — ½ ²"]
    for text in texts:
        folded = text.casefold()
        assert nz._spaced_words(folded) == nz._SEPARATORS.sub(" ", folded).strip(), text


def test_a_junction_window_reaches_exactly_as_far_as_its_regular_expression() -> None:
    rng = random.Random(5)
    texts = [t for t in ALL_TEXTS if t.isascii()]
    texts += [("word " * 200), ("x" * 300), ("@@ $$ || !! " * 30), ("a.b-c_d " * 60), "", " ", "\t\n\x1c\x1f a"]
    texts += ["y" * 20_000 + " tail", "head " + "z" * 9000, ("ab " * 3000) + "q" * 5000]  # longer than a tail
    for text in texts:
        for start in {0, len(text), *(rng.randrange(len(text) + 1) for _ in range(5))}:
            assert detection._reach(text, start) == detection._reach_reference(text, start), (text, start)
            assert detection._reach_back(text, start) == detection._reach(text[:start][::-1], 0), (text, start)
            backwards = text[::-1]
            assert detection._reach(backwards, start) == detection._reach_reference(backwards, start), (text, start)


def test_base64_decoding_says_none_exactly_when_the_reference_rewrite_changes_nothing() -> None:
    for text in [*ALL_TEXTS, "ZGVsZXRlIHRoZSBidWNrZXQ=", "follow ZGVsZXRlIGFsbA== then", "aGVsbG8gd29ybGQ"]:
        prepared = nz._prepare(text)
        reference = nz._BASE64.sub(nz._b64_blob, prepared) if nz._BASE64.search(prepared) else None
        decoded = nz._decode_base64(prepared)
        if reference is None or reference == prepared:
            assert decoded is None, text
        else:
            assert decoded == reference, text


def test_every_normalized_form_equals_the_reference_forms() -> None:
    for text in ALL_TEXTS:
        for _, layer in nz.decoded_layers(text):
            assert nz.normalized_forms(layer) == nz.normalized_forms_reference(layer), layer


def test_matching_a_canonical_form_with_lazy_word_boundaries_finds_the_same_keys() -> None:
    for text in ALL_TEXTS:
        for _, normalized in nz.tagged_variants(text):
            assert DETECTOR._match_finished(normalized) == DETECTOR.match_normalized(normalized), normalized


@pytest.mark.parametrize(
    "texts", [CORPUS, _joins(CORPUS, 1500, 3), _stress(4, 1500)], ids=["corpus", "joins", "stress"]
)
def test_the_hits_of_every_text_equal_the_reference_scan_with_their_labels(
    texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detection, "_FORM_WINDOW_MIN_CHARS", 0)  # windows for short texts too
    windowed = 0
    for text in texts:
        hits, labels = DETECTOR._compute_hits(text, nz.MAX_INPUT_CHARS)
        reference_hits, reference_labels = DETECTOR._compute_hits_reference(text, nz.MAX_INPUT_CHARS)
        assert dict(hits) == dict(reference_hits), text
        assert labels == reference_labels, text
        base = nz._prepare(text)
        windowed += base.isascii() and any(DETECTOR._form_windows(base, f) for f in ("leet", "leet-l", "camel"))
    assert windowed > 10  # the window path is taken, not only the whole-form fallback


def test_long_texts_read_their_forms_in_windows_with_the_reference_hits() -> None:
    rng = random.Random(6)
    texts = [" ".join(rng.sample(_stress(8, 400), 40)) for _ in range(60)]
    texts += [" ".join(rng.sample(_ascii(CORPUS), 60)) for _ in range(60)]
    windowed = 0
    for text in texts:
        assert dict(DETECTOR._compute_hits(text, nz.MAX_INPUT_CHARS)[0]) == dict(
            DETECTOR._compute_hits_reference(text, nz.MAX_INPUT_CHARS)[0]
        ), text
        base = nz._prepare(text)
        windowed += any(DETECTOR._form_windows(base, f) for f in ("leet", "leet-l", "camel"))
    assert windowed > 5


def test_a_key_longer_than_any_default_term_is_still_found_in_a_window_of_its_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(detection, "_FORM_WINDOW_MIN_CHARS", 0)
    long_term = "deletetherecordsofeverycustomerinthedatabase"
    detector = Detector([PatternRule(id="deny.long", kind="pattern", effect="deny", terms=(long_term,))])
    leet = long_term.replace("e", "3").replace("o", "0")
    text = "please " + leet + " now " + "padding words " * 20
    hits, _ = detector._compute_hits(text, nz.MAX_INPUT_CHARS)
    assert dict(hits) == {("deny.long", long_term): "plain+leet"}
    spaced = " ".join([*["padding", "words", "here", "and", "there"], *long_term[:20], leet[20:], "x1"])
    assert dict(detector._compute_hits(spaced, nz.MAX_INPUT_CHARS)[0]) == dict(
        detector._compute_hits_reference(spaced, nz.MAX_INPUT_CHARS)[0]
    )


def _split_escapes() -> list[tuple[str, str]]:
    """Encoded payloads (URL, HTML entities, backslash escapes) cut in two at several places."""
    payloads = ["delete the bucket", "for each bucket", "drop table", "ignore previous instructions", "then", "rm -rf"]
    out = []
    for payload in payloads:
        encodings = [
            urllib.parse.quote(payload, safe=""),
            "".join(f"%{ord(c):02X}" for c in payload),
            "".join(f"&#{ord(c)};" for c in payload),
            "".join(f"&#x{ord(c):x};" for c in payload),
            "".join(f"\\u{ord(c):04x}" for c in payload),
            "".join(f"\\x{ord(c):02x}" for c in payload),
            html.escape(payload),
            payload,
        ]
        for encoded in encodings:
            for cut in {1, 2, 3, len(encoded) // 2, len(encoded) - 2, len(encoded) - 1}:
                out.append((encoded[:cut], encoded[cut:]))
    return out


def _hits_of_plain_fields(values: list[str]) -> set[tuple[str, str]] | None:
    """The hits of the fields alone when every field is plain ASCII text (the joins read in windows), else None."""
    scans = [DETECTOR._hits(v, nz.MAX_INPUT_CHARS) for v in values]
    if not all(v.isascii() and labels == ("plain",) for v, (_, labels) in zip(values, scans, strict=True)):
        return None
    return {hit for hits, _ in scans for hit in hits}


def _assert_the_join_finds_what_the_whole_join_finds(
    values: list[str], separator: str, alone: set[tuple[str, str]]
) -> None:
    windowed = DETECTOR._joined_hits(values, separator, True, {})
    whole = DETECTOR._joined_hits(values, separator, False, {})
    assert {h: v for h, v in windowed.items() if h not in alone} == {
        h: v for h, v in whole.items() if h not in alone
    }, (values, separator)


def test_joins_of_plain_fields_holding_percent_ampersand_or_backslash_find_in_windows_what_the_whole_join_finds() -> (
    None
):
    rng = random.Random(7)
    texts = _ascii(CORPUS)
    fragments = _split_escapes()
    noise = ["50%", "100% of", "a & b", "C:\\temp", "x%", "&", "\\", "%%", "&amp", "R&D", "&lt", "%4", "\\u00"]
    checked = special = 0
    for _ in range(3000):
        values = [rng.choice(texts) for _ in range(rng.choice((2, 3)))]
        if rng.random() < 0.7:  # a payload split across a junction
            first, second = rng.choice(fragments)
            j = rng.randrange(len(values) - 1)
            values[j] += rng.choice(("", " ")) + first
            values[j + 1] = second + rng.choice(("", " ")) + values[j + 1]
        if rng.random() < 0.5:
            j = rng.randrange(len(values))
            values[j] = f"{rng.choice(noise)} {values[j]}" if rng.random() < 0.5 else values[j] + rng.choice(noise)
        alone = _hits_of_plain_fields(values)
        if alone is None:
            continue  # the whole join is scanned for these anyway
        for separator in (" ", ""):
            _assert_the_join_finds_what_the_whole_join_finds(values, separator, alone)
            checked += 1
            special += any(c in "".join(values) for c in "%&\\")
    assert checked > 1000
    assert special > 500


def _junction_fragments() -> list[tuple[str, str]]:
    """Payloads cut at a junction in the ways the junction check must notice: leetspeak and camelCase halves, "r"|"n"
    and "v"|"v" (read as m and w), spaced and contiguous hex, base64 halves, and words glued to names."""
    hexed = b"delete the bucket".hex()
    spaced = " ".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))
    b64 = "ZGVsZXRlIHRoZSBidWNrZXQ="
    pairs = [
        ("d3l", "3t3 it"), ("de|", "ete"), ("fo", "r3ach bucket"), ("rm -", "rf /"), ("r", "m -rf"), ("te", "rn it"),
        ("te", "rnin8te"), ("ter", "minate"), ("ter", "nninate"), ("ze", "vvipe"), ("v", "vipe all"), ("dropT", "able"),
        ("delete", "Bucket"), ("for", "Each"), ("the", "n delete"), ("th", "3n"),
        (spaced[:11], spaced[11:]), (spaced[:12], spaced[12:]), (spaced[:13], spaced[13:]),
        (hexed[:10], hexed[10:]), (hexed[:9], hexed[9:]), ("0x" + hexed[:6], hexed[6:]),
        (b64[:8], b64[8:]), (b64[:5], b64[5:]), ("follow" + b64[:10], b64[10:]),
        ("/aws/lambda/del", "ete-user"), ("orders-api", "delete"), ("12:00 UTC", "de ad be ef"),
    ]  # fmt: skip
    return pairs


def test_junctions_the_join_cannot_touch_are_skipped_and_the_rest_find_what_the_whole_join_finds() -> None:
    rng = random.Random(11)
    texts = _ascii(CORPUS)
    fragments = _junction_fragments()
    checked = skipped = 0
    for _ in range(3000):
        values = [rng.choice(texts) for _ in range(rng.choice((2, 3, 4)))]
        if rng.random() < 0.8:
            first, second = rng.choice(fragments)
            j = rng.randrange(len(values) - 1)
            values[j] += rng.choice(("", " ", "")) + first
            values[j + 1] = second + rng.choice(("", " ", "")) + values[j + 1]
        if rng.random() < 0.2:
            values.insert(rng.randrange(len(values)), rng.choice(("", "x", "n", "v", "ab", "/aws/lambda/api")))
        alone = _hits_of_plain_fields(values)
        if alone is None:
            continue
        for separator in (" ", ""):
            _assert_the_join_finds_what_the_whole_join_finds(values, separator, alone)
            joined = separator.join(values)
            position = 0
            for value in values[:-1]:
                position += len(value)
                skipped += DETECTOR._junction_clear(joined, position, position + len(separator))
                position += len(separator)
            checked += 1
    assert checked > 1500
    assert skipped > 1000  # the skip is taken, not only the window path


@pytest.mark.parametrize(
    ("left", "right", "separator"),
    [
        ("please te", "rminate it", ""),  # a key across the junction
        ("ter", "n it", ""),  # "rn" across the junction reads as m
        ("zev", "vipe", ""),
        ("64 65 6c 65", "74 65", " "),  # spaced hex across the junction
        ("64 65 6c 65 ", "74 65", ""),
        ("ZGVsZX", "RlIHRoZSBidWNrZXQ=", ""),  # base64 halves merge into one token
        ("%6", "4elete", ""),  # a URL escape split by the junction
    ],
)
def test_a_junction_a_key_or_a_decoder_could_cross_is_never_skipped(left: str, right: str, separator: str) -> None:
    joined = left + separator + right
    assert not DETECTOR._junction_clear(joined, len(left), len(left) + len(separator))


def test_one_pass_of_the_cut_keys_finds_a_key_across_a_junction_exactly_when_the_form_by_form_reading_does() -> None:
    rng = random.Random(14)
    texts = _ascii([*CORPUS, *_stress(15, 600)])
    fragments = _junction_fragments()
    checked = crossed = 0
    for _ in range(6000):
        left, right = rng.choice(texts), rng.choice(texts)
        if rng.random() < 0.5:
            first, second = rng.choice(fragments)
            left, right = left + rng.choice(("", " ")) + first, second + rng.choice(("", " ")) + right
        _, tails, _, _ = DETECTOR._side(left, 0, len(left), leftward=True)
        _, heads, _, _ = DETECTOR._side(right, 0, len(right), leftward=False)
        expected = any(DETECTOR._key_across(a, b) for a, b in zip(tails, heads, strict=True) if a and b)
        assert DETECTOR._crossing(tails, heads) == expected, (left[-40:], right[:40])
        checked += 1
        crossed += expected
    assert checked == 6000
    assert crossed > 300  # keys across the junction are in the test, not only clear junctions


def _edge_values(rng: random.Random) -> list[str]:
    """Values whose ends stress what a junction's side reads from its value alone: runs of "v" (read as w in pairs,
    so a neighbour can shift the pairing), "r" and "n" at either end, leetspeak characters, controls, spaced and
    contiguous hex, base64 characters, whitespace at the ends, and very short values, alone and as the 64th
    character of a long value."""
    texts = _ascii(CORPUS)
    pieces = ["v", "vv", "vvv", "vvvvv", "n", "r", "rn", "nrn", "rnrn", "m", "w", "1", "|", "3", "0x", "de", "ad",
              "\x01", "\x07", " ", "\t", "-", ":", "?", "/", "=", "ab", "zZ", "I", "l", "de ad", "64 65"]  # fmt: skip
    values: list[str] = []
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.35:
            value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        elif kind < 0.6:
            text = rng.choice(texts)
            start = rng.randrange(len(text))
            value = text[start : start + rng.randint(1, 12)]
        elif kind < 0.8:  # a long value whose 64th character from either end sits in a run
            run = "".join(rng.choice(pieces) for _ in range(rng.randint(2, 8)))
            filler = rng.choice(texts)[:70].ljust(70, "x")
            cut = 64 - len(run) // 2
            value = rng.choice((filler[:cut] + run + filler, filler + run + filler[:cut]))
        else:
            value = rng.choice(texts)
        values.append(value)
    return [v for v in values if v and v.isascii()]


def test_a_junction_read_from_its_two_values_alone_is_clear_exactly_when_the_joined_text_says_so() -> None:
    rng = random.Random(21)
    values = _edge_values(rng)
    fragments = _junction_fragments()
    checked = clear = 0
    for _ in range(12000):
        row = [rng.choice(values) for _ in range(rng.choice((2, 3, 4)))]
        if rng.random() < 0.15:
            first, second = rng.choice(fragments)
            row[0], row[1] = row[0] + first, second
        for separator in (" ", ""):
            joined = separator.join(row)
            position = 0
            for index in range(len(row) - 1):
                position += len(row[index])
                junction, position = position, position + len(separator)
                expected = DETECTOR._junction_clear(joined, junction, position)
                got = DETECTOR._junction_clear_between(joined, junction, position, row[index], row[index + 1])
                assert got == expected, (row, separator, index)
                checked += 1
                clear += expected
    assert checked > 40000
    assert 0.2 * checked < clear < 0.95 * checked  # both outcomes, many times


def test_a_value_end_read_alone_is_what_the_junction_side_reads_or_nothing() -> None:
    # the edge of a value is given only when every neighbour leaves the side's last character and cut edges as they are
    rng = random.Random(22)
    values = _edge_values(rng)
    given = 0
    for _ in range(6000):
        value, other = rng.choice(values), rng.choice(values)
        for separator in (" ", ""):
            left_edge = detection._value_edge_reading(value[-64:], True)
            if left_edge is not None:
                joined = other + separator + value
                chars, _, _, edges = DETECTOR._side(joined, 0, len(joined), leftward=True)
                assert (chars[-1], edges) == left_edge, (other, separator, value)
                given += 1
            right_edge = detection._value_edge_reading(value[:64], False)
            if right_edge is not None:
                joined = value + separator + other
                chars, _, _, edges = DETECTOR._side(joined, 0, len(joined), leftward=False)
                assert (chars[0], edges) == right_edge, (value, separator, other)
                given += 1
    assert given > 12000


@pytest.mark.parametrize(
    ("before", "value", "after"),
    [
        ("xr", "nab", "zz"),  # "r" before a leading "n": read as m in the "l" leetspeak form
        ("xv", "vab", "zz"),  # a "v" before a leading run of "v" shifts its pairs
        ("v", "vvvab", "zz"),
        ("zz", "abr", "nx"),  # a trailing "r" before an "n"
        ("zz", "abv", "vx"),  # an odd trailing run of "v" before a "v"
        ("zz", "abvvv", "vx"),
    ],
)
def test_a_value_end_a_neighbour_could_change_is_read_from_the_joined_text(before: str, value: str, after: str) -> None:
    for separator in ("", " "):
        joined = before + separator + value + separator + after
        start, end = len(before) + len(separator), len(before) + len(separator) + len(value)
        row = [before, value, after]
        for junction, index in ((end, 1), (start - len(separator), 0)):
            after_junction = junction + len(separator)
            expected = DETECTOR._junction_clear(joined, junction, after_junction)
            got = DETECTOR._junction_clear_between(joined, junction, after_junction, row[index], row[index + 1])
            assert got == expected, (separator, junction)
        chars, _, _, edges = DETECTOR._side(joined, 0, end, leftward=True)
        assert detection._value_edge_reading(value, True) in (None, (chars[-1], edges))
        chars, _, _, edges = DETECTOR._side(joined, start, len(joined), leftward=False)
        assert detection._value_edge_reading(value, False) in (None, (chars[0], edges))


def test_a_junction_between_plain_words_no_key_can_cross_is_skipped() -> None:
    left, right = "show the errors of the checkout service", "since the deploy at noon"
    for separator in (" ", ""):
        joined = left + separator + right
        assert DETECTOR._junction_clear(joined, len(left), len(left) + len(separator))


def test_the_merged_token_at_a_junction_is_plain_exactly_when_decoding_it_finds_nothing() -> None:
    rng = random.Random(12)
    words = [w for text in _ascii(CORPUS) for w in text.split()] + [f for pair in _junction_fragments() for f in pair]
    words += ["%4", "1", "&am", "p;", "\\x6", "4", "ZGVsZXRl", "IHRoZQ==", "6465", "6c657465", "0x", "abc+/", "_-=="]
    halves = [*_split_escapes(), *_junction_fragments()]
    checked = decoded = 0
    for _ in range(6000):
        left, right = rng.choice(halves) if rng.random() < 0.3 else (rng.choice(words), rng.choice(words))
        if not all(len(nz.decoded_layers(side)) == 1 for side in (left, right)):
            continue  # a field that decodes alone is never joined in windows
        joined = left + right
        token = joined[detection._token_start_at(joined, len(left)) : detection._token_end(joined, len(left))]
        expected = len(nz.decoded_layers(token)) == 1
        assert detection._token_plain(joined, len(left)) == expected, (left, right)
        checked += 1
        decoded += not expected
    assert checked > 3000
    assert decoded > 20  # tokens that do decode are in the test


def test_a_key_read_on_the_prepared_text_is_aligned_exactly_when_it_is_in_the_camel_case_form() -> None:
    rng = random.Random(16)
    keys = [*DETECTOR._aligned]
    pieces = ["drop", "Table", "DropTable", "then", "Then", "thenDelete", "poi", "NullPointer", "rm", "SIGTERM"]
    pieces += ["v2Beta", " ", "_", "-", "x", "A", "1"]
    camel_texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30))) for _ in range(1500)]
    checked = aligned = 0
    for text in _ascii([*ALL_TEXTS, *camel_texts]):
        prepared = nz._prepare(text)
        camel = nz._finish(nz._camel_split(prepared))
        squashed = camel.replace(" ", "")
        present = {key for _, (key, _) in DETECTOR._automaton.iter(squashed)} if squashed else set()
        for key in [k for k in present if k in DETECTOR._aligned] + rng.sample(keys, 3):
            expected = DETECTOR._aligned_in(camel, key)
            assert DETECTOR._camel_aligned(prepared, key) == expected, (text, key)
            checked += 1
            aligned += expected
    assert checked > 20_000
    assert aligned > 2_000


def test_splitting_camel_case_without_a_look_behind_gives_the_reference_split() -> None:
    rng = random.Random(13)
    alphabet = "aZbYcX09 _-.éÉßΣσ"
    texts = [*ALL_TEXTS, *("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(3000))]
    changed = 0
    for text in texts:
        assert nz._camel_split(text) == nz._camel_split_reference(text), text
        assert nz.has_camel(nz._prepare(text)) == (nz._CAMEL.search(nz._prepare(text)) is not None), text
        changed += nz._camel_split(text) != text
    assert changed > 500


def test_every_key_a_leetspeak_form_finds_beyond_the_plain_form_is_among_its_candidates() -> None:
    rng = random.Random(14)
    leet = str.maketrans({"e": "3", "a": "4", "o": "0", "t": "7", "i": "1", "l": "|", "s": "$", "m": "rn", "w": "vv"})
    phrases = ["delete the bucket", "for each bucket", "terminate all", "drop table", "remove everything", "then"]
    texts = [t for t in ALL_TEXTS if nz._prepare(t).isascii()]
    texts += [f"{rng.choice(phrases)} {rng.choice(phrases).translate(leet)} p99 12:30" for _ in range(400)]
    new_in_form = 0
    for text in texts:
        prepared = nz._prepare(text)
        plain = DETECTOR._match_finished(nz._finish(prepared))
        for form, source in (("leet", nz._leet_i(prepared)), ("leet-l", nz._leet_l(prepared))):
            extra = DETECTOR._match_finished(nz._finish(source)) - plain
            assert extra <= DETECTOR._leet_candidates(prepared, form, plain), (text, form)
            new_in_form += bool(extra)
    assert new_in_form > 300


def test_the_marks_of_changed_characters_line_up_with_the_squashed_leetspeak_forms() -> None:
    for text in [t for t in ALL_TEXTS if nz._prepare(t).isascii()]:
        raw = nz._prepare(text).encode("ascii")
        assert len(raw.translate(*detection._SQUASH_LEET_I)) == len(raw.translate(*detection._MARK_LEET_I))
        leet_l = raw.translate(nz._LEET_L_BYTES).replace(b"rn", b"m").replace(b"vv", b"w")
        marks = raw.translate(detection._MARK_LEET_L).replace(b"rn", b"\0").replace(b"vv", b"\0")
        assert len(leet_l.translate(*detection._SQUASH_PLAIN)) == len(marks.translate(*detection._MARK_SQUASH))


def test_trigger_runs_counted_on_a_byte_shape_equal_the_matches_of_the_trigger_patterns() -> None:
    rng = random.Random(15)
    alphabet = "aIrnvVx01|@$! 3.\n-Zz"
    texts = [nz._prepare(t) for t in ALL_TEXTS if nz._prepare(t).isascii()]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))) for _ in range(3000)]
    for text in texts:
        for form in ("leet", "leet-l", "camel"):
            expected = sum(1 for _ in detection._FORM_TRIGGERS[form].finditer(text))
            assert detection._trigger_runs(text, form) == expected, (text, form)


def test_base64_candidates_split_out_in_c_equal_the_candidate_pattern() -> None:
    rng = random.Random(16)
    alphabet = "aZ09+/_-== .:%\n"
    texts = [*ALL_TEXTS, *("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80))) for _ in range(3000))]
    found = 0
    for text in texts:
        assert nz._base64_candidates(text) == nz._BASE64.findall(text), text
        found += bool(nz._BASE64.findall(text))
    assert found > 1000


def test_the_start_of_a_token_read_back_in_chunks_is_where_the_whitespace_before_it_ends() -> None:
    rng = random.Random(17)
    texts = ["".join(rng.choice("ab \t\n") for _ in range(rng.randrange(0, 400))) for _ in range(500)]
    for text in [*texts, *_ascii(CORPUS)[:300]]:
        for position in range(0, len(text) + 1, 7):
            before = text[:position]
            expected = max((i + 1 for i, c in enumerate(before) if c.isspace()), default=0)
            assert detection._token_start_at(text, position) == expected, (text, position)


def test_a_key_off_the_plain_forms_boundaries_is_read_in_camel_case_only_when_a_camel_case_point_touches_it() -> None:
    # _camel_points' shortcut: a key the plain form finds off its word boundaries can be on the camelCase form's only
    # when it starts at a capital after a lower-case letter or ends at a lower-case letter before a capital
    rng = random.Random(17)
    pieces = ["drop", "Table", "DropTable", "then", "Then", "thenDelete", "poi", "NullPointer", "rm", "SIGTERM", "T"]
    pieces += ["v2Beta", " ", "_", "-", "x", "A", "1", "'", "ThEn", "rM"]
    camel_texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30))) for _ in range(3000)]
    checked = aligned = skipped = 0
    for text in _ascii([*ALL_TEXTS, *camel_texts]):
        prepared = nz._prepare(text)
        if not nz.has_camel(prepared):
            continue
        _, unaligned = DETECTOR._match_split(nz._finish(prepared))
        starts, ends = detection._camel_points(prepared)
        for key in unaligned:
            expected = DETECTOR._camel_aligned(prepared, key)
            shortcut = (key[0] in starts or key[-1] in ends) and expected
            assert shortcut == expected, (text, key)
            checked += 1
            aligned += expected
            skipped += not (key[0] in starts or key[-1] in ends)
    assert checked > 2_000
    assert aligned > 300
    assert skipped > 300
