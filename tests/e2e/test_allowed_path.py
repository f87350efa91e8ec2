"""The allowed path's hops, read from the execution history of the real request workflow in moto: an allowed call
runs at most five Task states (the quota counters and the write-ahead intent are one DynamoDB transaction), and a
refused reservation still tells which limit refused, with the same reason codes and retry-after as the
step-by-step states."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import audit_records, roomy_window, unique_email
from mcp_gateway_local import moto_patches

pytestmark = pytest.mark.e2e

ALLOWED_PATH = ["Validate", "Reserve", "Execute", "AccountBytes", "AuditOutcome"]
LOGS = {"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR", "limit": 20}
OBJECT = {"bucket": "acme-app-logs", "key": "README.txt"}


@pytest.fixture
def limits(stack: Any, tmp_path: Path) -> Iterator[Callable[..., None]]:
    def apply(tiers: dict[str, int] | None = None, global_limit: int | None = None, **budgets: int) -> None:
        doc = yaml.safe_load(Path(stack.policy_path).read_text())
        window = roomy_window()  # the calls after the limit land in the same window as the ones before
        for tier, limit in (tiers or {}).items():
            doc["rate_limits"]["tiers"][tier] = {"limit": limit, "window_seconds": window}
        if global_limit is not None:
            doc["rate_limits"]["global_per_user"] = {"limit": global_limit, "window_seconds": window}
        doc["data_budgets"].update({"window_seconds": window, **budgets})
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(doc))
        stack.redeploy("ValidateFunction", POLICY_PATH=str(path))

    yield apply
    stack.redeploy("ValidateFunction", POLICY_PATH=stack.policy_path)


def history(stack: Any, request_id: str) -> list[dict[str, Any]]:
    events = moto_patches.sync_execution_history(stack.physical("RequestStateMachine"), request_id)
    assert events, "the local stack keeps the history of a recent execution"
    return events


def states_entered(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["stateEnteredEventDetails"]["name"]) for e in events if e["type"].endswith("StateEntered")]


def body(result: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(result.content[0].text)
    return parsed.get("error", parsed)


async def test_an_allowed_call_runs_five_task_states_with_counters_and_intent_written_in_one_transaction(
    stack: Any, session_factory: Any
) -> None:
    async with session_factory(unique_email("hops")).client() as client:
        result = await client.call_tool("filter_log_events", LOGS)
    assert not result.is_error
    request_id = body(result)["request_id"]
    tasks = moto_patches.task_states(history(stack, request_id))
    assert tasks == ALLOWED_PATH
    assert len(tasks) <= 5
    records = audit_records(stack, request_id)
    assert "intent" in records, "the write-ahead intent was written by the reservation"
    assert records["outcome"]["decision"] == "ALLOW"


async def test_an_allowed_object_read_also_counts_the_objects_budget_in_the_same_transaction(
    stack: Any, session_factory: Any
) -> None:
    async with session_factory(unique_email("hops-object")).client() as client:
        result = await client.call_tool("get_object", OBJECT)
    assert not result.is_error
    tasks = moto_patches.task_states(history(stack, body(result)["request_id"]))
    assert tasks == ["Validate", "ReserveWithObjects", "Execute", "AccountBytes", "AuditOutcome"]


@pytest.mark.parametrize(
    ("change", "tool", "args", "reason", "rule_id", "refused_at"),
    [
        (
            {"bytes_per_day": 1},
            "list_buckets",
            {},
            "DATA_BUDGET_EXCEEDED",
            "budget.bytes-per-day",
            "BudgetBytesExceeded",
        ),
        ({"tiers": {"list": 1}}, "list_buckets", {}, "THROTTLED", "rate.list", "RateCheckTierThrottled"),
        ({"global_limit": 1}, "list_buckets", {}, "THROTTLED", "rate.global-per-user", "RateCheckGlobalThrottled"),
        (
            {"objects_per_window": 1},
            "get_object",
            OBJECT,
            "DATA_BUDGET_EXCEEDED",
            "budget.objects-per-window",
            "BudgetObjectsExceeded",
        ),
    ],
    ids=["bytes", "tier", "global", "objects"],
)
async def test_a_refused_reservation_names_the_limit_that_refused_and_nothing_executes_or_is_counted(
    stack: Any,
    session_factory: Any,
    limits: Callable[..., None],
    change: dict[str, Any],
    tool: str,
    args: dict[str, Any],
    reason: str,
    rule_id: str,
    refused_at: str,
) -> None:
    limits(**change)
    async with session_factory(unique_email(f"refused-{refused_at.lower()}")).client() as client:
        first = await client.call_tool(tool, args)
        second = await client.call_tool(tool, args)
    assert not first.is_error
    assert second.is_error
    error = body(second)
    assert (error["reason"], error["rule_id"]) == (reason, rule_id)
    assert error["limits"]["retry_after_seconds"] >= 1
    entered = states_entered(history(stack, error["request_id"]))
    assert entered[entered.index("ReserveRefused") + 1 :][-2:] == [refused_at, "AuditOutcome"]
    assert "Execute" not in entered
    assert "BudgetCheckBytes" not in entered, "a refused condition is decided from the transaction's reasons"
    assert "intent" not in audit_records(stack, error["request_id"])
