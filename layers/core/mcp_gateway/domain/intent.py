"""Where a rule term sits in free text: an instruction ("delete the bucket", "then we purge it") or a
mention ("why does DELETE /orders/{id} return 500", "SQL injection like DROP TABLE", "the cleanup job
terminated early").

Used for the words of a *read-only* call's intent, which are signals: a read cannot carry out what its
intent says, so a mention is only recorded, while an instruction to destroy, tamper or hunt for secrets
raises scrutiny (review). Text that needed decoding or de-obfuscation to match (base64, leetspeak,
letters split by dots, a payload split across arguments) is never a mention: benign prose is not encoded.

A term is an instruction when it opens a clause (clauses end at ``. ; ! ? : ,`` line breaks and dashes), or
follows a clause lead ("then", "and", "please", "now", "next", "finally", "step 2"...), a first or second
person subject ("we", "I", "you", "let's") or a wish ("want to", "need to", "going to"). CamelCase is split
first ("ListBucketsThenDeleteThem", "who called DeleteObject"). Terms in scripts written without spaces
(CJK) have no word position and always count as instructions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .detection import Detector
from .normalize import normalize

_CLAUSE = re.compile(r"[.;!?:,\n\r\t()\[\]{}\"]+|\s[-\u2013\u2014]+\s")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_METHODS = r"(?:GET|PUT|POST|PATCH|HEAD|DELETE|OPTIONS)"
_HTTP_METHOD = re.compile(
    r"\b"
    + _METHODS
    + r"(?=\s+(?:/|https?:|requests?\b|calls?\b|endpoints?\b|methods?\b|verbs?\b|handlers?\b|routes?\b))"
)
_HTTP_PAIR = re.compile(r"\b" + _METHODS + r"(?:\s*(?:,|/|and|or|&)\s*" + _METHODS + r")+\b")
LEADS = frozenset(
    {
        "then", "and", "please", "pls", "plz", "now", "also", "next", "first", "finally", "lastly", "so",
        "just", "ok", "okay", "kindly", "afterwards", "later", "after", "that", "step", "go", "ahead",
        "quickly", "immediately", "1", "2", "3", "4", "5", "one", "two", "three", "or", "but", "simply",
        # es, fr, de, it, pt, nl, pl, ru (normalized: accents stripped, Cyrillic look-alikes folded)
        "y", "luego", "despues", "entonces", "por", "favor", "et", "puis", "ensuite", "apres", "und", "dann",
        "danach", "bitte", "e", "poi", "dopo", "quindi", "depois", "seguida", "en", "daarna", "dan", "i",
        "potem", "nastepnie", "затем", "потом", "и", "пожалуйста",
    }
)  # fmt: skip
SUBJECTS = frozenset({"we", "i", "you", "u", "ll", "will", "shall", "must", "should", "gonna", "wanna", "d"})
WISHES = frozenset({"want", "wants", "need", "needs", "going", "have", "has", "got", "like", "supposed", "able"})


# A clause opened by a mutating verb is an instruction as a whole ("make the bucket empty by getting rid of
# its objects"); read verbs (show, find, check) are not listed: "show errors from the delete-user-handler".
IMPERATIVE_STARTS = frozenset(
    {"make", "go", "clean", "run", "execute", "do", "set", "change", "move", "put", "write", "upload", "send",
     "copy", "empty", "now", "please", "pls", "kindly", "ensure", "free", "reset", "rotate", "revert"}
)  # fmt: skip


def _instruction_at(words: list[str], i: int) -> bool:
    if i == 0 or words[0] in IMPERATIVE_STARTS:
        return True
    prev = words[i - 1]
    if prev in LEADS or prev in SUBJECTS:
        return True
    before = words[i - 2] if i >= 2 else ""
    if prev == "to" and before in WISHES:
        return True
    if prev == "s" and before == "let":
        return True
    return before in SUBJECTS and prev in {"can", "could", "will", "would", "should", "must", "now", "also", "then"}


def _names_method(clause: str) -> bool:
    """Whether an HTTP method's name occurs in ``clause`` (substring searches, before the expressions that need one)."""
    return any(method in clause for method in _METHOD_NAMES)


_METHOD_NAMES = tuple(_METHODS[3:-1].split("|"))  # both expressions need one of these, as written


def term_positions(detector: Detector, text: str) -> Mapping[tuple[str, str], bool]:
    """``{(rule id, term): is an instruction}`` for every term found in the plain (undecoded) clauses of
    ``text``. A (rule, term) absent from the answer matched only after decoding or de-obfuscation."""
    out: dict[tuple[str, str], bool] = {}
    for clause in _CLAUSE.split(text[:8192]):
        if not clause or clause.isspace():
            continue
        # An HTTP method named as such ("DELETE /orders/{id}", "PUT and DELETE calls") is a mention: the
        # clause is read twice, as written (is the term there?) and with such methods masked (instruction?).
        masked = (
            _HTTP_METHOD.sub("httpmethod", _HTTP_PAIR.sub("httpmethods", clause)) if _names_method(clause) else clause
        )
        readings = ((clause, True),) if masked == clause else ((clause, False), (masked, True))
        for raw, decides in readings:
            split = _CAMEL.sub(" ", raw) if raw != raw.lower() else raw  # (no capital: no camelCase point)
            for form in {normalize(raw), normalize(split)} if split != raw else (normalize(raw),):
                words = form.split()
                for key, index, span in detector.occurrences(form):
                    instruction = decides and _instruction_at(words, index)
                    for hit in detector.hits_for_key(key):
                        if span > detector.term_words(hit[1]) and min(len(w) for w in words[index : index + span]) <= 3:
                            continue  # letters spread over several words ("d e l e t e", "de_lete"): not plain
                        out[hit] = out.get(hit, False) or instruction
            squashed = "".join(words)
            for key, hits in () if squashed.isascii() else detector.substring_terms():  # (those terms are not ASCII)
                if key in squashed:
                    for hit in hits:
                        out[hit] = True
    return out


__all__ = ["LEADS", "SUBJECTS", "term_positions"]
