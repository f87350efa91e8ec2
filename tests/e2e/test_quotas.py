"""Quotas through the whole gateway: the official MCP client over HTTP, the real request workflow executing in
moto (Validate, the DynamoDB quota steps, Execute, Audit), and the `mcp-gateway quota show` command."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config
from conftest import audit_log_lines, audit_records, roomy_window, unique_email
from mcp_gateway.domain.models import ActionRequest, Principal
from mcp_gateway.tools import resolve
from mcp_gateway_local.cli import main as cli_main
from mcp_gateway_local.template import load_template

pytestmark = pytest.mark.e2e

OBJECT = {"bucket": "acme-app-logs", "key": "README.txt"}
IN_FLIGHT = 8  # each execution must finish inside the workflow budget (25 s) on two busy cores


@pytest.fixture
def policy_change(stack: Any, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    def apply(
        rate_limits: dict[str, Any] | None = None,
        data_budgets: dict[str, Any] | None = None,
        window: int | None = None,
    ) -> Path:
        doc = yaml.safe_load(Path(stack.policy_path).read_text())
        window = window or roomy_window()  # every call of a test lands in one window of every counter
        for tier, limit in ((rate_limits or {}).get("tiers") or {}).items():
            doc["rate_limits"]["tiers"][tier] = {"limit": limit, "window_seconds": window}
        doc["rate_limits"]["global_per_user"]["window_seconds"] = window
        doc["data_budgets"].update({"window_seconds": window, **(data_budgets or {})})
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(doc))
        stack.redeploy("ValidateFunction", POLICY_PATH=str(path))
        return path

    yield apply
    stack.redeploy("ValidateFunction", POLICY_PATH=stack.policy_path)


def error_of(result: Any) -> dict[str, Any]:
    assert result.is_error
    return json.loads(result.content[0].text)["error"]  # type: ignore[no-any-return]


def quota_show(stack: Any, capsys: Any, email: str, policy: Path) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    code = cli_main(
        [
            "--state-dir",
            str(stack.state_dir),
            "quota",
            "show",
            "--user",
            email,
            "--policy",
            str(policy),
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    return {row["quota"]: row for row in out["quotas"]}


async def test_a_throttled_call_is_a_tool_error_with_reason_tier_limit_and_retry_after_audited_and_counted(
    stack: Any, session_factory: Any, policy_change: Callable[..., Path], capsys: Any
) -> None:
    policy = policy_change(rate_limits={"tiers": {"list": 2}})
    email = unique_email("throttled")
    session = session_factory(email)
    async with session.client() as client:
        results = [await client.call_tool("list_buckets", {"intent": "find the log bucket"}) for _ in range(3)]
    assert [r.is_error for r in results] == [False, False, True]
    error = error_of(results[2])
    assert error["reason"] == "THROTTLED"
    assert error["rule_id"] == "rate.list"
    assert error["limits"]["tier"] == "list"
    assert error["limits"]["limit"] == 2
    window = yaml.safe_load(policy.read_text())["rate_limits"]["tiers"]["list"]["window_seconds"]
    assert error["limits"]["window_seconds"] == window
    assert 1 <= error["limits"]["retry_after_seconds"] <= window
    record = audit_records(stack, error["request_id"])["outcome"]
    assert (record["decision"], record["reason"], record["status"]) == ("DENY", "THROTTLED", "throttled")
    # the Throttled metric is a metric filter on the audit log group: the line it counts is there
    (line,) = audit_log_lines(stack, error["request_id"])
    assert line["reason"] == "THROTTLED"
    pattern = load_template()["Resources"]["ThrottledMetricFilter"]["Properties"]["FilterPattern"]
    assert '$.reason = "THROTTLED"' in pattern
    usage = quota_show(stack, capsys, email, policy)
    assert (usage["tier:list"]["used"], usage["tier:list"]["limit"]) == (2, 2)
    assert usage["global"]["used"] == 2, "a throttled call consumes nothing"
    assert usage["tier:read"]["used"] == 0


async def test_objects_read_past_the_window_budget_are_blocked_with_their_own_reason_code(
    stack: Any, session_factory: Any, policy_change: Callable[..., Path], capsys: Any
) -> None:
    policy = policy_change(data_budgets={"objects_per_window": 2})
    email = unique_email("reader")
    session = session_factory(email)
    async with session.client() as client:
        results = [await client.call_tool("get_object", dict(OBJECT)) for _ in range(3)]
        listed = await client.call_tool("list_buckets", {})
    assert [r.is_error for r in results] == [False, False, True]
    assert not listed.is_error, "only object reads count against the objects budget"
    error = error_of(results[2])
    assert error["reason"] == "DATA_BUDGET_EXCEEDED"
    assert error["rule_id"] == "budget.objects-per-window"
    assert error["limits"]["budget"] == "objects_per_window"
    assert error["limits"]["limit"] == 2
    assert error["limits"]["retry_after_seconds"] >= 1
    record = audit_records(stack, error["request_id"])["outcome"]
    assert (record["reason"], record["status"]) == ("DATA_BUDGET_EXCEEDED", "throttled")
    assert "intent" not in audit_records(stack, error["request_id"])
    usage = quota_show(stack, capsys, email, policy)
    assert usage["objects_per_window"]["used"] == 2


async def test_bytes_returned_are_accounted_after_execute_and_the_daily_budget_then_blocks(
    stack: Any, session_factory: Any, policy_change: Callable[..., Path], capsys: Any
) -> None:
    policy = policy_change(data_budgets={"bytes_per_day": 1})
    email = unique_email("bytes")
    session = session_factory(email)
    async with session.client() as client:
        first = await client.call_tool("list_buckets", {})
        second = await client.call_tool("list_buckets", {})
    assert not first.is_error
    error = error_of(second)
    assert error["reason"] == "DATA_BUDGET_EXCEEDED"
    assert error["rule_id"] == "budget.bytes-per-day"
    assert error["limits"]["budget"] == "bytes_per_day"
    assert error["limits"]["window_seconds"] == 86_400
    first_id = json.loads(first.content[0].text)["request_id"]
    returned = audit_records(stack, first_id)["outcome"]["bytes_returned"]
    assert returned > 0
    usage = quota_show(stack, capsys, email, policy)
    assert usage["bytes_per_day"]["used"] == returned
    assert usage["tier:list"]["used"] == 1, "the budget pre-check runs before the rate counters"


def test_limit_plus_100_concurrent_workflow_executions_admit_exactly_the_limit(
    stack: Any, policy_change: Callable[..., Path]
) -> None:
    """The real request workflow (StartSyncExecution: Validate, quota steps, Execute, Audit), once, with 8
    executions in flight; the 20 repeated runs of 105-at-once (a barrier) of the same conditional update are
    in tests/functional/test_rate_limits.py."""
    limit = 5
    policy_change(rate_limits={"tiers": {"list": limit}})  # one window for the whole run (roomy_window)
    sfn = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        endpoint_url=stack.info.moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            inject_host_prefix=False, max_pool_connections=128, retries={"max_attempts": 1}, read_timeout=300
        ),
    )
    arn = stack.physical("RequestStateMachine")
    email = unique_email("burst")
    now = time.time()
    principal = Principal(
        sub=email, email=email, groups=("developers",), token_id="jti-burst", expires_at=int(now) + 900
    )
    _, action = resolve("list_buckets", {}, "us-east-1", "123456789012", dt.datetime.fromtimestamp(now, tz=dt.UTC))

    def payload(i: int) -> dict[str, Any]:
        request = ActionRequest(
            request_id=f"req-burst-{time.time_ns()}-{i}",
            tool="list_buckets",
            service=action.service,
            operation=action.operation,
            action=action.action,
            parameters=action.api_params,
            resources=action.resources,
            principal=principal,
            requested_at=now,
        )
        return {"request": request.model_dump(mode="json")}

    payloads = [payload(i) for i in range(limit + 100)]

    def run(p: dict[str, Any]) -> dict[str, Any]:
        out = sfn.start_sync_execution(stateMachineArn=arn, name=p["request"]["request_id"], input=json.dumps(p))
        assert out["status"] == "SUCCEEDED"
        result = json.loads(out["output"])
        # "deferred": the audit write was parked in the dead-letter queue; the decision is in the state
        decision: dict[str, Any] = result["state"]["decision"] if result.get("deferred") else result["decision"]
        return decision

    # 8 executions in flight at once: moto's TransactWriteItems (the audit step) deep-copies the whole audit
    # table per call, so 105 in flight late in a session costs gigabytes (the 105-at-once proof is functional)
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        decisions = list(pool.map(run, payloads))
    assert Counter(d["reason"] for d in decisions) == Counter({"ALLOWED": limit, "THROTTLED": 100})
