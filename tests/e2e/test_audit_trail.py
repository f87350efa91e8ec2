"""The audit trail, end to end: every kind of call leaves exactly one complete outcome record (DynamoDB and
one log line); `mcp-gateway audit verify` catches an edited, a deleted and a reordered record in the real
table; the CLI answers the auditor's questions in the README's words against the local stack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import audit_items_by_sort_key, audit_log_lines, roomy_window, tool_answer, unique_email
from mcp_gateway_local.cli import main

pytestmark = pytest.mark.e2e

FLAGGING_INTENT = "read the readme before we delete the old exports"  # the policy's review.destructive-verbs

# What an auditor needs in every outcome record (issue 8): identity and context, what was asked, the decision,
# the prompt HMAC and sanitized parameters, the result, approval, latency, and the chain fields.
COMPLETE = {
    "request_id", "ts", "requested_at", "user_email", "groups", "token_id", "source_ip", "user_agent",
    "tool", "service", "action", "resources", "decision", "rule_id", "reason", "prompt_hmac", "parameters",
    "status", "result_reason", "bytes_returned", "redactions", "approval_id", "approver", "latency_ms",
    "chain_day", "seq", "prev_hash", "record_hash",
}  # fmt: skip


answer = tool_answer
outcome_items = audit_items_by_sort_key


def only_outcome(stack: Any, request_id: str) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    items = outcome_items(stack, request_id)
    outcomes = [i for sk, group in items.items() if sk.startswith("outcome") for i in group]
    assert len(outcomes) == 1, f"expected exactly one outcome record for {request_id}, found {len(outcomes)}"
    record = json.loads(outcomes[0]["record"]["S"])
    assert set(record) >= COMPLETE, f"incomplete record, missing {sorted(COMPLETE - set(record))}"
    assert record["request_id"] == request_id
    assert record["latency_ms"] is not None
    lines = audit_log_lines(stack, request_id)
    assert [line["record_hash"] for line in lines] == [record["record_hash"]], "exactly one identical log line"
    return record, items


def cli(stack: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--state-dir", str(stack.state_dir), *argv])
    return code, capsys.readouterr().out


def lowered_policy(stack: Any, tmp_path: Path, tier: str, limit: int) -> Path:
    policy = yaml.safe_load(Path(stack.policy_path).read_text())
    policy["rate_limits"]["tiers"][tier] = {"limit": limit, "window_seconds": roomy_window()}
    path = tmp_path / f"policy-{tier}-{limit}.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


# ----------------------------------------------------------------------------------------------------
# Done when 1: every kind of call leaves exactly one complete outcome record
# ----------------------------------------------------------------------------------------------------
async def test_an_allowed_call_leaves_an_intent_and_exactly_one_complete_outcome_record(
    stack: Any, session_factory: Any
) -> None:
    email = unique_email("allowed")
    async with session_factory(email).client() as client:
        result = await client.call_tool(
            "get_object", {"bucket": "acme-app-logs", "key": "README.txt", "intent": "what is in this bucket"}
        )
    body = answer(result)
    assert body["status"] == "ok"
    record, items = only_outcome(stack, body["request_id"])
    assert "intent" in items, "the write-ahead intent record exists for an executed call"
    assert (record["decision"], record["status"], record["user_email"]) == ("ALLOW", "ok", email)
    assert record["action"] == "s3:GetObject"
    assert record["resources"] == ["arn:aws:s3:::acme-app-logs/README.txt"]
    assert record["bytes_returned"] > 0
    assert record["token_id"] and record["source_ip"] and record["user_agent"]
    assert len(record["prompt_hmac"]) == 64 and "what is in this bucket" not in json.dumps(record)
    assert {"validate_ms", "execute_ms", "total_ms"} <= set(record["latency_ms"])


async def test_a_denied_call_leaves_exactly_one_complete_outcome_record_and_no_intent(
    stack: Any, session_factory: Any
) -> None:
    async with session_factory(unique_email("denied")).client() as client:
        result = await client.call_tool(
            "call_aws",
            {"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": "acme-scratch"}},
        )
    body = answer(result)
    record, items = only_outcome(stack, body["request_id"])
    assert (record["decision"], record["status"], record["reason"]) == ("DENY", "denied", "EXPLICIT_DENY")
    assert record["rule_id"] == "deny.delete"
    assert "intent" not in items


async def test_a_throttled_call_leaves_exactly_one_complete_outcome_record_and_no_intent(
    stack: Any, session_factory: Any, tmp_path: Path
) -> None:
    stack.redeploy("ValidateFunction", POLICY_PATH=str(lowered_policy(stack, tmp_path, "list", 1)))
    try:
        async with session_factory(unique_email("throttled")).client() as client:
            first = await client.call_tool("list_buckets", {})
            second = await client.call_tool("list_buckets", {})
    finally:
        stack.redeploy("ValidateFunction", POLICY_PATH=stack.policy_path)
    assert answer(first)["status"] == "ok"
    body = answer(second)
    record, items = only_outcome(stack, body["request_id"])
    assert (record["decision"], record["status"], record["reason"]) == ("DENY", "throttled", "THROTTLED")
    assert "intent" not in items


async def test_a_call_sent_to_review_leaves_exactly_one_pending_outcome_record_and_nothing_executes(
    stack: Any, session_factory: Any
) -> None:
    async with session_factory(unique_email("review")).client() as client:
        result = await client.call_tool(
            "get_object", {"bucket": "acme-app-logs", "key": "README.txt", "intent": FLAGGING_INTENT}
        )
    body = answer(result)
    assert body["status"] == "pending"
    record, items = only_outcome(stack, body["request_id"])
    assert (record["decision"], record["status"], record["reason"]) == (
        "REVIEW",
        "pending",
        "REVIEW_REQUIRED",
    )
    assert record["approval_id"] == body["request_id"]
    assert record["bytes_returned"] == 0
    assert "intent" not in items, "nothing runs before a human approves"


def test_an_authentication_failure_leaves_exactly_one_complete_outcome_record(stack: Any) -> None:
    marker = f"audit-trail-test/{time.time_ns()}"
    resp = httpx.post(
        stack.info.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "accept": "application/json, text/event-stream",
            "authorization": "Bearer forged",
            "user-agent": marker,
        },
        timeout=30,
    )
    assert resp.status_code == 401
    # every page: a query reads at most 1 MB before its filter, and the gateway's partition of the index holds
    # every auth failure the worker's earlier tests caused (the identity suite's storm alone is 1,000)
    pages = (
        stack.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=stack.physical("AuditTable"),
            IndexName="by-service",
            KeyConditionExpression="service = :s",
            FilterExpression="contains(#r, :m)",
            ExpressionAttributeNames={"#r": "record"},
            ExpressionAttributeValues={":s": {"S": "gateway"}, ":m": {"S": marker}},
        )
    )
    items = [item for page in pages for item in page["Items"]]
    assert len(items) == 1
    request_id = items[0]["pk"]["S"]
    record, _ = only_outcome(stack, request_id)
    assert (record["decision"], record["status"], record["rule_id"]) == ("DENY", "denied", "auth")
    assert record["reason"] == resp.json()["reason"]
    assert record["user_agent"] == marker
    assert record["source_ip"] == "127.0.0.1"
    assert "forged" not in json.dumps(record), "the token itself is never recorded"


async def test_an_execution_error_leaves_an_intent_and_exactly_one_complete_outcome_record(
    stack: Any, session_factory: Any
) -> None:
    async with session_factory(unique_email("missing")).client() as client:
        result = await client.call_tool("get_object", {"bucket": "acme-app-logs", "key": "no/such/key.log"})
    body = answer(result)
    assert result.is_error
    assert body["reason"] == "NOT_FOUND"
    record, items = only_outcome(stack, body["request_id"])
    assert (record["decision"], record["status"], record["result_reason"]) == ("ALLOW", "error", "NOT_FOUND")
    assert "intent" in items


# ----------------------------------------------------------------------------------------------------
# Done when 3: `audit verify` catches an edited, a deleted and a reordered record (attacker with table access)
# ----------------------------------------------------------------------------------------------------
async def three_chained_records(stack: Any, session_factory: Any) -> list[dict[str, Any]]:
    """Three fresh outcome records in today's chain, in order (other workflows may append between them)."""
    ids = []
    async with session_factory(unique_email("chain")).client() as client:
        for _ in range(3):
            ids.append(answer(await client.call_tool("list_buckets", {}))["request_id"])
    ddb = stack.client("dynamodb")
    items = [
        ddb.get_item(TableName=stack.physical("AuditTable"), Key={"pk": {"S": i}, "sk": {"S": "outcome"}})["Item"]
        for i in ids
    ]
    seqs = [int(i["seq"]["N"]) for i in items]
    assert seqs == sorted(set(seqs)) and len({i["chain_day"]["S"] for i in items}) == 1
    return items


def verify(stack: Any, capsys: pytest.CaptureFixture[str], day: str) -> tuple[int, list[dict[str, Any]]]:
    code, out = cli(stack, capsys, "audit", "verify", "--day", day, "--no-orphans", "--format", "json")
    report = json.loads(out)
    return code, report["findings"]


def put(stack: Any, item: dict[str, Any]) -> None:
    stack.client("dynamodb").put_item(TableName=stack.physical("AuditTable"), Item=item)


def with_record(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The item with its stored record changed, and the projected index attributes changed to match (a careful
    attacker keeps the indexes consistent, so only the chain can tell)."""
    record = json.loads(item["record"]["S"])
    record.update(changes)
    edited = {**item, "record": {"S": json.dumps(record, separators=(",", ":"), sort_keys=True)}}
    for name, value in changes.items():
        if name in edited:
            edited[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
    return edited


Tamper = Callable[[Any, list[dict[str, Any]]], None]


def edit_one(stack: Any, items: list[dict[str, Any]]) -> None:
    put(stack, with_record(items[1], decision="ALLOW", status="ok", user_email="someone-else@example.com"))


def delete_one(stack: Any, items: list[dict[str, Any]]) -> None:
    stack.client("dynamodb").delete_item(
        TableName=stack.physical("AuditTable"), Key={"pk": items[1]["pk"], "sk": items[1]["sk"]}
    )


def reorder_two(stack: Any, items: list[dict[str, Any]]) -> None:
    a, b = items[0], items[1]
    put(stack, with_record(a, seq=int(b["seq"]["N"])))
    put(stack, with_record(b, seq=int(a["seq"]["N"])))


async def caught_and_undone(stack: Any, session_factory: Any, capsys: Any, tamper: Tamper, kind: str) -> None:
    """Tamper with three fresh consecutive records; `audit verify` must report ``kind``; then restore."""
    items = await three_chained_records(stack, session_factory)
    day = items[0]["chain_day"]["S"]
    assert verify(stack, capsys, day) == (0, [])

    tamper(stack, items)
    try:
        code, findings = verify(stack, capsys, day)
        assert code == 1
        assert kind in {f["kind"] for f in findings}
        seqs = {int(i["seq"]["N"]) for i in items}
        assert {f["seq"] for f in findings if f["kind"] == kind} <= seqs
    finally:
        for item in items:  # restore the originals, so the rest of the session sees an intact chain
            put(stack, item)
    assert verify(stack, capsys, day) == (0, [])


async def test_audit_verify_catches_a_single_edited_record(stack: Any, session_factory: Any, capsys: Any) -> None:
    await caught_and_undone(stack, session_factory, capsys, edit_one, "edited")


async def test_audit_verify_catches_a_deleted_record(stack: Any, session_factory: Any, capsys: Any) -> None:
    await caught_and_undone(stack, session_factory, capsys, delete_one, "deleted")


async def test_audit_verify_catches_a_reordered_record(stack: Any, session_factory: Any, capsys: Any) -> None:
    await caught_and_undone(stack, session_factory, capsys, reorder_two, "reordered")


async def test_audit_verify_flags_an_index_attribute_edited_to_hide_a_record_from_by_user_queries(
    stack: Any, session_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    items = await three_chained_records(stack, session_factory)
    day = items[0]["chain_day"]["S"]
    put(stack, {**items[0], "user_email": {"S": "nobody@example.com"}})
    try:
        code, findings = verify(stack, capsys, day)
        assert code == 1
        assert [f["kind"] for f in findings] == ["index_mismatch"]
        assert findings[0]["request_id"] == items[0]["pk"]["S"]
    finally:
        put(stack, items[0])


# ----------------------------------------------------------------------------------------------------
# Done when 4: the auditor's questions, in the README's words
# ----------------------------------------------------------------------------------------------------
async def calls_as(session_factory: Any, email: str, *calls: tuple[str, dict[str, Any]]) -> list[str]:
    ids = []
    async with session_factory(email).client() as client:
        for tool, arguments in calls:
            ids.append(answer(await client.call_tool(tool, arguments))["request_id"])
    return ids


async def test_the_cli_answers_all_s3_access_by_alice_this_week(
    stack: Any, session_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    s3_ids = await calls_as(
        session_factory,
        "alice@example.com",
        ("list_buckets", {}),
        ("get_object", {"bucket": "acme-app-logs", "key": "README.txt"}),
        (
            "call_aws",
            {"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": "acme-scratch"}},
        ),
    )
    logs_ids = await calls_as(
        session_factory, "alice@example.com", ("filter_log_events", {"log_group": "/aws/lambda/orders-api"})
    )
    bob_ids = await calls_as(session_factory, "bob@example.com", ("list_buckets", {}))

    code, out = cli(stack, capsys, "audit", "--user", "alice@example.com", "--service", "s3", "--since", "7d",
                    "--format", "json")  # fmt: skip
    assert code == 0
    records = json.loads(out)
    found = {r["request_id"] for r in records}
    assert set(s3_ids) <= found
    assert not (set(logs_ids) | set(bob_ids)) & found
    assert {(r["user_email"], r["service"]) for r in records} == {("alice@example.com", "s3")}
    assert {"ALLOW", "DENY"} <= {r["decision"] for r in records}

    code, table = cli(stack, capsys, "audit", "--user", "alice@example.com", "--service", "s3", "--since", "7d")
    assert code == 0
    assert all(rid in table for rid in s3_ids)
    question = ("audit", "--user", "alice@example.com", "--service", "s3", "--since", "7d")
    code, text = cli(stack, capsys, *question, "--format", "csv")
    header, *rows = text.strip().splitlines()
    assert header.split(",")[:3] == ["ts", "request_id", "user_email"]
    assert {row.split(",")[1] for row in rows} == found


async def test_the_cli_answers_everything_for_prompt_hash_h(
    stack: Any, session_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = f"why does checkout time out {time.time_ns()}"
    ids = await calls_as(
        session_factory,
        unique_email("prompter"),
        ("list_buckets", {"intent": prompt}),
        ("get_object", {"bucket": "acme-app-logs", "key": "README.txt", "intent": prompt}),
        ("filter_log_events", {"log_group": "/aws/lambda/orders-api", "intent": prompt}),
        ("list_buckets", {"intent": "another question"}),
    )
    code, out = cli(stack, capsys, "audit", "--prompt", prompt, "--format", "json")
    assert code == 0
    by_text = json.loads(out)
    assert [r["request_id"] for r in by_text] == ids[:3]
    digest = by_text[0]["prompt_hmac"]
    code, out = cli(stack, capsys, "audit", "--prompt-hash", digest, "--format", "json")
    assert code == 0
    assert json.loads(out) == by_text
    assert {r["action"] for r in by_text} == {"s3:ListAllMyBuckets", "s3:GetObject", "logs:FilterLogEvents"}


async def test_a_csv_export_cannot_smuggle_a_spreadsheet_formula(
    stack: Any, session_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = f'=HYPERLINK("http://evil.example/{time.time_ns()}")'
    resp = httpx.post(
        stack.info.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"accept": "application/json, text/event-stream", "user-agent": marker},
        timeout=30,
    )
    assert resp.status_code == 401
    code, text = cli(stack, capsys, "audit", "--service", "gateway", "--since", "1h", "--format", "csv")
    assert code == 0
    rows = [row for row in text.splitlines() if "evil.example" in row]
    assert len(rows) == 1
    assert "'=HYPERLINK" in rows[0]
