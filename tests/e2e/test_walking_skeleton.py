"""One MCP tool call through the whole gateway: real HTTP, the official MCP client, the real state machine
executing in moto, real handlers, DynamoDB rate limits, and audit records in DynamoDB and the audit log group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import audit_log_lines, audit_records, roomy_window, unique_email

pytestmark = pytest.mark.e2e


def structured(result: Any) -> dict[str, Any]:
    if result.structured_content is not None:
        return result.structured_content  # type: ignore[no-any-return]
    return json.loads(result.content[0].text)  # type: ignore[no-any-return]


async def test_an_agent_lists_tools_and_reads_buckets_and_logs_through_the_gateway(
    stack: Any, session_factory: Any
) -> None:
    session = session_factory(unique_email("alice"))
    async with session.client() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"list_buckets", "list_objects", "get_object", "filter_log_events", "get_metric_data"} <= set(tools)
        for tool in tools.values():
            assert tool.description
            assert tool.input_schema["type"] == "object"
            assert tool.annotations is not None

        buckets = await client.call_tool("list_buckets", {"intent": "find where the app logs are exported"})
        assert not buckets.is_error
        body = structured(buckets)
        assert body["status"] == "ok"
        names = {b["name"] for b in body["result"]["buckets"]}
        assert {"acme-app-logs", "acme-customer-exports"} <= names

        logs = await client.call_tool(
            "filter_log_events",
            {
                "log_group": "/aws/lambda/orders-api",
                "filter_pattern": "ERROR",
                "limit": 20,
                "intent": "debug checkout timeouts",
            },
        )
        assert not logs.is_error
        events = structured(logs)["result"]["events"]
        assert events
        assert all("ERROR" in e["message"] for e in events)


async def test_every_call_leaves_an_audit_record_in_dynamodb_and_in_the_audit_log_group(
    stack: Any, session_factory: Any
) -> None:
    email = unique_email("auditee")
    session = session_factory(email)
    async with session.client() as client:
        result = await client.call_tool(
            "filter_log_events", {"log_group": "/aws/lambda/payments-worker", "intent": "payments errors"}
        )
    request_id = structured(result)["request_id"]
    records = audit_records(stack, request_id)
    assert "intent" in records, "the write-ahead intent record must exist"
    outcome = records["outcome"]
    assert outcome["user_email"] == email
    assert outcome["action"] == "logs:FilterLogEvents"
    assert outcome["resources"] == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/payments-worker"]
    assert outcome["decision"] == "ALLOW"
    assert outcome["status"] == "ok"
    assert outcome["latency_ms"]["total_ms"] > 0
    assert outcome["latency_ms"]["validate_ms"] >= 0
    assert outcome["prompt_hmac"] and "payments errors" not in json.dumps(outcome)
    lines = audit_log_lines(stack, request_id)
    assert len(lines) == 1
    assert lines[0]["record_hash"] == outcome["record_hash"]
    assert lines[0]["user_email"] == email


async def test_a_delete_is_refused_with_a_reason_code_and_nothing_runs_against_aws(
    stack: Any, session_factory: Any
) -> None:
    session = session_factory(unique_email("mallory"))
    s3 = stack.client("s3")
    before = {o["Key"] for o in s3.list_objects_v2(Bucket="acme-scratch").get("Contents", [])}
    async with session.client() as client:
        result = await client.call_tool(
            "call_aws",
            {"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": "acme-scratch"}},
        )
        result_obj = await client.call_tool(
            "call_aws",
            {
                "service": "s3",
                "operation": "DeleteObject",
                "parameters": {"Bucket": "acme-scratch", "Key": "notes/incident-2026-11-20.md"},
            },
        )
    for r in (result, result_obj):
        assert r.is_error
        error = json.loads(r.content[0].text)["error"]
        assert error["reason"] == "EXPLICIT_DENY"
        assert error["rule_id"] == "deny.delete"
        records = audit_records(stack, error["request_id"])
        assert records["outcome"]["decision"] == "DENY"
        assert records["outcome"]["reason"] == "EXPLICIT_DENY"
        assert "intent" not in records, "a denied request never reaches the execute step"
    assert "acme-scratch" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    after = {o["Key"] for o in s3.list_objects_v2(Bucket="acme-scratch").get("Contents", [])}
    assert after == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Basic YWxpY2U6c2VjcmV0"},
    ],
    ids=["no token", "garbage bearer token", "wrong scheme"],
)
def test_a_request_without_a_valid_token_gets_401_and_starts_no_workflow(stack: Any, headers: dict[str, str]) -> None:
    sfn = stack.client("stepfunctions")
    arn = stack.physical("RequestStateMachine")
    before = len(sfn.list_executions(stateMachineArn=arn)["executions"])
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list_buckets", "arguments": {}},
    }
    resp = httpx.post(
        stack.info.mcp_url,
        json=body,
        headers={"accept": "application/json, text/event-stream", **headers},
        timeout=30,
    )
    assert resp.status_code == 401
    challenge = resp.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert "resource_metadata=" in challenge
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == before


def test_an_idp_token_sent_straight_to_mcp_is_rejected(stack: Any, session_factory: Any) -> None:
    session = session_factory(unique_email("passthrough"))
    resp = httpx.post(
        stack.info.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "accept": "application/json, text/event-stream",
            "authorization": f"Bearer {session.idp_token}",
        },
        timeout=30,
    )
    assert resp.status_code == 401
    assert resp.json()["reason"] in {
        "AUTH_WRONG_TOKEN_TYPE",
        "AUTH_WRONG_ISSUER",
        "AUTH_WRONG_AUDIENCE",
        "AUTH_UNKNOWN_KEY",
    }


async def test_the_call_just_past_a_lowered_write_limit_is_throttled_and_audited(
    stack: Any, session_factory: Any, tmp_path: Path
) -> None:
    policy = yaml.safe_load(Path(stack.policy_path).read_text())
    policy["rate_limits"]["tiers"]["write"] = {"limit": 2, "window_seconds": roomy_window()}
    lowered = tmp_path / "policy-lowered.yaml"
    lowered.write_text(yaml.safe_dump(policy))
    stack.redeploy("ValidateFunction", POLICY_PATH=str(lowered))
    try:
        session = session_factory(unique_email("sre"), ["sre"])
        async with session.client() as client:
            outcomes = []
            for i in range(3):
                r = await client.call_tool(
                    "put_object",
                    {"bucket": "acme-scratch", "key": f"notes/n{i}.txt", "text": "checked dashboards"},
                )
                outcomes.append(r)
        assert [r.is_error for r in outcomes] == [False, False, True]
        error = json.loads(outcomes[2].content[0].text)["error"]
        assert error["reason"] == "THROTTLED"
        assert error["limits"]["tier"] == "write"
        assert error["limits"]["limit"] == 2
        assert error["limits"]["retry_after_seconds"] >= 1
        record = audit_records(stack, error["request_id"])["outcome"]
        assert record["reason"] == "THROTTLED"
        assert record["status"] == "throttled"
    finally:
        stack.redeploy("ValidateFunction", POLICY_PATH=stack.policy_path)
