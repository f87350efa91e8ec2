"""The redaction engine on the shared corpora: no leaks in any syntax or encoding, few false positives."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from corpora.benign_text import benign_lines
from corpora.secrets import (
    CUSTOMER_ID_PATTERNS,
    FakeSecret,
    decoded_forms,
    embed,
    generate_secrets,
    leaks,
    raw_substrings,
)
from mcp_gateway.domain.redaction import RedactionConfig, Redactor

SECRETS = generate_secrets()
BY_KIND: dict[str, list[FakeSecret]] = defaultdict(list)
for _secret in SECRETS:
    BY_KIND[_secret.kind].append(_secret)

# Syntaxes where the reported type must be the secret's own type. Elsewhere a wider detection may win
# legitimately (a password inside a URL is a ``url_password``; a token under ``Authorization`` may be
# reported as ``authorization``); the leak check still applies everywhere.
TYPED_SYNTAXES = frozenset({"json", "json_pretty", "yaml", "ini", "env", "log_line", "raw_file", "base64_wrapped"})


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS))


def test_the_secret_corpus_is_large_varied_and_deterministic() -> None:
    kinds = Counter(s.kind for s in SECRETS)

    print(f"\nsecret corpus: {len(SECRETS)} secrets, {len(kinds)} types: {dict(sorted(kinds.items()))}")
    assert len(SECRETS) >= 300
    assert len(kinds) >= 15
    assert len([k for k in kinds if not BY_KIND[k][0].pii]) >= 15  # secrets alone, PII aside
    assert generate_secrets() == SECRETS
    assert generate_secrets(seed=2) != SECRETS
    assert [embed(s) for s in SECRETS[:20]] == [embed(s) for s in generate_secrets()[:20]]


def test_every_embedding_of_every_secret_fails_the_leak_check_before_redaction() -> None:
    """The acceptance rule cannot pass trivially: unredacted text, encoded or not, always leaks."""
    missing = [(s.kind, syntax) for s in SECRETS for syntax, text in embed(s) if not leaks(s, text)]

    assert missing == []


def test_the_leak_check_looks_at_the_value_not_at_the_key_name() -> None:
    secret = next(s for s in SECRETS if s.kind == "password")

    windows = raw_substrings(secret)

    assert windows and all(w in secret.value for w in windows)
    assert leaks(secret, f"{secret.key}=[REDACTED:password]") == []
    assert leaks(secret, f"{secret.key}={secret.value[:7]}...") == []  # 7 characters are not a leak
    assert leaks(secret, f"x {secret.value[2:10]} y") != []  # any 8 are


@pytest.mark.parametrize("kind", sorted(BY_KIND))
def test_no_secret_substring_survives_redaction_in_any_syntax_or_encoding(redactor: Redactor, kind: str) -> None:
    leaked: list[tuple[str, list[str]]] = []
    untyped: list[tuple[str, dict[str, int]]] = []
    for secret in BY_KIND[kind]:
        for syntax, text in embed(secret):
            result = redactor.redact_text(text)
            found = leaks(secret, result.text)
            if found:
                leaked.append((syntax, found[:3]))
            elif syntax in TYPED_SYNTAXES and kind not in result.counts:
                untyped.append((syntax, result.counts))

    assert leaked == []
    assert untyped == []


def test_the_whole_corpus_leaks_nothing_and_reports_the_figures(redactor: Redactor) -> None:
    texts = 0
    leaked = 0
    for secret in SECRETS:
        for _syntax, text in embed(secret):
            texts += 1
            leaked += bool(leaks(secret, redactor.redact_text(text).text))

    print(f"\nleak check: {texts} embedded texts, {leaked} with a surviving 8-character substring")
    assert leaked == 0


def test_the_corpus_streamed_in_odd_chunks_leaks_nothing(redactor: Redactor) -> None:
    pairs = [(s, text) for s in SECRETS[::3] for _syntax, text in embed(s)[:4]]
    document = "\n".join(text for _s, text in pairs)
    chunks = [document[i : i + 4_099] for i in range(0, len(document), 4_099)]

    streamed = "".join(r.text for r in redactor.redact_stream(chunks))

    assert leaking_kinds([s for s, _t in pairs], streamed) == []


def leaking_kinds(secrets: list[FakeSecret], text: str) -> list[str]:
    """``[s.kind for s in secrets if leaks(s, text)]`` for one long text, without decoding it once per secret nor
    scanning it once per window: the decoded forms are made once, and a window of length L is in a form exactly
    when it is one of the form's L-character substrings (a set per form and length). Checked against ``leaks``
    itself by test_leaking_kinds_finds_what_leaks_finds."""
    forms = decoded_forms(text)
    grams: dict[int, set[str]] = {}

    def found(window: str) -> bool:
        n = len(window)
        if n not in grams:
            grams[n] = {form[i : i + n] for form in forms for i in range(len(form) - n + 1)}
        return window in grams[n]

    return [s.kind for s in secrets if any(found(w) for w in raw_substrings(s))]


def test_leaking_kinds_finds_what_leaks_finds() -> None:
    """The fast check above agrees with ``leaks`` on texts holding some secrets whole, some encoded, some cut."""
    secrets = SECRETS[::7]
    texts = []
    for i, secret in enumerate(secrets):
        embedded = embed(secret)[i % len(embed(secret))][1]
        texts.append(embedded if i % 3 else embedded[: len(embedded) // 2])
    for text in ("\n".join(texts[::2]), "\n".join(texts[1::2]), "no secret here"):
        assert leaking_kinds(secrets, text) == [s.kind for s in secrets if leaks(s, text)]


def test_the_false_positive_rate_on_benign_log_lines_is_below_two_percent(redactor: Redactor) -> None:
    """The benign corpus holds no PII on purpose (see its docstring), so PII detectors firing on it would
    be false positives too: the rate is measured with ``pii=True`` (strict) and reported for both."""
    lines = benign_lines()
    assert len(lines) >= 1000

    rates = {}
    for pii in (True, False):
        changed = [line for line in lines if redactor.redact_text(line, pii=pii).changed]
        rates[pii] = len(changed) / len(lines)
        for line in changed[:5]:
            print(f"  false positive (pii={pii}): {line[:160]}")
    print(
        f"\nbenign corpus: {len(lines)} lines, false-positive rate "
        f"{rates[True]:.2%} (pii on), {rates[False]:.2%} (pii off)"
    )

    assert rates[True] < 0.02
    assert rates[False] < 0.02


def test_the_benign_corpus_is_deterministic() -> None:
    assert benign_lines() == benign_lines()
    assert benign_lines(seed=8) != benign_lines()
