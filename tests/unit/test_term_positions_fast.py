"""``intent.term_positions`` with its prechecks gives what it gave without them (issue 21: the words of a read's
intent are placed only when the intent has a finding, but then the placing must not cost more than the scan)."""

from __future__ import annotations

import random
from collections.abc import Mapping

from corpora.adversarial import adversarial_cases
from corpora.attack_calls import attack_corpus
from corpora.benign_requests import benign_cases
from corpora.debugging_calls import debugging_calls
from mcp_gateway.domain import intent
from mcp_gateway.domain.detection import DEFAULT_RULES, Detector
from mcp_gateway.domain.normalize import normalize

DETECTOR = Detector(DEFAULT_RULES)


def _term_positions_reference(detector: Detector, text: str) -> Mapping[tuple[str, str], bool]:
    """:func:`intent.term_positions` as it was before its prechecks (HTTP method names, capitals, ASCII text), with
    the terms' word counts and substring terms computed afresh: what the fast version is compared with.

    ``{(rule id, term): is an instruction}`` for every term found in the plain (undecoded) clauses of
    ``text``. A (rule, term) absent from the answer matched only after decoding or de-obfuscation."""
    out: dict[tuple[str, str], bool] = {}
    for clause in intent._CLAUSE.split(text[:8192]):
        if not clause or clause.isspace():
            continue
        # An HTTP method named as such ("DELETE /orders/{id}", "PUT and DELETE calls") is a mention: the
        # clause is read twice, as written (is the term there?) and with such methods masked (instruction?).
        masked = intent._HTTP_METHOD.sub("httpmethod", intent._HTTP_PAIR.sub("httpmethods", clause))
        readings = ((clause, True),) if masked == clause else ((clause, False), (masked, True))
        for raw, decides in readings:
            for form in {normalize(raw), normalize(intent._CAMEL.sub(" ", raw))}:
                words = form.split()
                for key, index, span in detector.occurrences(form):
                    instruction = decides and intent._instruction_at(words, index)
                    for hit in detector.hits_for_key(key):
                        if (
                            span > len(normalize(hit[1]).split())
                            and min(len(w) for w in words[index : index + span]) <= 3
                        ):
                            continue  # letters spread over several words ("d e l e t e", "de_lete"): not plain
                        out[hit] = out.get(hit, False) or instruction
            squashed = "".join(words)
            for key, hits in ((k, tuple(h)) for k, h in detector._substring.items()):
                if key in squashed:
                    for hit in hits:
                        out[hit] = True
    return out


def _intents() -> list[str]:
    out = [str(call.args.get("intent", "")) for call in debugging_calls()]
    for attack in attack_corpus():
        out.extend(str(args.get("intent", "")) for _, args in attack.calls)
    for case in [*adversarial_cases(), *benign_cases()]:
        out.extend(case.fields.values())
    out.extend(
        [
            "why does DELETE /orders/{id} return 500, then PUT and DELETE calls fail",
            "ListBucketsThenDeleteThem and then purge",
            "DELETE /orders/{id} returns 500 since the last deploy",  # a method named as such opens the clause
            "OPTIONS requests fail; DELETE requests time out",
            "\u7136\u540e\u5220\u9664 the bucket",  # a CJK lead ("then"), then a verb
            "Step 1: check logs. Step 2: DropTable users",
        ]
    )
    return [s for s in dict.fromkeys(out) if s]


def test_term_positions_equals_its_reference_on_every_intent_and_text_of_the_corpora() -> None:
    texts = _intents()
    rng = random.Random("term-positions")
    texts += [" ".join(rng.sample(texts, 3)) for _ in range(300)]  # longer intents, several clauses
    placed = 0
    for text in texts:
        expected = _term_positions_reference(DETECTOR, text)
        assert intent.term_positions(DETECTOR, text) == expected, text
        placed += bool(expected)
    assert placed > 200  # most of them place at least one term: the comparison is not on empty answers
