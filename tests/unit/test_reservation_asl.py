"""The request workflow's reservation (statemachine/request.asl.json): one DynamoDB transaction on the allowed
path that does exactly what the step-by-step quota states and AuditIntent do, and whose cancellation reasons
are mapped back to the state that refuses with that limit's reason code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ASL = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "request.asl.json").read_text())
STATES: dict[str, Any] = ASL["States"]
STEPS = {
    "Reserve": ["BudgetCheckBytes", "RateCheckTier", "RateCheckGlobal", "AuditIntent"],
    "ReserveWithObjects": ["BudgetCheckBytes", "RateCheckTier", "RateCheckGlobal", "BudgetCheckObjects", "AuditIntent"],
}
#: the step-by-step state whose refused condition a refusal state answers for
REFUSAL_OF = {
    "BudgetBytesExceeded": "BudgetCheckBytes",
    "RateCheckTierThrottled": "RateCheckTier",
    "RateCheckGlobalThrottled": "RateCheckGlobal",
    "BudgetObjectsExceeded": "BudgetCheckObjects",
    "AuditIntentFailed": "AuditIntent",
}


def _item(step: str) -> dict[str, Any]:
    params = STATES[step]["Parameters"]
    return {"Put" if step == "AuditIntent" else "Update": params}


@pytest.mark.parametrize("reserve", list(STEPS))
def test_the_reservation_is_one_transaction_of_exactly_the_step_by_step_writes_in_their_order(reserve: str) -> None:
    state = STATES[reserve]
    assert state["Type"] == "Task"
    assert state["Resource"] == "arn:${Partition}:states:::aws-sdk:dynamodb:transactWriteItems"
    assert state["Parameters"]["TransactItems"] == [_item(s) for s in STEPS[reserve]]
    assert state["Next"] == "Execute"
    assert STATES["AuditIntent"]["Next"] == "Execute", "both paths reach Execute only after the intent"


@pytest.mark.parametrize("reserve", list(STEPS))
def test_a_cancelled_reservation_is_decided_from_its_reasons_and_every_other_failure_takes_the_step_by_step_path(
    reserve: str,
) -> None:
    catches = STATES[reserve]["Catch"]
    assert catches[0]["ErrorEquals"] == [
        "DynamoDb.TransactionCanceledException",
        "DynamoDB.TransactionCanceledException",
    ]
    assert catches[0]["Next"] == "ReserveRefused"
    assert (catches[-1]["ErrorEquals"], catches[-1]["Next"]) == (["States.ALL"], "BudgetCheckBytes")
    assert "Retry" not in STATES[reserve], "the step-by-step states retry; the reservation falls back to them"
    assert STATES["ReserveRefusedBy"]["Default"] == STATES["ReserveRefusedByObjects"]["Default"] == "BudgetCheckBytes"


def _rules(choice: str, counts_objects: bool) -> list[tuple[dict[int, str], str]]:
    """The rules of a refusal Choice an execution reaches, as ({index: the reason it requires}, next state)."""
    out = []
    for rule in STATES[choice]["Choices"]:
        if rule.get("Variable") == "$.rate.count_object":
            assert rule == {"Variable": "$.rate.count_object", "BooleanEquals": True, "Next": "ReserveRefusedByObjects"}
            if counts_objects:
                return out + _rules("ReserveRefusedByObjects", counts_objects)
            continue
        conditions = rule.get("And", [rule])
        required: dict[int, str] = {}
        for c in conditions:
            m = re.fullmatch(r"\$\.reserve\.reasons\[(\d+)\]", c.get("Variable", ""))
            if m:
                required[int(m.group(1))] = c["StringMatches"].lstrip("*")
        if required:
            out.append((required, rule["Next"]))
    return out


@pytest.mark.parametrize("reserve", list(STEPS))
def test_the_first_refused_condition_in_step_order_names_the_limit_and_earlier_items_must_have_held(
    reserve: str,
) -> None:
    steps = STEPS[reserve]
    decided = {}
    for required, target in _rules("ReserveRefusedBy", counts_objects=reserve == "ReserveWithObjects"):
        index = max(required)
        assert index < len(steps), f"{target}: reads a reason the transaction does not have"
        assert required[index] == "ConditionalCheckFailed"
        assert all(required[i] == "None" for i in range(index)), f"{target}: items before {index} held"
        decided.setdefault(index, target)
    assert {i: REFUSAL_OF[t] for i, t in decided.items()} == dict(enumerate(steps))


def test_a_reservation_fault_on_the_step_by_step_path_still_tells_which_table_failed() -> None:
    for step in ("BudgetCheckBytes", "RateCheckTier", "RateCheckGlobal", "BudgetCheckObjects"):
        assert STATES[step]["Catch"][-1]["Next"] == "RateLimitUnavailable"
    assert STATES["AuditIntent"]["Catch"][-1]["Next"] == "AuditIntentFailed"
    assert STATES["RouteDecision"]["Choices"][1]["Next"] == "BudgetCheckBytes", "REVIEW counts step by step"


def test_the_reasons_are_read_from_the_cause_as_aws_and_moto_format_it() -> None:
    cause = (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, None, ConditionalCheckFailed, None] (Service: DynamoDb, Status Code: 400, Request ID: X)"
    )
    expression = STATES["ReserveRefused"]["Parameters"]["reasons.$"]
    assert expression == "States.StringSplit(States.ArrayGetItem(States.StringSplit($.error.Cause, '[]'), 1), ',')"
    inner = [p for p in re.split(r"\[|\]", cause) if p][1]
    assert [p for p in inner.split(",") if p] == ["None", " None", " ConditionalCheckFailed", " None"]
