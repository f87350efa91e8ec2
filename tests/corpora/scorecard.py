"""The redaction scorecard: per class, how many planted secrets came back raw and how many texts were mangled.

A *case* is one planted secret written in one syntax or encoding (see :func:`corpora.secrets.embed`). The
corpus is generated with its own seed and split in two with a fixed seed (:func:`corpora.benign_formats.split`):
the *tuning* part may be looked at while improving the redactor, the *held-out* part only ever feeds the
figures (unit scorecard and end-to-end scorecard).

* **recovered raw**: some 8-character window of the secret (or of a decoded form of the output, see
  :func:`corpora.secrets.leaks`) survives in a sink;
* **over-redacted**: the output lost structure or non-secret content: a different line count, a line that
  held no secret material changed, or the label (key name) of the line holding the secret disappeared.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .benign_formats import benign_corpus, split
from .secrets import FakeSecret, decoded_forms, embed, generate_secrets, leaks

__all__ = ["HELD_OUT", "TUNING", "Case", "Scorecard", "benign_split", "cases", "over_redacted"]

SCORECARD_SEED = 1919
BENIGN_SEED = 2019
PER_TYPE = 28

TUNING, HELD_OUT = split(generate_secrets(seed=SCORECARD_SEED, per_type=PER_TYPE), seed=SCORECARD_SEED)


def benign_split() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(tuning, held-out) benign ``(format, line)`` pairs."""
    # its own seed: the same random stream as the secrets would plant their bytes (a JWT signature's) in it
    return split(benign_corpus(seed=BENIGN_SEED, count=2400), seed=SCORECARD_SEED)


@dataclass(frozen=True)
class Case:
    id: int
    secret: FakeSecret
    syntax: str
    text: str


def cases(secrets: Iterable[FakeSecret], per_secret: int | None = None) -> list[Case]:
    """Every embedding of every secret, or ``per_secret`` of them chosen in rotation (so that across the corpus
    each syntax and encoding is still planted for every class)."""
    out: list[Case] = []
    for i, secret in enumerate(secrets):
        embeddings = embed(secret)
        if per_secret is not None and per_secret < len(embeddings):
            embeddings = [embeddings[(i * per_secret + k) % len(embeddings)] for k in range(per_secret)]
        for syntax, text in embeddings:
            out.append(Case(len(out), secret, syntax, text))
    return out


def _labels(secret: FakeSecret, line: str) -> list[str]:
    key = secret.key
    env = re.sub(r"[^A-Za-z0-9]", "_", re.sub(r"([a-z])([A-Z])", r"\1_\2", key)).upper()
    return [
        label for label in {key, env, env.lower(), env.lower().replace("_", "-")} if len(label) >= 3 and label in line
    ]


_PIECES = re.compile(r"[^\s\"',()<>]*[A-Za-z0-9][^\s\"',()<>]*")


def _is_secret_material(secret: FakeSecret, piece: str) -> bool:
    """The piece is (or holds) part of the secret, raw or encoded: it may change."""
    if piece in secret.value or leaks(secret, piece) or any(form in secret.value for form in decoded_forms(piece)):
        return True
    return any(piece[i : i + 6] in secret.value for i in range(len(piece) - 5))


def over_redacted(case: Case, output: str) -> bool:
    """Did redaction take more than the secret? A different line count, a non-secret piece of a line (a word,
    a value, a label) missing from its line afterwards, or the key name of the line holding the secret gone."""
    before = case.text.split("\n")
    after = output.split("\n")
    if len(before) != len(after):
        return True
    for old, new in zip(before, after, strict=True):
        if old == new:
            continue
        for piece in _PIECES.findall(old):
            if piece not in new and not _is_secret_material(case.secret, piece):
                return True
        if any(label not in new for label in _labels(case.secret, old)):
            return True
    return False


@dataclass
class Scorecard:
    """Per class: planted cases, cases with a raw window in some sink, over-redacted cases; benign lines."""

    planted: Counter[str] = field(default_factory=Counter)
    recovered: Counter[str] = field(default_factory=Counter)
    mangled: Counter[str] = field(default_factory=Counter)
    secrets: Counter[str] = field(default_factory=Counter)
    benign_lines: int = 0
    benign_changed: int = 0
    benign_examples: list[str] = field(default_factory=list)

    def add_case(self, case: Case, *, recovered: bool, mangled: bool) -> None:
        self.planted[case.secret.kind] += 1
        self.recovered[case.secret.kind] += recovered
        self.mangled[case.secret.kind] += mangled

    def add_benign(self, line: str, output: str) -> None:
        self.benign_lines += 1
        if output != line:
            self.benign_changed += 1
            if len(self.benign_examples) < 5:
                self.benign_examples.append(f"{line[:120]!r} -> {output[:120]!r}")

    @property
    def over_redaction_rate(self) -> float:
        return self.benign_changed / max(1, self.benign_lines)

    def render(self, title: str) -> str:
        rows = [f"{title}", f"{'class':<22} {'secrets':>7} {'planted':>7} {'raw':>5} {'over':>5}"]
        for kind in sorted(self.planted):
            rows.append(
                f"{kind:<22} {self.secrets[kind]:>7} {self.planted[kind]:>7} {self.recovered[kind]:>5} "
                f"{self.mangled[kind]:>5}"
            )
        rows.append(
            f"{'TOTAL':<22} {sum(self.secrets.values()):>7} {sum(self.planted.values()):>7} "
            f"{sum(self.recovered.values()):>5} {sum(self.mangled.values()):>5}"
        )
        rows.append(
            f"benign lines: {self.benign_lines}, over-redacted {self.benign_changed} "
            f"({self.over_redaction_rate:.2%}); limit 0.50%"
        )
        rows.extend(f"  over-redacted: {example}" for example in self.benign_examples)
        return "\n".join(rows)
