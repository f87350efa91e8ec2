"""MCP tasks for calls that wait for a human, end to end with the official SDK client on both task-capable
protocol versions (2025-11-25 ``params.task``; 2026-07-28 the ``io.modelcontextprotocol/tasks`` extension): a
flagged call answers with a task at once, the signed Slack callback completes it with the real result, a denial
fails it with its reason code, the requester's cancel stops the approval workflow and updates the message, and
only the requester can see the task. A client without task support keeps the pending answer."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from approval_support import APPROVER_EMAIL, FLAGGING_INTENT, WorkflowObserver, approval_item, audit_items, observing
from conftest import audit_log_lines, unique_email
from mcp.shared.exceptions import MCPError
from mcp_gateway_local import cli
from task_support import call_with_task, cancel_task, connect, get_task, task_result

pytestmark = pytest.mark.e2e

VERSIONS = ["2025-11-25", "2026-07-28"]
ARGS = {"bucket": "acme-app-logs", "key": "README.txt", "intent": FLAGGING_INTENT}
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020


@pytest.fixture
def observer(stack: Any) -> Iterator[WorkflowObserver]:
    with observing(stack) as obs:
        yield obs


def request_id_of(task: dict[str, Any]) -> str:
    found = re.search(r"\(request (req-[0-9a-f]+)\)", task["statusMessage"])
    assert found, task
    return found.group(1)


def execution(stack: Any, rid: str) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")
    arn = next(
        e["executionArn"]
        for e in sfn.list_executions(stateMachineArn=stack.physical("ApprovalStateMachine"))["executions"]
        if e["name"] == rid
    )
    return sfn.describe_execution(executionArn=arn)  # type: ignore[no-any-return]


def decide(stack: Any, verb: str, rid: str) -> int:
    return cli.main(["--state-dir", str(stack.state_dir), verb, rid, "--as", APPROVER_EMAIL])


def ttl_of(task: dict[str, Any]) -> int:
    return int(task.get("ttlMs", task.get("ttl")))


async def start_task(stack: Any, client: Any) -> tuple[dict[str, Any], str]:
    started = time.monotonic()
    task = await call_with_task(client, "get_object", ARGS)
    elapsed = time.monotonic() - started
    assert task["status"] == "working", task
    rid = request_id_of(task)
    # The answer came back while the approval workflow still waits for a human (a structural check, not a
    # timing gate); the measured bound is only a generous sanity check.
    assert execution(stack, rid)["status"] == "RUNNING"
    assert elapsed < 30
    assert task["taskId"].startswith("task-") and rid not in task["taskId"] and len(task["taskId"]) >= 32
    assert task["statusMessage"].startswith("waiting for approval in #")
    expires_at = int(approval_item(stack, rid).get("approval_expires_at", {}).get("N", 0)) or time.time() + 60
    assert ttl_of(task) >= (expires_at - time.time()) * 1000
    assert int(task.get("pollIntervalMs", task.get("pollInterval"))) > 0
    return task, rid


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_review_call_returns_a_task_that_the_signed_approval_completes_with_the_real_result(
    stack: Any, session_factory: Any, observer: WorkflowObserver, version: str
) -> None:
    requester = session_factory(unique_email("tasha"))
    other = session_factory(unique_email("ivan"))
    async with connect(stack.info.mcp_url, requester.token, version) as client:
        task, rid = await start_task(stack, client)
        assert (await get_task(client, task["taskId"]))["status"] == "working"
        observer.wait_notified(rid)
        assert observer.executed[rid] == 0

        async with connect(stack.info.mcp_url, other.token, version) as intruder:
            with pytest.raises(MCPError) as refused:
                await get_task(intruder, task["taskId"])
            assert refused.value.code == INVALID_PARAMS
            with pytest.raises(MCPError) as refused:
                await cancel_task(intruder, task["taskId"])
            assert refused.value.code == INVALID_PARAMS

        assert decide(stack, "approve", rid) == 0
        assert observer.wait_finished(rid)["status"] == "ok"
        done = await get_task(client, task["taskId"])
        assert done["status"] == "completed"
        result = done["result"] if version == "2026-07-28" else await task_result(client, task["taskId"])
    assert result["isError"] is False
    assert result["structuredContent"]["status"] == "ok"
    assert result["structuredContent"]["request_id"] == rid
    assert result["structuredContent"]["result"]["text"].startswith("Application logs exported nightly")
    assert observer.executed[rid] == 1
    assert audit_items(stack, rid)["outcome#approval"]["decision"] == "ALLOW"
    assert [m["state"] for m in stack.slack.listing() if m["request_id"] == rid][-1] == "approved"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_denied_task_fails_with_its_reason_code(
    stack: Any, session_factory: Any, observer: WorkflowObserver, version: str
) -> None:
    requester = session_factory(unique_email("dora"))
    async with connect(stack.info.mcp_url, requester.token, version) as client:
        task, rid = await start_task(stack, client)
        observer.wait_notified(rid)
        assert decide(stack, "deny", rid) == 0
        assert observer.wait_finished(rid)["decision"]["reason"] == "APPROVAL_DENIED"
        failed = await get_task(client, task["taskId"])
        assert failed["status"] == "failed"
        if version == "2026-07-28":
            assert failed["error"]["data"]["reason"] == "APPROVAL_DENIED"
        else:
            with pytest.raises(MCPError) as error:
                await task_result(client, task["taskId"])
            assert error.value.data["reason"] == "APPROVAL_DENIED"
    assert observer.executed[rid] == 0
    assert audit_items(stack, rid)["outcome#approval"]["reason"] == "APPROVAL_DENIED"


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_requester_cancelling_a_task_stops_the_approval_workflow_updates_the_message_and_is_audited(
    stack: Any, session_factory: Any, observer: WorkflowObserver, version: str
) -> None:
    requester = session_factory(unique_email("carl"))
    async with connect(stack.info.mcp_url, requester.token, version) as client:
        task, rid = await start_task(stack, client)
        observer.wait_notified(rid)
        await cancel_task(client, task["taskId"])
        assert execution(stack, rid)["status"] == "ABORTED"
        assert (await get_task(client, task["taskId"]))["status"] == "cancelled"
    assert approval_item(stack, rid)["status"]["S"] == "CANCELLED"
    messages = [m for m in stack.slack.listing() if m["request_id"] == rid]
    assert messages[-1]["state"] == "cancelled"
    assert decide(stack, "approve", rid) == 1  # a click after the cancel changes nothing
    assert observer.executed[rid] == 0
    cancelled = [line for line in audit_log_lines(stack, rid) if line.get("rule_id") == "approval.cancelled"]
    assert [(c["reason"], c["user_email"]) for c in cancelled] == [("APPROVAL_CANCELLED", requester.email)]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_client_without_task_support_still_gets_the_pending_answer_and_get_request_status(
    stack: Any, session_factory: Any, observer: WorkflowObserver, version: str
) -> None:
    requester = session_factory(unique_email("nora"))
    async with connect(stack.info.mcp_url, requester.token, version, tasks=False) as client:
        result = await client.call_tool("get_object", ARGS)
        pending = result.structured_content
        assert pending["status"] == "pending" and pending["decision"]["reason"] == "REVIEW_REQUIRED"
        rid = pending["request_id"]
        status = (await client.call_tool("get_request_status", {"request_id": rid})).structured_content
    assert (status["status"], status["executed"]) == ("pending", False)
    observer.wait_notified(rid)
    stack.client("stepfunctions").stop_execution(executionArn=execution(stack, rid)["executionArn"])


def test_a_mismatched_mcp_method_header_is_refused_before_any_workflow_starts(stack: Any, session_factory: Any) -> None:
    requester = session_factory(unique_email("mona"))
    sfn = stack.client("stepfunctions")
    machine = stack.physical("ApprovalStateMachine")
    before = len(sfn.list_executions(stateMachineArn=machine)["executions"])
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "get_object",
            "arguments": {**ARGS, "key": f"README-{uuid.uuid4().hex}.txt"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    headers = {
        "Authorization": f"Bearer {requester.token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/list",
        "Mcp-Name": "get_object",
    }
    resp = httpx.post(stack.info.mcp_url, content=json.dumps(body), headers=headers, timeout=30)
    assert resp.json()["error"]["code"] == HEADER_MISMATCH
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == before
