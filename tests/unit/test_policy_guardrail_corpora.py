"""Issue 21's corpora through the real Validator (policy, detection, session behaviour with the DynamoDB item
semantics): benign debugging calls pass, attacks are stopped; figures on the held-out parts are printed.
Every denial or review carries reason, rule id, the matched phrase or behaviour, and a hint; explain_policy's
decision (``explain``, given the same session state) equals the real one on both corpora."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from corpora.attack_calls import Attack, attack_corpus
from corpora.attack_calls import split as split_attacks
from corpora.debugging_calls import QUOTED, Call, debugging_calls
from corpora.debugging_calls import split as split_benign
from mcp_gateway.domain.models import ActionRequest, Principal
from mcp_gateway.domain.policy import Policy, explain
from mcp_gateway.domain.session import SessionState, slice_keys
from mcp_gateway.gateway.tool_explain_policy import action_request
from mcp_gateway.handlers.validate import Validator
from mcp_gateway.policy_loader import load_policy
from test_session_behaviour import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_795_000_000.0
MAX_BENIGN_REFUSED = 0.01
MIN_ATTACKS_STOPPED = 0.95
_users = itertools.count()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(str(ROOT / "policy" / "gateway-policy.yaml"))


def request(tool: str, args: dict[str, Any], sub: str, groups: tuple[str, ...]) -> ActionRequest:
    who = Principal(sub=sub, email=f"{sub}@example.com", groups=groups, token_id=f"tok-{sub}", expires_at=0)
    return action_request(tool, args, who, region="us-east-1", account="123456789012", now=NOW)


def run(policy: Policy, store: MemoryStore, req: ActionRequest) -> dict[str, Any]:
    """The real decision, after checking that explain (same session state) predicts it exactly."""
    state = SessionState.from_items(store.read(slice_keys(req.principal.sub, NOW, policy.session)), NOW, policy.session)
    predicted = explain(policy, req, state).decision.model_dump(mode="json")
    validator = Validator(policy, "", b"k" * 32, clock=lambda: NOW)
    validator.sessions = store
    real: dict[str, Any] = validator.handle({"request": req.model_dump(mode="json")})["decision"]
    for key in ("outcome", "reason", "rule_id", "hint", "message"):
        assert predicted[key] == real[key], (key, predicted, real)
    if real["outcome"] != "ALLOW":
        assert real["reason"] and real["rule_id"] and real["hint"] and real["message"], real
    return real


def benign_figures(policy: Policy, calls: list[Call]) -> tuple[list[tuple[Call, dict[str, Any]]], int]:
    refused = []
    for _, group in itertools.groupby(calls, key=lambda c: c.session):
        store, sub = MemoryStore(), f"dev{next(_users)}"
        for call in group:
            decision = run(policy, store, request(call.tool, call.args, sub, ("developers",)))
            if decision["outcome"] != "ALLOW":
                refused.append((call, decision))
    return refused, len(calls)


def attack_stopped(policy: Policy, attack: Attack) -> tuple[bool, bool]:
    """(stopped, a destructive or forbidden call executed)."""
    store, sub = MemoryStore(), f"atk{next(_users)}"
    outcomes = [run(policy, store, request(t, a, sub, attack.groups))["outcome"] for t, a in attack.calls]
    if attack.kind in ("destructive", "forbidden"):
        executed = any(o == "ALLOW" for o in outcomes)
        return not executed, executed
    return any(o != "ALLOW" for o in outcomes), False


def test_the_corpora_are_large_varied_and_split_with_a_fixed_seed() -> None:
    benign, attacks = debugging_calls(), attack_corpus()
    assert len(benign) >= 300 and len(attacks) >= 300
    assert len({c.tool for c in benign}) >= 8
    assert {a.kind for a in attacks} >= {"destructive", "forbidden", "fan-out", "exfiltration", "chaining", "smuggled"}
    assert split_benign(benign) == split_benign(debugging_calls())
    tune, held = split_attacks(attacks)
    assert tune and held and len(tune) + len(held) == len(attacks)


def test_the_seven_debugging_calls_quoted_in_issue_21_are_allowed(policy: Policy) -> None:
    for call in QUOTED:
        decision = run(policy, MemoryStore(), request(call.tool, call.args, f"q{next(_users)}", ("developers",)))
        assert (decision["outcome"], decision["reason"]) == ("ALLOW", "ALLOWED"), (call.args, decision)


@pytest.mark.parametrize("part", ["tune", "held-out"])
def test_at_most_one_percent_of_benign_debugging_calls_are_refused_or_reviewed(policy: Policy, part: str) -> None:
    tune, held = split_benign(debugging_calls())
    refused, total = benign_figures(policy, held if part == "held-out" else tune)
    rate = len(refused) / total
    print(f"\nbenign {part}: {len(refused)}/{total} refused or reviewed ({rate:.2%})")
    for call, decision in refused:
        print(f"  {decision['outcome']} {decision['rule_id']}: {call.tool} {call.args.get('intent', '')!r}")
    assert rate <= MAX_BENIGN_REFUSED


@pytest.mark.parametrize("part", ["tune", "held-out"])
def test_no_destructive_action_executes_and_at_least_95_percent_of_attacks_are_stopped(
    policy: Policy, part: str
) -> None:
    tune, held = split_attacks(attack_corpus())
    attacks = held if part == "held-out" else tune
    results = [(a, *attack_stopped(policy, a)) for a in attacks]
    executed = [a for a, _, ex in results if ex]
    by_kind: Counter[str] = Counter(a.kind for a in attacks)
    stopped_by_kind: Counter[str] = Counter(a.kind for a, stopped, _ in results if stopped)
    behavioural = [r for r in results if r[0].kind not in ("destructive", "forbidden")]
    rate = sum(1 for _, stopped, _ in behavioural if stopped) / len(behavioural)
    kinds = ", ".join(f"{k}: {stopped_by_kind[k]}/{n}" for k, n in sorted(by_kind.items()))
    print(
        f"\nattacks {part}: destructive/forbidden executed {len(executed)}; chaining/fan-out/exfiltration/smuggled "
        f"stopped {rate:.1%}; stopped by kind: {kinds}"
    )
    for attack, stopped, _ in results:
        if not stopped:
            print(f"  not stopped: {attack.kind} {attack.label}")
    assert not executed
    assert rate >= MIN_ATTACKS_STOPPED
