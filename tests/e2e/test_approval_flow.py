"""Human approval end to end: an agent's flagged MCP call goes pending, an approver's signed Slack click (sent by
`mcp-gateway approve|deny`) resumes the Standard approval workflow, the requester picks the result up with
get_request_status, and denied or timed-out requests never execute. Every step leaves an audit record."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from approval_support import (
    APPROVER_EMAIL,
    FLAGGING_INTENT,
    WorkflowObserver,
    approval_item,
    audit_items,
    observing,
)
from conftest import audit_log_lines, unique_email
from mcp_gateway_local import cli

pytestmark = pytest.mark.e2e


def body(result: Any) -> dict[str, Any]:
    if result.structured_content is not None:
        return result.structured_content  # type: ignore[no-any-return]
    return json.loads(result.content[0].text)  # type: ignore[no-any-return]


@pytest.fixture
def observer(stack: Any) -> Iterator[WorkflowObserver]:
    with observing(stack) as obs:
        yield obs


async def flagged_call(client: Any, key: str = "README.txt") -> dict[str, Any]:
    result = await client.call_tool("get_object", {"bucket": "acme-app-logs", "key": key, "intent": FLAGGING_INTENT})
    assert not result.is_error
    return body(result)


def decide(stack: Any, verb: str, rid: str, approver: str = APPROVER_EMAIL) -> int:
    return cli.main(["--state-dir", str(stack.state_dir), verb, rid, "--as", approver])


def approval_bytes(stack: Any, request_id: str) -> int:
    return int(audit_items(stack, request_id)["outcome#approval"]["bytes_returned"])


async def test_a_flagged_call_is_approved_in_slack_executes_once_and_only_the_requester_gets_the_result(
    stack: Any, session_factory: Any, observer: WorkflowObserver
) -> None:
    requester = session_factory(unique_email("dana"))
    other = session_factory(unique_email("eve"))
    async with requester.client() as client:
        started = time.time()
        pending = await flagged_call(client)
        assert pending["status"] == "pending"
        assert pending["decision"]["reason"] == "REVIEW_REQUIRED"
        rid = pending["request_id"]
        assert pending["approval"]["expires_at"] >= started + 60
        observer.wait_notified(rid)
        message = next(m for m in stack.slack.listing() if m["request_id"] == rid)
        assert message["state"] == "pending"
        assert "task_token" not in json.dumps(message) and approval_item(stack, rid)["task_token"][
            "S"
        ] not in json.dumps(message)

        status = body(await client.call_tool("get_request_status", {"request_id": rid}))
        assert (status["status"], status["executed"]) == ("pending", False)
        assert observer.executed[rid] == 0

        assert decide(stack, "approve", rid) == 0
        final = observer.wait_finished(rid)
        assert final["status"] == "ok"
        assert observer.executed[rid] == 1

        status = body(await client.call_tool("get_request_status", {"request_id": rid}))
        assert (status["status"], status["executed"], status["result_status"]) == ("approved", True, "ok")
        assert status["decided_by"] == APPROVER_EMAIL
        assert status["result"]["text"].startswith("Application logs exported nightly")
        # The approved execution counts against the requester's daily bytes budget, like any other call.
        from mcp_gateway.domain.ratelimit import day_key

        counter = stack.client("dynamodb").get_item(
            TableName=stack.physical("RateLimitTable"),
            Key={"pk": {"S": day_key(requester.email, started)}},
            ConsistentRead=True,
        )["Item"]
        assert int(counter["bytes_used"]["N"]) == approval_bytes(stack, rid) > 0

        assert decide(stack, "approve", rid) == 1  # a second click changes nothing
    assert observer.executed[rid] == 1

    async with other.client() as client:
        refused = await client.call_tool("get_request_status", {"request_id": rid})
    assert refused.is_error
    assert json.loads(refused.content[0].text)["error"]["reason"] == "NOT_FOUND"

    updated = [m for m in stack.slack.listing() if m["request_id"] == rid]
    assert updated[-1]["state"] == "approved"
    records = audit_items(stack, rid)
    assert records["outcome"]["status"] == "pending"
    assert records["intent"]["requester"] == requester.email
    approval = records["outcome#approval"]
    assert (approval["decision"], approval["status"], approval["approver"]) == ("ALLOW", "ok", APPROVER_EMAIL)
    assert approval["user_email"] == requester.email
    lines = audit_log_lines(stack, rid)
    assert sorted(line["status"] for line in lines if line["request_id"] == rid) == ["ok", "pending"]
    callbacks = [line for line in lines if line.get("rule_id") == "approval.callback"]
    assert sorted(c["reason"] for c in callbacks) == ["ALLOWED", "ALREADY_DECIDED"]


async def test_a_denied_request_never_executes(stack: Any, session_factory: Any, observer: WorkflowObserver) -> None:
    requester = session_factory(unique_email("frank"))
    async with requester.client() as client:
        rid = (await flagged_call(client))["request_id"]
        observer.wait_notified(rid)
        assert decide(stack, "deny", rid) == 0
        final = observer.wait_finished(rid)
        status = body(await client.call_tool("get_request_status", {"request_id": rid}))
    assert (final["status"], final["decision"]["reason"]) == ("denied", "APPROVAL_DENIED")
    assert (status["status"], status["executed"]) == ("denied", False)
    assert observer.executed[rid] == 0
    records = audit_items(stack, rid)
    assert "intent" not in records
    assert records["outcome#approval"]["reason"] == "APPROVAL_DENIED"
    assert records["outcome#approval"]["approver"] == APPROVER_EMAIL


async def test_a_timed_out_request_never_executes(stack: Any, session_factory: Any, observer: WorkflowObserver) -> None:
    requester = session_factory(unique_email("grace"))
    async with requester.client() as client:
        rid = (await flagged_call(client))["request_id"]
        observer.wait_notified(rid)
        # The policy's window is at least 60 s and States.Timeout cannot be sent from outside (Step Functions
        # refuses custom "States.*" errors), so the window's end is moved into the past on the approval item,
        # as time would. The real TimeoutSeconds path of the same state machine is exercised, with a real
        # one-second timer, in tests/functional/test_approval_workflow.py.
        stack.client("dynamodb").update_item(
            TableName=stack.physical("ApprovalsTable"),
            Key={"pk": {"S": rid}},
            UpdateExpression="SET approval_expires_at = :past",
            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
        )
        status = body(await client.call_tool("get_request_status", {"request_id": rid}))
        assert (status["status"], status["executed"]) == ("expired", False)
        assert decide(stack, "approve", rid) == 1  # too late: refused and audited
    assert observer.executed[rid] == 0
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"
    late = [line for line in audit_log_lines(stack, rid) if line.get("rule_id") == "approval.callback"]
    assert [line["reason"] for line in late] == ["APPROVAL_EXPIRED"]
    assert "intent" not in audit_items(stack, rid)
    sfn = stack.client("stepfunctions")
    execution = next(
        e["executionArn"]
        for e in sfn.list_executions(stateMachineArn=stack.physical("ApprovalStateMachine"))["executions"]
        if e["name"] == rid
    )
    sfn.stop_execution(executionArn=execution, error="Test.Cleanup")  # the 900 s timer need not outlive the test
