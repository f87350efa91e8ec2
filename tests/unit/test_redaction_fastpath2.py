"""More of the redaction engine's fast paths change no output: each is compared with the code it replaces (kept as a
``_reference`` function) over the redaction corpora, over filter patterns like the benchmark's and over random texts
made to hit the shortcuts' edges."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from corpora.benign_formats import benign_corpus
from corpora.scorecard import HELD_OUT, TUNING, cases
from corpora.secrets import CUSTOMER_ID_PATTERNS
from mcp_gateway.domain.redaction import RedactionConfig, Redactor, engine, rules, views

#: the benchmark's CloudWatch filter terms, and terms that hold something to find or come close
_TERMS = (
    "?ERROR", "?Timeout", "?Exception", "?WARN", "?ThrottlingException", '?"Task timed out"', "?5xx",
    '?"connection reset"', "?SIGTERM", "?OutOfMemoryError", "?NullPointerException", "?503", "?504",
    "?ReadTimeout", "?deadlock", "?retry",
)  # fmt: skip
_NEAR = (
    '"Tr0ub4dor&3x"',
    "'kX9#mP2vL7q'",
    "`Qm9v7Xz2Lk8Pw3Rt`",
    "/Qm9v7Xz2Lk8Pw3R/",
    '"Qm9v\\"7Xz2Lk8"',
    "'a\\'b\\'cdefgh'",
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "415 555 0134",
    "999",
    "12",
    "AB",
    "AB 12 34 56 C",
    "GB82WEST1234",
    "AB123456C",
    "a",
    "x",
    '"sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"',
    "'AKIA' 'IOSFODNN7EXAMPLE'",
    '""',
    "'+'",
    "DATABASE_URL=Xy9!pwQ7zR",
    "connection_url=Tr0ub4dor&3x",
    "conn",
    "password=hunter2hunter2",
    "token",
    "SK",
    "AKIAIOSFODNN7EXAMPLE",
    "U2VjcmV0UGFzc3dvcmQxMjM0NTY3OA==",
    "QUtJQVEzRUdUWDdQTFY1WkJOMkQ=",
    "cus_4eC39HqLyjWDar",
    "ACME-CUST-1234567",
    "10.1.2.3",
    "fe80::1",
    "123-45-6789",
    "+44 20 7946 0958",
    "(415) 555-0134",
    "İ",
    "\u212a",
    "\u00a0",
    "\\u0041KIA",
    "%41",
    "=3D",
    "\n",
    "\t",
)


def _patterns(seed: int, count: int, near: float) -> list[str]:
    """Filter patterns of about 512 characters, each term a benchmark term or (with probability ``near``) another."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        terms: list[str] = []
        while sum(len(t) + 1 for t in terms) < rng.choice((64, 200, 512, 1500)):
            terms.append(rng.choice(_NEAR) if rng.random() < near else rng.choice(_TERMS))
        out.append(" ".join(terms)[: rng.randrange(480, 520)])
    return out


def _corpus_texts() -> list[str]:
    short = [c.text for c in cases(TUNING + HELD_OUT, per_secret=4)]
    benign = [line for _fmt, line in benign_corpus(seed=7, count=600)]
    joined = ["\n".join(short[i : i + 9]) for i in range(0, len(short), 9)]
    joined += [" ".join(benign[i : i + 12]) for i in range(0, len(benign), 12)]
    return short + benign + joined


CORPUS = _corpus_texts()
PATTERNS = _patterns(1, 400, 0.0) + _patterns(2, 600, 0.1) + _patterns(3, 300, 0.5)
TEXTS = CORPUS + PATTERNS


def test_the_query_literals_of_a_query_without_a_backslash_are_those_of_the_escape_aware_regexes() -> None:
    rng = random.Random(5)
    quoted = ["".join(rng.choice("ab\"'/` \nx\r") for _ in range(rng.randrange(10, 300))) for _ in range(3000)]
    escaped = [t.replace("x", "\\", 1) for t in quoted[:500]]
    plain = 0
    for text in TEXTS + quoted + escaped:
        found = engine._query_literals(text)
        assert found == engine._query_literals_reference(text), text[:80]
        plain += bool(found) and "\\" not in text
    assert plain >= 1000


def test_a_query_literal_holding_a_space_is_never_password_like() -> None:
    values = [t[a:b] for t in TEXTS for a, b in engine._query_literals_reference(t)]
    values += [" ", "Tr0ub4dor &3x", "kX9#m P2vL7q!", "Qm9v7Xz2 Lk8Pw3Rt5"]
    spaced = [v for v in values if " " in v]
    assert len(spaced) >= 300 and not any(rules.looks_password_like(v) for v in spaced)


def test_the_benchmark_filter_patterns_are_redacted_as_queries_exactly_as_before() -> None:
    redactor = Redactor(RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS))
    changed = 0
    for pii in (True, False):
        for text in PATTERNS:
            counts: Counter[str] = Counter()
            out = redactor._redact_query(text, pii, counts)
            spans = redactor._spans(text, pii, 0)
            for start, end in engine._query_literals_reference(text):
                if rules.looks_password_like(text[start:end]):
                    spans.append(rules.Span(start, end, rules.P_ENTROPY, "password", text[start:end]))
            assert (out, dict(counts)) == redactor._render(text, engine._merge(spans), 0, len(text)), text[:80]
            changed += out != text
    assert changed >= 300


# --------------------------------------------------------------------------------------------------
# Texts read token by token (engine._token_facts): compared with the whole-text passes they replace
# --------------------------------------------------------------------------------------------------

#: pieces that make each token condition true and near misses that keep it false, joined by spaces (and not)
_PIECES = (
    "999", "12", "123", "4111", "1111", "0123456789012", "415-555", ".999", "-12", "AB", "GB82", "WEST1234", "AA", "C",
    "AB123456C", "ab12", '"', "'", '"+', "+'", "\t'", "\\'", "|", "&", ".", "x", "a", "1", "(", "=", "conn", "URL",
    "database_url", "dbconn", "connection", "redis_uri", "dsn=", "url", "NullPointerException", "ThrottlingExceptionX",
    "U2VjcmV0UGFzc3dvcmQxMjM0NTY3OA==", "736b5f6c6976655f746573745f34654333", "QUtJQVEzRUdUWDdQTFY1WkJOMkQ=", "===",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret", "SK", "sk", "Sk-", "AKIA", "akia", "token", "password",
    "PASS", "İ", "\u212a", "\u03a3", "\u00a0", "é", "\n", "\r\n", "@", "cus_", "ACME-CUST-", "\u2028",
)  # fmt: skip


def _token_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts: list[str] = []
        while sum(map(len, parts)) < rng.choice((70, 150, 400, 900)):
            piece = rng.choice(_PIECES) if rng.random() < 0.8 else rng.choice(_TERMS)
            parts.append(piece + rng.choice(("", " ", " ", " ", "  ", "\t", "x")))
        out.append("".join(parts))
    return out


TOKEN_TEXTS = TEXTS + _token_texts(8, 3000)


def _lowered_keeps_length(text: str) -> bool:
    return len(text.lower()) == len(text)


def test_no_character_lowers_to_fewer_characters_or_to_a_space_so_equal_lengths_keep_the_tokens_in_place() -> None:
    import sys

    for code in range(sys.maxunicode + 1):
        lowered = chr(code).lower()
        assert len(lowered) >= 1
        assert (" " in lowered) == (code == 32)
    assert not any(" " in lit or "\t" in lit for lit in engine._CI_LITERALS | engine._CS_LITERALS)
    assert all(lit.isascii() for lit in engine._CI_LITERALS | engine._CS_LITERALS)


def _token_read(text: str) -> bool:
    """Whether ``text`` is read token by token once its tokens are described."""
    return (
        engine._PREFILTER_MIN <= len(text) <= engine._TOKEN_TEXT_MAX
        and _lowered_keeps_length(text)
        and text.count(" ") <= engine._TOKEN_MAX_SPACES
        and len(set(text.split(" "))) <= engine._TOKEN_MAX_DISTINCT
    )


def test_the_literals_read_token_by_token_are_those_of_the_automaton_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_TOKEN_LEARN", 10**6)  # every new token described at once: each text read so
    monkeypatch.setattr(engine, "_token_pause", [0, 0])
    monkeypatch.setattr(engine, "_TOKEN_PAUSE_MAX", 0)  # and tried, whatever the text before it
    read_count = 0
    for text in TOKEN_TEXTS:
        lowered = text.lower()
        fast = engine._present(text, lowered)
        reference = engine._present_reference(text, lowered)
        assert (fast.facts is not None) == _token_read(text), text[:80]
        read_count += fast.facts is not None
        assert set(fast.ci) == set(reference.ci) and set(fast.cs) == set(reference.cs), text[:80]
        assert fast.detectors == reference.detectors, text[:80]
    assert read_count >= 2000


def test_a_flag_no_token_raises_proves_its_pass_finds_nothing_and_the_blobs_are_those_of_the_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "_TOKEN_LEARN", 10**6)
    monkeypatch.setattr(engine, "_token_pause", [0, 0])
    monkeypatch.setattr(engine, "_TOKEN_PAUSE_MAX", 0)
    redactor = Redactor(RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS))
    unflagged = Counter[int]()
    flagged = Counter[int]()
    for text in TOKEN_TEXTS:
        read = engine._token_facts(text) if _token_read(text) else None
        if read is None:
            continue
        facts = read[2]
        lowered = text.lower()
        for flag in (engine._TOKEN_DIGITS, engine._TOKEN_CLASS, engine._TOKEN_GLUE, engine._TOKEN_CONN):
            (flagged if facts.flags & flag else unflagged)[flag] += 1
        digits = engine._digit_groups(text)
        class_shape = views.ascii_shape(text, views.CLASS_SHAPE)
        shapes = any(s in class_shape for s in (rules.IBAN_SHAPE, *rules.NINO_SHAPES))
        found: list[rules.Span] = []
        redactor._connection_values(text, lowered, found.append, engine._present_reference(text, lowered))
        if not facts.flags & engine._TOKEN_DIGITS:
            assert not digits, text[:80]
        if not facts.flags & engine._TOKEN_CLASS:
            assert not shapes, text[:80]
        if not facts.flags & engine._TOKEN_GLUE:
            assert views.glue_cuts(text) == [], text[:80]
        if not facts.flags & engine._TOKEN_CONN:
            assert found == [], text[:80]
        shape = views.ascii_shape(text, engine._B64_SHAPE)
        assert engine._token_blobs(text, facts.b64) == list(engine._b64_blobs(text, shape)), text[:80]
    for flag in (engine._TOKEN_DIGITS, engine._TOKEN_CLASS, engine._TOKEN_GLUE, engine._TOKEN_CONN):
        assert flagged[flag] >= 100 and unflagged[flag] >= 100, (flag, flagged, unflagged)


def _redactions(redactor: Redactor, texts: list[str]) -> list[object]:
    out: list[object] = []
    for pii in (True, False):
        for text in texts:
            res = redactor.redact_text(text, pii=pii)
            counts: Counter[str] = Counter()
            query = redactor._redact_query(text, pii, counts)
            out.append((text, res.text, sorted(res.counts.items()), query, sorted(counts.items())))
        params = {"logGroupName": "/aws/lambda/orders-api", "startTime": 1, "limit": 10**13, "filterPattern": texts[0]}
        out.append(redactor.redact_value(params, pii=pii))
    return out


def test_texts_read_token_by_token_are_redacted_exactly_as_texts_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = TOKEN_TEXTS[::2]
    config = RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS, fingerprint_key=b"k" * 32)
    fast = Redactor(config)
    _redactions(fast, texts)  # the tokens described, the blobs' readings remembered
    warm = _redactions(fast, texts)
    monkeypatch.setattr(engine, "_token_pause", [0, 0])
    monkeypatch.setattr(engine, "_TOKEN_PAUSE_MAX", 0)
    taken = sum(engine._token_facts(t) is not None for t in texts if _token_read(t))

    monkeypatch.setattr(engine, "_TOKEN_TEXT_MAX", -1)  # every text read whole
    monkeypatch.setattr(engine, "_INNER_CACHE_MAX_LEN", -1)  # no blob reading remembered across texts
    whole = _redactions(Redactor(config), texts)

    assert taken >= 1000
    assert warm == whole
    assert sum(isinstance(item, tuple) and len(item) == 5 and item[0] != item[1] for item in warm) >= 500


def test_the_remembered_tokens_and_blob_readings_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_TOKEN_LEARN", 100)  # every new token described at once
    rng = random.Random(9)
    redactor = Redactor(RedactionConfig())
    for _ in range(3 * engine._TOKEN_CACHE_SIZE // 8):
        words = [f"w{rng.getrandbits(40):x}" for _ in range(8)] + ["k" * (engine._TOKEN_CACHE_MAX_LEN + 1)]
        blob = "".join(rng.choice("ABCDEFabcdef0123456789") for _ in range(24))
        text = " ".join(words + [blob] * 3)
        redactor.redact_text(text)
    assert len(engine._TOKEN_BLANK) + len(engine._TOKEN_LIVE) <= engine._TOKEN_CACHE_SIZE
    assert all(len(t) <= engine._TOKEN_CACHE_MAX_LEN for t in [*engine._TOKEN_BLANK, *engine._TOKEN_LIVE])
    assert len(redactor._inert_blobs) <= engine._INNER_CACHE_SIZE
    assert len(redactor._inner_best) <= engine._INNER_CACHE_SIZE
    assert all(len(blob) <= engine._INNER_CACHE_MAX_LEN for blob, _pii, _depth in redactor._inert_blobs)


def _int_reference(redactor: Redactor, value: int, pii: bool) -> tuple[object, dict[str, int]]:
    """An integer as the structured step judged every one: a card when its 13 to 19 digits pass the card check."""
    if pii and not isinstance(value, bool) and "credit_card" in redactor._pii_classes:
        digits = str(abs(value))
        if 13 <= len(digits) <= 19 and rules.card_ok(digits):
            return redactor._marker("credit_card", str(value)), {"credit_card": 1}
    return value, {}


def test_an_integer_of_fewer_than_thirteen_digits_passes_as_the_card_check_would_pass_it() -> None:
    redactor = Redactor(RedactionConfig(fingerprint_key=b"k" * 32))
    edges = [10**12 + d for d in range(-3, 4)] + [4222222222222, 4000000000006, 999999999999, 10**13, 0, 1, -1]
    values = edges + [-v for v in edges] + [random.Random(4).randrange(10**20) for _ in range(2000)]
    for pii in (True, False):
        for value in values:
            assert redactor.redact_value(value, pii=pii) == _int_reference(redactor, value, pii), value
            assert redactor.redact_value([value], pii=pii)[1] == _int_reference(redactor, value, pii)[1], value
    assert redactor.redact_value(4222222222222)[1] == {"credit_card": 1}
    assert redactor.redact_value(True) == (True, {})


class _ReferenceDictRedactor(Redactor):
    """The dictionary step as it was: every key's plan and redaction and every item through their methods."""

    def _redact_dict(self, value: dict[Any, Any], pii: bool, counts: Counter[str], depth: int) -> dict[Any, Any]:
        pair_kind: str | None = None
        for name_key in ("name", "Name", "key", "Key", "ParameterName"):
            name = value.get(name_key)
            if isinstance(name, str):
                pair_kind = rules.key_secret_type(name)
                break
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str):
                bookkeeping, kind, connection, query = self._key_plan(key)
            else:
                bookkeeping, kind, connection, query = False, None, False, False
            if bookkeeping and engine._is_bookkeeping(item):
                out[key] = dict(item)
                continue
            if kind is None and pair_kind is not None and key in ("value", "Value"):
                kind = pair_kind
            if kind is not None:
                new_item = self._redact_whole(kind, item, counts)
            elif isinstance(item, str) and connection and rules.bare_connection_password(item.strip()):
                new_item = self._redact_whole("url_password", item, counts)
            elif isinstance(item, str) and query:
                new_item = self._redact_query(item, pii, counts)
            else:
                new_item = self._redact_any(item, pii, counts, depth + 1)
            new_key = key
            if isinstance(key, str):
                key_text, key_counts = self._redact_key(key, pii)
                if key_counts:
                    counts.update(dict(key_counts))
                    new_key = key_text
                    suffix = 2
                    while new_key in out:
                        new_key = f"{key_text}#{suffix}"
                        suffix += 1
            out[new_key] = new_item
        return out


class _Tag(str):
    """A str subclass: never remembered, always scanned."""


def _values(seed: int, count: int) -> list[object]:
    rng = random.Random(seed)
    keys: list[object] = ["logGroupName", "filterPattern", "limit", "password", "DB_PASSWORD", "name", "value"]
    keys += ["Value", "query", "DATABASE_URL", "redactions", "note", "jane@example.com", "AKIAIOSFODNN7EXAMPLE"]
    keys += [_Tag("note"), 7, None]
    leaves: list[object] = [*TEXTS[::7], 1, -5, 10**12 - 1, 10**12, 4222222222222, -4222222222222, 4111111111111111]
    leaves += [True, None, 2.5, b"AKIAIOSFODNN7EXAMPLE", _Tag("plain"), _Tag("jane@example.com"), {"password": 2}]
    leaves += ["DB_PASSWORD", "Xy9!pwQ7zR", "/aws/lambda/orders-api", "k" * 200]

    def build(level: int) -> object:
        if level > 3 or rng.random() < 0.4:
            return rng.choice(leaves)
        if rng.random() < 0.25:
            return [build(level + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(keys): build(level + 1) for _ in range(rng.randrange(1, 6))}

    out = [build(0) for _ in range(count)]
    deep: object = {"limit": 3, "note": "plain"}
    for _ in range(70):
        deep = {"inner": deep, "limit": 5, "text": "jane@example.com"}
    return [*out, deep, [deep]]


def test_the_dictionary_step_redacts_every_value_exactly_as_the_step_through_the_methods() -> None:
    config = RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS, fingerprint_key=b"k" * 32)
    fast, reference = Redactor(config), _ReferenceDictRedactor(config)
    values = _values(6, 600)
    changed = 0
    for _round in range(2):  # the second time with the short values and keys remembered
        for pii in (True, False):
            for value in values:
                expected = reference.redact_value(value, pii=pii)
                got = fast.redact_value(value, pii=pii)
                assert got == expected and [type(k) for k in _keys(got[0])] == [type(k) for k in _keys(expected[0])]
                changed += bool(expected[1])
    assert changed >= 500


def _keys(value: object) -> list[object]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in (key, *_keys(item))]
    if isinstance(value, list | tuple):
        return [k for item in value for k in _keys(item)]
    return []


def test_a_text_not_read_token_by_token_pauses_the_next_tries_longer_for_each_miss_in_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "_token_pause", [0, 0])
    monkeypatch.setattr(engine, "_TOKEN_PAUSE_STEP", 1)
    known = " ".join(["?ERROR", "?WARN"] * 20)
    assert engine._token_facts(known) is not None or engine._token_facts(known) is not None  # described, then read
    many = " ".join(f"t{i}" for i in range(engine._TOKEN_MAX_DISTINCT + 1))
    assert engine._token_facts(many) is None and engine._token_pause == [1, 1]
    assert engine._token_facts(known) is None and engine._token_pause == [0, 1]  # paused: read whole
    assert engine._token_facts(many) is None and engine._token_pause == [2, 2]
    assert engine._token_facts(known) is None and engine._token_facts(known) is None
    assert engine._token_facts(known) is not None and engine._token_pause == [0, 0]  # read: the pause ends
    for _ in range(3 * engine._TOKEN_PAUSE_MAX):
        engine._token_facts(many)
    assert engine._token_pause[0] <= engine._TOKEN_PAUSE_MAX
    assert engine._token_facts(" ".join(["?ERROR"] * (engine._TOKEN_MAX_SPACES + 2))) is None
