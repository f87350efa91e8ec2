"""The multi-pattern matcher the detector and the redaction engine read texts with (domain/matching.py): every
occurrence of every word, overlapping ones included, at character offsets, against a brute-force search."""

from __future__ import annotations

import random

import pytest
from mcp_gateway.domain.detection import DEFAULT_RULES, Detector
from mcp_gateway.domain.matching import WordMatcher


def _every_occurrence(words: list[str], text: str) -> list[tuple[int, str]]:
    found = []
    for word in words:
        start = text.find(word)
        while start >= 0:
            found.append((start + len(word) - 1, word))
            start = text.find(word, start + 1)
    return sorted(found)


def test_every_occurrence_of_every_word_is_found_overlapping_ones_included() -> None:
    rng = random.Random(7)
    alphabet = "abrnv 01\u00e9\u0434\U0001f600"
    checked = overlapping = 0
    for _ in range(400):
        words = list(
            {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 12))}
        )
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        matcher = WordMatcher((word, word) for word in words)
        got = sorted(matcher.iter(text))
        expected = _every_occurrence(words, text)
        assert got == expected, (words, text)
        assert matcher.found_in(text) is bool(expected)
        checked += len(expected)
        ends = [end for end, _ in expected]
        overlapping += len(ends) - len(set(ends))
    assert checked > 2000
    assert overlapping > 20  # words ending at the same character are all reported


def test_the_detectors_keys_are_found_where_a_brute_force_search_finds_them() -> None:
    detector = Detector(DEFAULT_RULES)
    assert detector._automaton is not None
    keys = [key for _, (key, _) in ((0, value) for value in detector._automaton.values())]
    text = "pleasedeletethebucketthenrmrfdroptableforeachbucketignorepreviousinstructions"
    assert sorted((end, key) for end, (key, _) in detector._automaton.iter(text)) == _every_occurrence(keys, text)


def test_a_word_given_twice_keeps_its_last_value() -> None:
    matcher = WordMatcher([("ab", 1), ("ab", 2)])
    assert matcher.iter("xab") == [(2, 2)]
    assert matcher.values() == [2]


@pytest.mark.parametrize("words", [[], [("", 1)], [("a", 1), ("", 2)]])
def test_a_matcher_without_words_or_with_an_empty_word_is_refused(words: list[tuple[str, int]]) -> None:
    with pytest.raises(ValueError):
        WordMatcher(words)
