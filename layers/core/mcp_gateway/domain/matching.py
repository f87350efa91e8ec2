"""Every occurrence of a fixed set of words in a text, in one multi-pattern pass (Aho-Corasick).

The detector (its keys, and its keys cut in two for the junction checks) and the redaction engine (its literals)
read texts this way. The matcher is ahocorasick-rs (the Rust ``aho-corasick`` crate), about three times faster per
character than pyahocorasick on the detector's keys: at 64 KB of arguments the detector's three passes and the
redaction's one were a third of the decision's time. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

import ahocorasick_rs

V = TypeVar("V")


class WordMatcher(Generic[V]):
    """Words, each with a value (a word given twice keeps its last value). :meth:`iter` gives every occurrence of
    every word, overlapping ones included, as ``(index of its last character, value)``, the index counted in
    characters of the text (what pyahocorasick's ``Automaton.iter`` gives)."""

    __slots__ = ("_matcher", "_values")

    def __init__(self, words: Iterable[tuple[str, V]]) -> None:
        pairs = dict(words)
        if not pairs or "" in pairs:
            raise ValueError("a matcher needs at least one word, and no empty one")
        self._values = list(pairs.values())
        self._matcher = ahocorasick_rs.AhoCorasick(list(pairs), matchkind=ahocorasick_rs.MatchKind.Standard)

    def iter(self, text: str) -> list[tuple[int, V]]:
        values = self._values
        return [(end - 1, values[index]) for index, _, end in self._matcher.find_matches_as_indexes(text, True)]

    def values(self) -> list[V]:
        """The words' values, one per word."""
        return list(self._values)

    def found_in(self, text: str) -> bool:
        """Whether any word occurs in ``text``."""
        return bool(self._matcher.find_matches_as_indexes(text))
