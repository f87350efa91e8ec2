"""More of the redaction engine's fast paths change no output: each is compared with the code it replaces (kept as a
``_reference`` function) over the redaction corpora, over filter patterns like the benchmark's and over random texts
made to hit the shortcuts' edges."""

from __future__ import annotations

import random
from collections import Counter

from corpora.benign_formats import benign_corpus
from corpora.scorecard import HELD_OUT, TUNING, cases
from corpora.secrets import CUSTOMER_ID_PATTERNS
from mcp_gateway.domain.redaction import RedactionConfig, Redactor, engine, rules

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
