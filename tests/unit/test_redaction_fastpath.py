"""The redaction engine's fast paths change no output: the literal prefilter (one Aho-Corasick pass instead of many
substring searches), the base64-run shape check, the bounded high-entropy probe and the split escape trigger give
exactly what the plain scan gives, on the corpora and on long texts where the fast paths are taken."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from corpora.benign_formats import benign_corpus
from corpora.scorecard import HELD_OUT, TUNING, cases
from corpora.secrets import CUSTOMER_ID_PATTERNS
from mcp_gateway.domain.redaction import RedactionConfig, Redactor, engine, rules, views


class _Everything:
    """A container that holds every literal: with it no prefilter skips anything (the plain scan)."""

    def __contains__(self, item: object) -> bool:
        return True


def _texts() -> list[str]:
    short = [c.text for c in cases(TUNING + HELD_OUT, per_secret=4)]
    benign = [line for _fmt, line in benign_corpus(seed=7, count=600)]
    joined = ["\n".join(short[i : i + 9]) for i in range(0, len(short), 9)]
    joined += [" ".join(benign[i : i + 12]) for i in range(0, len(benign), 12)]
    large = []
    for sep in ("\n", " ", "\n\n"):
        text = sep.join(short + benign)
        large += [text[i : i + 65_536] for i in range(0, min(len(text), 4 * 65_536), 65_536)]
    # a character whose lower case is longer ("İ" -> "i̇"): offsets shift, the prefilter takes its superset path
    shifted = ["İ" + t for t in joined[::5]]
    return short + benign + joined + large + shifted


TEXTS = _texts()


def _redact_all(redactor: Redactor) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    for text in TEXTS:
        for pii in (True, False):
            res = redactor.redact_text(text, pii=pii)
            yield res.text, sorted(res.counts.items())


def test_the_corpora_include_long_texts_where_the_fast_paths_are_taken() -> None:
    assert sum(len(t) >= engine._PREFILTER_MIN for t in TEXTS) >= 200
    assert sum(len(t) >= 60_000 for t in TEXTS) >= 4
    assert any(len(t.lower()) != len(t) for t in TEXTS)


def test_the_prefiltered_scan_redacts_every_corpus_text_exactly_as_the_plain_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redactor = Redactor(RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS))
    fast = list(_redact_all(redactor))
    assert any(text != original for (text, _), original in zip(fast[::2], TEXTS, strict=True))  # it does redact

    everything = _Everything()
    monkeypatch.setattr(engine, "_present", lambda text, lowered: engine._Present(everything, everything))
    monkeypatch.setattr(engine, "_PREFILTER_MIN", 1 << 60)  # no base64-run shape check either
    plain = list(_redact_all(redactor))

    assert fast == plain


def test_the_literal_prefilter_reports_exactly_the_literals_a_substring_search_finds() -> None:
    for text in TEXTS:
        lowered = text.lower()
        present = engine._present(text, lowered)
        for lit in engine._CI_LITERALS:
            assert (lit in present.ci) == (lit in lowered), (lit, text[:80])
        for lit in engine._CS_LITERALS:
            if len(lowered) == len(text):
                assert (lit in present.cs) == (lit in text), (lit, text[:80])
            elif lit in text:
                assert lit in present.cs  # shifted offsets: a superset, never a miss


def test_every_simple_detector_match_holds_one_of_the_literals_that_gate_it() -> None:
    for text in TEXTS:
        lowered = text.lower()
        for det in rules.SIMPLE_DETECTORS:
            for m in det.regex.finditer(text):
                where = lowered if det.lowered else text
                assert any(lit in where for lit in det.literals), (det.kind, m.group())
                if not det.lowered:
                    assert any(lit in m.group() for lit in det.literals), (det.kind, m.group())


def test_the_base64_shape_check_skips_only_texts_without_a_run_of_twenty_base64_characters() -> None:
    for text in TEXTS:
        has_run = engine._B64_MIN_RUN in views.ascii_shape(text, engine._B64_SHAPE)
        assert has_run == (re.search(r"[A-Za-z0-9+/]{20}", text, re.ASCII) is not None)


def _entropy_reference(text: str, pos: int) -> list[tuple[int, int]]:
    """The high-entropy window as it was scanned before the bounded probe: every candidate up to the window's end."""
    limit = min(len(text), pos + rules.HE_WINDOW + 1024)
    eol = text.find("\n", pos, limit)
    if eol >= 0:
        limit = eol
    out = []
    for m in rules.HE_CAND_RX.finditer(text, pos, limit):
        if m.start() > pos + rules.HE_WINDOW:
            break
        if not m.group().startswith("REDACTED") and rules.looks_high_entropy(m.group()):
            out.append(m.span())
    return out


def test_the_bounded_high_entropy_probe_finds_what_a_scan_of_the_whole_window_finds() -> None:
    redactor = Redactor(RedactionConfig())
    tricky = [
        "the new secret is Qm9v7Xz2Lk8Pw3Rt5Yn1 for now",
        "x" * 63 + " Qm9v7Xz2Lk8Pw3Rt5Yn1Ab" + " " * 40 + "Zz9Yy8Xx7Ww6Vv5Uu4",
        "token " + "a" * 70 + " Qm9v7Xz2Lk8Pw3Rt5Yn1 " + "=" * 5 + "Qm9v7Xz2Lk8Pw3Rt5Yn2==",
        "key: " + "Ab1/" * 300 + "\n" + "Qm9v7Xz2Lk8Pw3Rt5Yn1",
        "REDACTEDQm9v7Xz2Lk8Pw3Rt5Yn1 Qm9v7Xz2Lk8Pw3Rt5Yn3",
    ]
    for text in tricky + TEXTS[::7]:
        for pos in range(0, min(len(text), 400), 3):
            found: list[rules.Span] = []
            redactor._entropy_after(text, pos, found.append)
            assert [(s.start, s.end) for s in found] == _entropy_reference(text, pos), (text[:60], pos)


def _segments_reference(text: str) -> list[tuple[int, int]]:
    """Escape segments found with the single trigger regex (the alternation the split trigger replaces)."""
    segments: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while (m := views._ESC_TRIGGER_RX.search(text, pos)) is not None:
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = n if end < 0 else end
        if segments and start - segments[-1][1] <= views._SEGMENT_GAP:
            segments[-1] = (segments[-1][0], end)
        else:
            segments.append((start, end))
        pos = end
    return segments


def test_the_split_escape_trigger_finds_the_segments_of_the_single_trigger_regex() -> None:
    escaped = [
        json.dumps({"a": "x\ny", "b": "/path\\to"}),
        "a%41b\n\n\n\n\n\n\nc&#65;d\n" * 3 + "tail \\u0041",
        "%zz %4 %41\n" + "\n" * 40 + "&#x41; &#12; &#;\n\\q \\n",
        "100% sure, 50%off, %7e",
    ]
    for text in escaped + TEXTS:
        assert views.escape_segments(text) == _segments_reference(text), text[:80]


def test_a_remembered_dictionary_key_is_redacted_exactly_as_a_fresh_one() -> None:
    redactor = Redactor(RedactionConfig(fingerprint_key=b"k" * 32))
    value = {"AKIAQ3EGTX7PLV5ZBN2D": 1, "bucket": "acme-scratch", "alice@example.com": {"alice@example.com": 2}}

    first = redactor.redact_value(value)
    second = redactor.redact_value(value)
    fresh = Redactor(RedactionConfig(fingerprint_key=b"k" * 32)).redact_value(value)

    assert first == second == fresh
    assert "[REDACTED:aws_access_key_id:" in next(iter(first[0]))
    assert first[1] == {"aws_access_key_id": 1, "email": 2}
    assert redactor.redact_value(value, pii=False)[1] == {"aws_access_key_id": 1}  # the pii switch is part of the key


def test_the_remembered_keys_stay_bounded() -> None:
    redactor = Redactor(RedactionConfig())

    for i in range(engine._KEY_CACHE_SIZE + 10):
        redactor.redact_value({f"field_{i}": i})
    redactor.redact_value({"k" * (engine._KEY_CACHE_MAX_LEN + 1): 1})

    assert len(redactor._key_cache) <= engine._KEY_CACHE_SIZE
    assert all(len(key) <= engine._KEY_CACHE_MAX_LEN for key, _pii in redactor._key_cache)
