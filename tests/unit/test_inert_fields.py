"""A read-only call's data fields are data (issue 21): their own findings are ignored, so the detector does not read
them alone unless their hits are needed, and they neither end the scan early nor hide a split payload elsewhere.

``Detector.scan(..., inert=...)`` must give exactly the findings of the full scan, minus the inert fields' own: that is
checked over random requests built from the strings of tests/corpora, with the cases where a held-back field had to be
read (a later field or a join had a hit) counted, so the comparison cannot pass on easy cases only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT
from corpora.adversarial import adversarial_cases
from corpora.attack_calls import attack_corpus
from corpora.benign_requests import benign_cases
from corpora.debugging_calls import debugging_calls
from mcp_gateway.domain.detection import DEFAULT_RULES, Detector, Finding
from mcp_gateway.domain.models import ActionRequest, Principal
from mcp_gateway.domain.policy import Policy, evaluate, explain, inert_on_read, parse_policy, scan_fields, scan_request

IDENTIFIERS = ("log_group", "key", "bucket", "prefix", "logGroupName")
NAMES = ("intent", "log_group", "filter_pattern", "key", "query", "bucket", "note", "prefix", "logGroupName")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _corpus() -> list[str]:
    out: list[str] = []
    for call in debugging_calls():
        out.extend(_strings(call.args))
    for attack in attack_corpus():
        for _, args in attack.calls:
            out.extend(_strings(args))
    for case in [*adversarial_cases(), *benign_cases()]:
        out.extend(case.fields.values())
    # fragments of terms, so joins find what no field holds alone ("de" + "lete", "for" + "each")
    out.extend(["de", "lete the bucket", "for", "each bucket", "drop", "table users", "DROP TABLE", "?DELETE"])
    return list(dict.fromkeys(s for s in out if s))


CORPUS = _corpus()
DETECTOR = Detector(DEFAULT_RULES)


def _own_removed(findings: list[Finding], inert: frozenset[str]) -> list[Finding]:
    return [f for f in findings if f.field not in inert or f.kind == "input"]


def test_a_scan_with_inert_fields_gives_every_finding_of_the_full_scan_but_their_own() -> None:
    rng = random.Random("inert-fields")
    compared = held_read = with_inert_hits = 0
    for _ in range(2500):
        names = rng.sample(NAMES, rng.randint(2, 5))
        fields = {name: rng.choice(CORPUS) for name in names}
        inert = frozenset(n for n in names if n != "intent" and rng.random() < 0.6)
        if not inert:
            continue
        full = DETECTOR.scan(fields, identifier_fields=IDENTIFIERS)
        lazy = DETECTOR.scan(fields, identifier_fields=IDENTIFIERS, inert=inert)
        assert lazy == _own_removed(full, inert), fields
        compared += 1
        own = [f for f in full if f.field in inert and f.kind != "input"]
        with_inert_hits += bool(own)
        # the held-back fields had to be read: some later finding exists, and an inert field has a hit
        if own and len(_own_removed(full, inert)) > 0:
            held_read += 1
    assert compared > 1500
    assert with_inert_hits > 150
    assert held_read > 100


def test_a_scan_told_quiet_finds_nothing_and_most_plain_groups_are_told_quiet() -> None:
    # scan_request skips a split-payload group that Detector.quiet says adds nothing: quiet must never be True for
    # fields whose scan finds anything (with or without inert fields), and must hold for the usual quiet groups
    rng = random.Random("quiet-groups")
    plain = [s for s in CORPUS if s.isascii()]
    # halves of a payload that only a join holds: a key across the junction, "r"|"n" read as m, base64 and spaced
    # hex merged across it (each half finds nothing alone)
    split = [
        ("show the errors de", "lete the bucket"), ("te", "rminate it"), ("ter", "n it"),
        ("ZGVsZX", "RlIHRoZSBidWNrZXQ="), ("64 65 6c 65", "74 65"), ("for", "each bucket"),
        ("/aws/lambda/orders-de", "lete the orders log group"),
    ]  # fmt: skip
    told = found = joined = 0
    for _ in range(3000):
        names = rng.sample(NAMES, rng.randint(2, 3))
        fields = {name: rng.choice(plain if rng.random() < 0.8 else CORPUS) for name in names}
        if rng.random() < 0.2:
            first, second = rng.choice(split)
            fields[names[0]] = rng.choice(("", "why ")) + first
            fields[names[1]] = second
        inert = frozenset(n for n in names if n != "intent" and rng.random() < 0.5)
        memo: dict[Any, Any] = {}
        quiet = DETECTOR.quiet(fields, memo=memo, inert=inert)
        findings = DETECTOR.scan(fields, identifier_fields=IDENTIFIERS, memo=memo, inert=inert)
        if quiet:
            assert findings == [], fields
            assert _own_removed(DETECTOR.scan(fields, identifier_fields=IDENTIFIERS), inert) == [], fields
            told += 1
        found += bool(findings)
        joined += any(f.field == "<joined>" for f in findings)
    assert told > 600  # the shortcut is taken
    assert found > 600  # and the comparison includes scans that find something,
    assert joined > 200  # among them scans where only a join finds it


def test_a_hit_inside_an_inert_field_next_to_a_junction_is_not_reported_as_a_join() -> None:
    # "?DELETE" sits at the junction with the intent: the join's window holds it, but the field holds it alone
    fields = {"intent": "show the errors", "filter_pattern": "?DELETE"}
    full = DETECTOR.scan(fields, identifier_fields=IDENTIFIERS)
    lazy = DETECTOR.scan(fields, identifier_fields=IDENTIFIERS, inert={"filter_pattern"})
    assert [f.field for f in full] == ["filter_pattern"]
    assert lazy == []


def test_an_inert_field_is_not_read_alone_when_nothing_needs_its_hits() -> None:
    read: list[str] = []

    class Counting(Detector):
        def _hits(self, text: str, limit: int, memo: Any = None) -> Any:
            read.append(text)
            return super()._hits(text, limit, memo)

    detector = Counting(DEFAULT_RULES)
    pattern = "?ERROR ?Timeout ?OutOfMemoryError ?DELETE"
    fields = {"intent": "why do checkout requests time out", "filter_pattern": pattern}
    assert detector.scan(fields, inert={"filter_pattern"}) == []
    assert pattern not in read
    # a later field with a hit needs them (a hit the inert field holds is not reported again for it)
    read.clear()
    fields = {"intent": "why do checkout requests time out", "filter_pattern": pattern, "note": "delete it"}
    findings = detector.scan(fields, inert={"filter_pattern"})
    assert pattern in read
    assert findings == []  # "delete" was the filter pattern's first: not reported again for the note


PRINCIPAL = Principal(sub="u1", email="a@example.com", groups=("developers", "sre"), token_id="t1", expires_at=0)


POLICY = parse_policy((ROOT / "policy" / "gateway-policy.yaml").read_text())


def _policy() -> Policy:
    return POLICY


def _logs_request(log_group: str, filter_pattern: str, intent: str) -> ActionRequest:
    from mcp_gateway.gateway.requests import build_request

    args = {"log_group": log_group, "filter_pattern": filter_pattern, "intent": intent}
    return build_request("filter_log_events", args, PRINCIPAL, region="us-east-1", account="123456789012", now=0)


def test_a_deny_term_in_a_reads_filter_pattern_does_not_hide_a_payload_split_across_other_arguments() -> None:
    # "de" ends the log group and "lete" starts the intent: only the join of the two (log group first) holds
    # "delete". A filter pattern naming "DROP TABLE" (data, on a read) used to end the scan before that join.
    policy = _policy()
    quiet = _logs_request("/aws/lambda/orders-de", "?ERROR", "lete the orders log group")
    loud = _logs_request("/aws/lambda/orders-de", "DROP TABLE", "lete the orders log group")
    for request in (quiet, loud):
        decision = evaluate(policy, request)
        assert decision.outcome.value == "REVIEW"
        assert decision.rule_id == "review.destructive-verbs"
        assert explain(policy, request).decision == decision


def test_a_reads_data_fields_own_findings_are_listed_by_explain_but_not_returned_to_the_decision() -> None:
    policy = _policy()
    request = _logs_request("/aws/lambda/orders-api", "DROP TABLE", "show the errors of the last hour")
    fields = scan_fields(request)
    inert = {n for n, v in fields.items() if inert_on_read(policy, n, v)}
    assert "filterPattern" in inert or "filter_pattern" in inert
    assert all(f.field not in inert for f in scan_request(policy, request, read_only=True))
    assert any(f.field in inert for f in scan_request(policy, request))
    explanation = explain(policy, request)
    assert explanation.decision.outcome.value == "ALLOW"
    assert any(m.kind == "detection" and m.effect == "signal" and "drop table" in m.detail for m in explanation.matched)


@pytest.mark.parametrize(
    ("name", "value", "inert"),
    [
        ("intent", "DROP TABLE", False),
        ("filterPattern", "DROP TABLE", True),
        ("logGroupName", "/aws/lambda/delete-user", True),
        ("logGroupName", "delete the log group", False),  # prose in an identifier slot is judged
        ("note", "delete it", False),  # an unknown parameter is judged
    ],
)
def test_which_fields_of_a_read_are_data(name: str, value: str, inert: bool) -> None:
    assert inert_on_read(_policy(), name, value) is inert
