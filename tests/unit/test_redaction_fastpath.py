"""The redaction engine's fast paths change no output: the literal prefilter (one Aho-Corasick pass instead of many
substring searches), the base64-run shape check, the bounded high-entropy probe and the split escape trigger give
exactly what the plain scan gives, on the corpora and on long texts where the fast paths are taken."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator

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


def _assert_the_prefilter_finds_exactly_the_literals_of(texts: Iterable[str]) -> None:
    for text in texts:
        lowered = text.lower()
        present = engine._present(text, lowered)
        for lit in engine._CI_LITERALS:
            assert (lit in present.ci) == (lit in lowered), (lit, text[:80])
        for lit in engine._CS_LITERALS:
            if len(lowered) == len(text):
                assert (lit in present.cs) == (lit in text), (lit, text[:80])
            elif lit in text:
                assert lit in present.cs  # shifted offsets: a superset, never a miss


def test_the_literal_prefilter_reports_exactly_the_literals_a_substring_search_finds() -> None:
    _assert_the_prefilter_finds_exactly_the_literals_of(TEXTS)


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


# --------------------------------------------------------------------------------------------------
# Shortcuts of issue 21 (the audit copy's redaction within its share of the 1 ms / 20 ms budget): each is compared
# with the path it skips over the corpora and over random texts built to stress its condition both ways.
# --------------------------------------------------------------------------------------------------

_FRAGMENTS = (
    "AKIA", "ASIA", "A3T", "SK", "sk-", "sk-ant-", "sk_live_", "eyJ", "ghp_", "github_pat_", "glpat-", "xox", "xapp-",
    "npm_", "SG.", "AIza", "pypi-AgE", "whsec_", "hooks.slack.com", "x-amz-signature", "X-Amz-Signature=", "Bearer ",
    "bearer\t", "basic ", "password=", "token: ", "auth: ", "conn", "DATABASE_URL=", "://", "@", "filter", '"value": ',
    "name: ", "4111 1111 1111 1111", "4111-1111-1111-1111", "0123 456 789", "020 7946 0958", "415-555-0134",
    "415.555.0134", "1 415 555 0134", "+44 20 7946 0958", "(415) 555-0134", "4111111111111111", "1700000000000",
    "999 999", "12-345", "1.234.5678", "10.1.2.3", "fe80::1", "123-45-6789", "GB82WEST12345698765432", "AB123456C",
    "a b c d e f g h i", "a b c d e f g", " x x x x x x x ", "T r 0 u b 4 d o r &", '"sk_live_" + "abc"', "'AKIA' 'X'",
    "%41", "\\u0041", "&#65;", "=3D", "-----BEGIN RSA PRIVATE KEY-----", "U2VjcmV0UGFzc3dvcmQxMjM0NTY3OA==",
    "QUtJQVEzRUdUWDdQTFY1WkJOMkQ=", "=" * 3, "==", "736b5f6c6976655f", "\u00a0", "\u0130", "\u212a", "é", "\x02",
    "\t", "\n", "\r\n", "`Tr0ub4dor&3x`", "'kX9#mP2vL7q'", "/Qm9v7Xz2Lk8Pw3R/", '"Qm9v\\"7Xz2Lk8"', "a/b/", "//",
)  # fmt: skip
_ALPHABETS = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "0123456789 -.",
    "0123456789 ()+-.x",
    "x ",
    "ab ",
    "Ab1+/=",
    "\"'/`\\ab \n",
    "abcdefghijklmnopqrstuvwxyz :_-./",
)


def _stress_texts(seed: int, count: int) -> list[str]:
    """Random texts of fragments that make the shortcuts' conditions true and of near misses that keep them false."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        size = rng.choice((8, 40, 63, 64, 65, 200, 700, 3000))
        alphabet = rng.choice(_ALPHABETS)
        parts: list[str] = []
        while sum(map(len, parts)) < size:
            if rng.random() < 0.25:
                parts.append(rng.choice(_FRAGMENTS))
            else:
                parts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))))
        out.append("".join(parts))
    return out


STRESS = _stress_texts(21, 2500)
ALL_TEXTS = TEXTS + STRESS


def test_the_simple_detectors_chosen_by_the_prefilter_are_those_its_literals_gate_and_the_others_find_nothing() -> None:
    chosen_some = skipped_some = 0
    for text in ALL_TEXTS:
        lowered = text.lower()
        present = engine._present(text, lowered)
        long = len(lowered) >= engine._PREFILTER_MIN
        expected = tuple(
            det
            for det in rules.SIMPLE_DETECTORS
            if (
                any(lit in present.ci for lit in det.literals)
                if det.lowered
                else any(lit in present.cs for lit in det.literals) or not long
            )
        )
        assert present.detectors is not None
        assert set(present.detectors) <= set(expected), text[:80]
        assert list(present.detectors) == [det for det in expected if det in present.detectors]  # table order
        for det in rules.SIMPLE_DETECTORS:
            if det not in present.detectors:
                skipped_some += 1
                assert list(det.regex.finditer(text)) == [], (det.kind, text[:80])
            elif list(det.regex.finditer(text)):
                chosen_some += 1
    assert chosen_some >= 300
    assert skipped_some >= 10_000


def test_the_literal_prefilter_is_exact_on_random_texts_of_overlapping_literals() -> None:
    _assert_the_prefilter_finds_exactly_the_literals_of(STRESS)


def test_the_automaton_holds_every_literal_once() -> None:
    words = sorted(word for word, *_rest in engine._AUTOMATON.values())
    assert words == sorted({lit for lit in engine._CI_LITERALS} | {lit.lower() for lit in engine._CS_LITERALS})


def test_the_digit_group_check_is_false_only_where_the_digit_pattern_finds_nothing() -> None:
    skipped = taken = 0
    for text in ALL_TEXTS:
        matches = list(rules.DIGITS_RX.finditer(text))
        if not engine._digit_groups(text):
            skipped += 1
            assert matches == [], text[:80]
        elif matches:
            taken += 1
    digit_heavy = [t for t in STRESS if sum(c.isdigit() for c in t) * 3 > len(t)]
    assert skipped >= 1000 and taken >= 300
    assert sum(not engine._digit_groups(t) for t in digit_heavy) >= 20  # false on texts full of digits too


def _glue_cuts_reference(text: str) -> list[tuple[int, int]]:
    """glue_cuts as it was before the quote and spaced-run checks: every regex over every text."""
    cuts = [m.span() for rx in views.CONCAT_RXS for m in rx.finditer(text)]
    if cuts and "(" in text:
        cuts.extend(m.span(1) for m in views.OPEN_PAREN_RX.finditer(text))
    shape = views.ascii_shape(text, views._SPACE_SHAPE)
    runs = []
    pos = shape.find(views._SPACED_MIN)
    while pos >= 0:
        if pos > 0 and shape[pos - 1] == 120:
            pos = shape.find(views._SPACED_MIN, pos + 1)
            continue
        m = views.SPACED_RX.match(text, pos)
        end = m.end() if m is not None else pos + 1
        if m is not None:
            runs.append((pos, end))
        pos = shape.find(views._SPACED_MIN, end)
    for start, end in runs:
        cuts.extend((i, i + 1) for i in range(start + 1, end, 2))
    cuts.sort()
    return cuts


def test_the_glue_cuts_with_the_quote_and_spaced_run_checks_are_those_of_every_regex_over_every_text() -> None:
    spaced_skipped = spaced_taken = 0
    for text in ALL_TEXTS:
        assert views.glue_cuts(text) == _glue_cuts_reference(text), text[:80]
        shape = views.ascii_shape(text, views._SPACE_SHAPE)
        if not views.spaced_candidates(text):
            spaced_skipped += len(text) >= views._SPACED_CHECK_MIN  # where the check is made
            assert views._SPACED_MIN not in shape
        elif views.spaced_runs(text) and len(text) >= views._SPACED_CHECK_MIN:
            spaced_taken += 1
    assert spaced_skipped >= 30 and spaced_taken >= 30


def _b64_reference(text: str) -> list[tuple[int, int]]:
    first = rules.B64_AT_START_RX.match(text)
    return [m.span(1) for m in ([first] if first is not None else []) + list(rules.B64_RX.finditer(text))]


def test_the_base64_blobs_read_off_the_shape_are_the_matches_of_the_base64_patterns() -> None:
    import random

    rng = random.Random(64)
    padded = ["".join(rng.choice("Ab+/" if rng.random() < 0.9 else "= \n.é") for _ in range(80)) for _ in range(2000)]
    found = 0
    for text in ALL_TEXTS + padded:
        expected = _b64_reference(text)
        found += len(expected)
        assert list(engine._b64_blobs(text, views.ascii_shape(text, engine._B64_SHAPE))) == expected, text[:80]
    assert found >= 2000
    assert any(text.count("=") >= 3 and _b64_reference(text) for text in padded)


def test_a_base64_run_longer_than_the_pattern_takes_is_no_blob_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_B64_MAX_RUN", 30)  # the pattern's bound, scaled down
    short_rx = re.compile(r"[^A-Za-z0-9+/]([A-Za-z0-9+/]{20,30}+={0,2})(?![A-Za-z0-9+/=])", re.ASCII)
    for text in [" " + "Ab" * 12 + " ", " " + "Ab" * 15 + "= ", " " + "Ab" * 16 + " ", " " + "A" * 31 + "== x"]:
        shape = views.ascii_shape(text, engine._B64_SHAPE)
        assert list(engine._b64_blobs(text, shape)) == [m.span(1) for m in short_rx.finditer(text)]


def test_the_query_literals_found_one_alternative_at_a_time_are_those_of_the_alternation() -> None:
    import random

    rng = random.Random(66)
    quoted = ["".join(rng.choice("ab\"'/`\\ \nx") for _ in range(rng.randrange(10, 200))) for _ in range(3000)]
    found = {False: 0, True: 0}  # literals found in texts with one kind of opening character, with several
    for text in ALL_TEXTS + quoted:
        expected = []
        for m in engine.QUERY_LITERAL_RX.finditer(text):
            group = next(g for g in range(1, 5) if m.group(g) is not None)
            expected.append(m.span(group))
        found[sum(first in text for first, _rx in engine._QUERY_LITERAL_PARTS) > 1] += len(expected)
        assert engine._query_literals(text) == expected, text[:80]
    assert found[False] >= 300 and found[True] >= 1000


def test_a_short_value_in_which_nothing_was_found_is_remembered_and_redacted_as_a_fresh_one() -> None:
    config = RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS, fingerprint_key=b"k" * 32)
    redactor = Redactor(config)
    values = [t for t in ALL_TEXTS if len(t) <= engine._CLEAN_CACHE_MAX_LEN][:3000]
    assert len(values) >= 1000
    for pii in (True, False):
        first = [redactor.redact_value(v, pii=pii) for v in values]
        second = [redactor.redact_value(v, pii=pii) for v in values]
        fresh = Redactor(config)
        plain = [(fresh.redact_text(v, pii=pii).text, fresh.redact_text(v, pii=pii).counts) for v in values]
        assert first == second == plain
    fresh = Redactor(config)
    assert len(redactor._clean_cache) >= 500
    assert not any(fresh.redact_text(text, pii=pii).changed for text, pii in redactor._clean_cache)
    assert sum(fresh.redact_text(v).changed for v in values) >= 200  # and those are never remembered
    assert ("AKIAQ3EGTX7PLV5ZBN2D", True) not in redactor._clean_cache
    assert redactor.redact_value("AKIAQ3EGTX7PLV5ZBN2D")[1] == {"aws_access_key_id": 1}


def test_the_remembered_clean_values_and_key_plans_stay_bounded_and_skip_str_subclasses() -> None:
    class Tagged(str):
        pass

    redactor = Redactor(RedactionConfig())
    for i in range(engine._CLEAN_CACHE_SIZE + 10):
        redactor.redact_value({f"k{i}": f"plain value {i}"})
    redactor.redact_value("v" * (engine._CLEAN_CACHE_MAX_LEN + 1))
    tagged = Tagged("plain value 1")
    out, _counts = redactor.redact_value({Tagged("note"): tagged})

    assert len(redactor._clean_cache) <= engine._CLEAN_CACHE_SIZE
    assert len(redactor._plans) <= engine._KEY_CACHE_SIZE
    assert all(len(text) <= engine._CLEAN_CACHE_MAX_LEN for text, _pii in redactor._clean_cache)
    assert type(next(iter(out.values()))) is str  # a subclass value comes back as the plain str the scan makes
    assert all(type(key) is str for key in redactor._plans)


def test_a_remembered_key_plan_is_what_the_key_functions_say() -> None:
    redactor = Redactor(RedactionConfig())
    keys = ["password", "DB_PASSWORD", "NextToken", "DATABASE_URL", "redisUri", "query", "filterPattern", "Q",
            "redactions", "Redaction_Counts", "auth", "x-api-key", "k" * 129, "name", ""]  # fmt: skip
    keys += [t[:40] for t in ALL_TEXTS[::10]]
    for _round in range(2):
        for key in keys:
            assert redactor._key_plan(key) == (
                key.lower() in engine._BOOKKEEPING_KEYS,
                rules.key_secret_type(key),
                rules.is_connection_key(key),
                engine._QUERY_KEY_RX.fullmatch(key) is not None,
            ), key


def _unicode_samples() -> list[str]:
    import random
    import sys

    rng = random.Random(17)
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    cased = "AaZz09İıſK\u01c5\u01c6\u2160\u2170٣²ǅ𝐀𝐚ß"
    pool = spaces + list(cased) + list("!@#$%^&*?~+=<>|;:,(){}[]-_./\\'\"`") + ["é", "\x00", "\u200b"]
    out = ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 24))) for _ in range(4000)]
    out += ["Tr0ub4dor" + s + "3x" for s in spaces] + ["kX9#mP2vL7q" + c for c in cased]
    return out


def test_the_whitespace_and_character_class_checks_equal_the_per_character_ones() -> None:
    spaced = 0
    for value in _unicode_samples() + ALL_TEXTS[::3]:
        expected = any(c.isspace() for c in value)
        spaced += expected
        assert rules.has_space(value) == expected, repr(value)
        assert rules._char_classes(value) == (
            any(c.isupper() for c in value),
            any(c.islower() for c in value),
            any(c.isdigit() for c in value),
        ), repr(value)
    assert spaced >= 1000


def _password_like_reference(value: str) -> bool:
    """looks_password_like as it was, one character at a time."""
    import math

    n = len(value)
    if not 8 <= n <= 256 or any(c.isspace() for c in value) or rules._UUID_RX.fullmatch(value):
        return False
    if (
        rules._HEX_RX.fullmatch(value)
        or value.count("/") >= 2
        or value.count(":") >= 2
        or value.startswith(("arn:", "$"))
    ):
        return False
    upper = any(c.isupper() for c in value)
    lower = any(c.islower() for c in value)
    digit = any(c.isdigit() for c in value)
    symbol = any(c in rules._PW_SYMBOLS for c in value)
    if not ((upper and lower and digit) or ((upper or lower) and digit and symbol)):
        return False
    wordy = sum(len(p) for p in rules._PIECE_SPLIT_RX.split(value) if rules._WORD_PIECE_RX.fullmatch(p))
    if wordy * 2 >= n:
        return False
    return rules.shannon_entropy(value) >= min(3.0, 0.85 * math.log2(n))


def test_the_password_shape_check_judges_every_value_as_the_per_character_one() -> None:
    values = _unicode_samples() + [w for t in ALL_TEXTS[::2] for w in re.split(r"[\s\"'`]+", t)]
    values += [t[i : i + 12] for t in STRESS[::5] for i in range(0, len(t), 7)]
    verdicts = [rules.looks_password_like(v) for v in values]
    assert verdicts == [_password_like_reference(v) for v in values]
    assert sum(verdicts) >= 300 and verdicts.count(False) >= 3000


class _PlainBase64Redactor(Redactor):
    """The base64 step as it was: every candidate by the two regexes, every blob decoded and scanned each time."""

    def _base64_runs(
        self, text: str, pii: bool, depth: int, add: Callable[[rules.Span], None], facts: object = None
    ) -> None:
        """Ignores ``facts`` (the tokens holding blobs): every text is searched by the reference regexes."""
        decode = depth < rules.MAX_DEPTH
        for start, end in _b64_reference(text):
            blob = text[start:end]
            if len(blob) == 40:
                self._aws_secret_candidate(text, start, blob, add)
            if decode and (blob[0].isdigit() or blob[0] in "abcdefABCDEF") and blob[1] in engine._HEX_SECOND:
                self._hex_run(start, blob, pii, depth, add)
            if not decode or blob.islower() or blob.isupper() or blob.isdigit():
                continue
            inner_text = views.b64_text(blob)
            if inner_text is None:
                continue
            inner = self._spans(inner_text, pii, depth + 1)
            if inner:
                best = max(inner, key=lambda s: (s.prio, s.end - s.start))
                add(rules.Span(start, end, best.prio, best.kind, best.value))


def test_the_base64_step_redacts_repeated_and_single_blobs_as_the_plain_step_does() -> None:
    import base64

    blobs = [
        base64.b64encode(s.encode()).decode() for s in ("password=Xy9!kLm2#pQ", "AKIAQ3EGTX7PLV5ZBN2D", "hello there")
    ]
    blobs += ["NullPointerException", "ThrottlingExceptionX", "736b5f6c6976655f746573745f34654333"]
    repeated = [f"?{a} x {b} ?{a}\n{a}" for a in blobs for b in blobs] + [" ".join(blobs * 3)]
    config = RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS)
    fast, plain = Redactor(config), _PlainBase64Redactor(config)
    changed = 0
    for text in repeated + TEXTS[::2] + STRESS[::2]:
        for pii in (True, False):
            expected = plain.redact_text(text, pii=pii)
            changed += expected.changed
            assert fast.redact_text(text, pii=pii) == expected, text[:80]
    assert changed >= 500
    assert fast.redact_text(repeated[0]).counts == {"password": 4}  # four occurrences, each redacted


def test_an_integer_is_judged_a_card_exactly_when_its_digits_are_one() -> None:
    redactor = Redactor(RedactionConfig())
    numbers = [4111111111111111, -4111111111111111, 378282246310005, 4222222222222, 6011111111111117, 10**12, 10**19]
    numbers += [4111111111111111 * 10**k for k in range(4)] + [n + d for n in (10**12, 10**18) for d in range(-3, 4)]
    numbers += [True, False, 0, 7, -1, 2**64, 2**70, 5105105105105100, 5105105105105106]
    for number in numbers:
        is_card = not isinstance(number, bool) and rules.card_ok(str(abs(number)))
        out, counts = redactor.redact_value(number)
        assert (counts == {"credit_card": 1}) == is_card, number
        assert (out == "[REDACTED:credit_card]") == is_card and (is_card or out is number)
    assert sum(rules.card_ok(str(abs(n))) for n in numbers if not isinstance(n, bool)) >= 5


def test_a_value_read_to_its_stop_character_ends_where_the_value_patterns_end() -> None:
    long_line = "Bearer " + "x" * 5000 + "\n" + "y" * 10
    texts = [long_line, "a'b\"c\rd\ne", "x" * 4096 + "'", "x" * 4095 + "\n", *ALL_TEXTS[::4]]
    stopped = capped = 0
    for text in texts:
        for start in range(0, len(text), max(1, len(text) // 40)):
            header = engine._run_end(text, start, engine._HEADER_STOPS)
            eol = engine._run_end(text, start, engine._EOL_STOPS)
            assert header == rules.HEADER_VALUE_RX.match(text, start).end()  # type: ignore[union-attr]
            assert eol == rules.EOL_VALUE_RX.match(text, start).end()  # type: ignore[union-attr]
            stopped += header < len(text) and text[header] in "\r\n\"'"
            capped += header == start + 4096
    assert stopped >= 1000 and capped >= 5


def test_the_high_entropy_probe_with_the_candidate_shape_finds_what_the_whole_window_scan_finds() -> None:
    redactor = Redactor(RedactionConfig())
    skipped = probed = 0
    for text in TEXTS[::7] + STRESS[::3]:
        shape = views.ascii_shape(text, engine._HE_SHAPE)
        for pos in range(0, min(len(text), 400), 3):
            found: list[rules.Span] = []
            redactor._entropy_after(text, pos, found.append, shape)
            assert [(s.start, s.end) for s in found] == _entropy_reference(text, pos), (text[:60], pos)
            if shape.find(engine._HE_RUN, pos, min(len(text), pos + rules.HE_WINDOW + rules.HE_MIN)) < 0:
                skipped += 1
            elif found:
                probed += 1
    assert skipped >= 3000 and probed >= 300


def test_a_group_of_literals_is_present_by_the_set_check_exactly_when_one_of_them_is() -> None:
    groups = [engine._CONN_KEY_SET, engine._KEYWORD_SET, engine._PHONE_KEYWORD_SET, engine._PII_ANCHOR_SET]
    seen = {False: 0, True: 0}
    for text in ALL_TEXTS:
        lowered = text.lower()
        present = engine._present(text, lowered)
        for group in groups:
            expected = any(lit in lowered for lit in group)
            seen[expected] += 1
            assert engine._any_present(present.ci, group) == expected, (sorted(group), text[:80])
    assert seen[False] >= 1000 and seen[True] >= 1000


def test_the_escape_segments_are_those_of_the_single_trigger_regex_on_stress_texts_too() -> None:
    entities = [t for t in STRESS if "&" in t]
    assert sum("&#" in t for t in entities) >= 50 and sum("&#" not in t for t in entities) >= 5
    for text in [*STRESS, "a & b " * 2000 + "&#65;", "a & b " * 2000]:
        assert views.escape_segments(text) == _segments_reference(text), text[:80]


def test_a_text_that_lowering_leaves_unchanged_holds_no_iban_or_nino_shape_so_its_shape_is_not_made() -> None:
    shapes = (rules.IBAN_SHAPE, *rules.NINO_SHAPES)
    unchanged = with_shape = 0
    for text in ALL_TEXTS + [t.lower() for t in ALL_TEXTS[::3]]:
        found = any(s in views.ascii_shape(text, views.CLASS_SHAPE) for s in shapes)
        if text.lower() == text:
            unchanged += 1
            assert not found, text[:80]
        else:
            with_shape += found
    assert unchanged >= 1000 and with_shape >= 100


def test_the_concatenation_gate_fails_only_where_the_concatenation_pattern_finds_nothing() -> None:
    glued = [
        f"{a}{q}sk_live_{q}{op}{q}4eC39HqLyjWDarjtT1zdp7dc{q}{b}"
        for q in views.CONCAT_QUOTES
        for op in ("", " ", " + ", " . ", " || ", " & ", " \\\n  ", "\n    ", " +\r\n\t", " - ", " , ", " * ")
        for a, b in (("x = ", ";"), ("", ""), ("(", ")"))
    ]
    skipped = matched = 0
    for text in ALL_TEXTS + glued:
        for q, gate, rx in zip(views.CONCAT_QUOTES, views._CONCAT_GATES, views.CONCAT_RXS, strict=True):
            matches = list(rx.finditer(text))
            if gate.search(text) is None:
                skipped += q in text
                assert matches == [], text[:80]
            elif matches:
                matched += 1
    assert skipped >= 500 and matched >= 100
    for text in glued:
        assert views.glue_cuts(text) == _glue_cuts_reference(text), text
    assert sum(bool(views.glue_cuts(text)) for text in glued) == 2 * 3 * 9  # every operator but -, and *


def test_skipping_the_identifier_shape_of_a_text_without_capitals_redacts_as_making_it_always(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = ALL_TEXTS[::2] + [t.lower() for t in ALL_TEXTS[::6]] + ["iban gb82 west 1234 5698 7654 32", "ab123456c"]
    texts += ["IBAN GB82WEST12345698765432 and NINO AB123456C", "gb82west12345698765432 ab 12 34 56 c"]
    redactor = Redactor(RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS))
    fast = [redactor.redact_text(t) for t in texts]
    monkeypatch.setattr(engine, "_no_capitals", lambda text, lowered: False)
    plain = [redactor.redact_text(t) for t in texts]
    assert fast == plain
    assert sum(r.counts.get("iban", 0) + r.counts.get("uk_nino", 0) for r in plain) >= 20


def _render_reference(redactor: Redactor, text: str, spans: list[rules.Span], lo: int, hi: int) -> tuple[str, dict]:
    """_render as it was, counting with a Counter."""
    from collections import Counter

    parts: list[str] = []
    counts: Counter[str] = Counter()
    pos = lo
    for sp in spans:
        start, end = max(sp.start, lo), min(sp.end, hi)
        if end <= start:
            if sp.start >= hi:
                break
            continue
        if start > pos:
            parts.append(text[pos:start])
        parts.append(redactor._marker(sp.kind, sp.value))
        breaks = text.count("\n", start, end)
        if breaks:
            parts.append(("\r\n" if text.find("\r\n", start, end) >= 0 else "\n") * breaks)
        counts[sp.kind] += 1
        pos = end
    if pos < hi:
        parts.append(text[pos:hi])
    return "".join(parts), dict(counts)


def test_the_rendering_counts_in_a_plain_dict_exactly_as_with_a_counter() -> None:
    redactor = Redactor(RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS, fingerprint_key=b"k" * 32))
    rendered = 0
    for text in TEXTS[::3] + STRESS[::4]:
        spans = engine._merge(redactor._spans(text, True, 0))
        for lo, hi in ((0, len(text)), (len(text) // 3, len(text) - len(text) // 4)):
            out = redactor._render(text, spans, lo, hi)
            assert out == _render_reference(redactor, text, spans, lo, hi)
            assert list(out[1]) == list(_render_reference(redactor, text, spans, lo, hi)[1])  # same order
            rendered += len(out[1]) > 1
    assert rendered >= 100
