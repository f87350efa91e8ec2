"""Nothing is lost: DynamoDB failing under the audit trail, injected into the moto server of the local stack.

- The write-ahead intent record cannot be written (throttled, or refused): the call is denied with
  AUDIT_UNAVAILABLE and nothing executes.
- The outcome record cannot be written: the workflow retries, parks the state in the dead-letter queue, and
  `mcp-gateway audit replay` lands it exactly once; duplicates are harmless.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import audit_items_by_sort_key, audit_log_lines, tool_answer, unique_email
from faults import attr, counting_invocations, dynamodb_write_fails
from mcp_gateway_local.cli import main

# The audit table refuses the outcome write (e.g. a key policy gone wrong). The SDK does not retry this one;
# the workflow's Retry on AuditOutcome does, then parks the state in the dead-letter queue.
OUTCOME_FAULT = "AccessDeniedException"


answer = tool_answer
items_for = audit_items_by_sort_key


def cli(stack: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["--state-dir", str(stack.state_dir), *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def object_exists(stack: Any, bucket: str, key: str) -> bool:
    listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
    return any(o["Key"] == key for o in listed)


async def intent_write_fails_then_nothing_executes(
    stack: Any, session_factory: Any, code: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    email = unique_email("intent-fault")
    key = f"notes/{email}.txt"

    def intents_of_this_user(table: str, item: dict[str, Any]) -> bool:
        return attr(item, "sk") == "intent" and attr(item, "requester") == email

    session = session_factory(email, ["sre"])
    with (
        dynamodb_write_fails(intents_of_this_user, code) as fault,
        counting_invocations(stack, "ExecuteFunction") as executed,
    ):
        async with session.client() as client:
            result = await client.call_tool(
                "put_object", {"bucket": "acme-scratch", "key": key, "text": "written only if audited"}
            )
    assert fault.hits, "the injected fault fired"
    assert executed == [], "the execute function was never invoked"
    assert not object_exists(stack, "acme-scratch", key), "nothing ran against AWS"
    body = answer(result)
    assert result.is_error
    assert body["reason"] == "AUDIT_UNAVAILABLE"
    items = items_for(stack, body["request_id"])
    assert "intent" not in items
    assert len(items["outcome"]) == 1
    record = json.loads(items["outcome"][0]["record"]["S"])
    return body, record


async def test_a_throttled_intent_write_denies_the_call_with_audit_unavailable_and_nothing_executes(
    stack: Any, session_factory: Any
) -> None:
    _, record = await intent_write_fails_then_nothing_executes(
        stack, session_factory, "ProvisionedThroughputExceededException"
    )
    assert (record["decision"], record["reason"], record["rule_id"]) == (
        "DENY",
        "AUDIT_UNAVAILABLE",
        "audit.intent-failed",
    )
    assert record["status"] == "denied"


async def test_a_refused_intent_write_denies_the_call_with_audit_unavailable_and_nothing_executes(
    stack: Any, session_factory: Any
) -> None:
    _, record = await intent_write_fails_then_nothing_executes(stack, session_factory, "AccessDeniedException")
    assert (record["decision"], record["reason"]) == ("DENY", "AUDIT_UNAVAILABLE")


async def test_a_failed_outcome_write_arrives_through_the_dead_letter_queue_and_replay_lands_it_exactly_once(
    stack: Any, session_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    email = unique_email("outcome-fault")

    def outcomes_of_this_user(table: str, item: dict[str, Any]) -> bool:
        return attr(item, "sk").startswith("outcome") and attr(item, "user_email") == email

    with dynamodb_write_fails(outcomes_of_this_user, OUTCOME_FAULT) as fault:
        async with session_factory(email).client() as client:
            result = await client.call_tool(
                "get_object", {"bucket": "acme-app-logs", "key": "README.txt", "intent": "read the readme"}
            )
    body = answer(result)
    request_id = body["request_id"]
    assert len(fault.hits) >= 3, "the audit step was tried and retried by the workflow"
    assert body["status"] == "ok"
    assert body["audit"] == "deferred", "the agent is told its record is parked, not lost"
    items = items_for(stack, request_id)
    assert "intent" in items and "outcome" not in items
    assert audit_log_lines(stack, request_id) == []

    code, report = cli(stack, capsys, "audit", "verify", "--grace", "0", "--format", "json")
    assert code == 1
    assert {"kind": "orphan_intent", "request_id": request_id} in [
        {"kind": f["kind"], "request_id": f["request_id"]} for f in report["findings"]
    ], "an executed action without its outcome is reported"

    code, replayed = cli(stack, capsys, "audit", "replay", "--format", "json")
    assert code == 0
    assert request_id in replayed["recorded"]
    items = items_for(stack, request_id)
    assert len(items["outcome"]) == 1
    record = json.loads(items["outcome"][0]["record"]["S"])
    assert (record["decision"], record["status"], record["user_email"]) == ("ALLOW", "ok", email)
    assert record["bytes_returned"] > 0
    assert record["delivery"] == "dead-letter-replay"
    assert [line["record_hash"] for line in audit_log_lines(stack, request_id)] == [record["record_hash"]]

    code, report = cli(stack, capsys, "audit", "verify", "--grace", "0", "--format", "json")
    assert code == 0, report["findings"]


async def test_a_duplicate_dead_letter_is_harmless_replay_keeps_exactly_one_record(
    stack: Any, session_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    email = unique_email("duplicate")

    def outcomes_of_this_user(table: str, item: dict[str, Any]) -> bool:
        return attr(item, "sk").startswith("outcome") and attr(item, "user_email") == email

    sqs = stack.client("sqs")
    queue = stack.physical("AuditDeadLetterQueue")
    with dynamodb_write_fails(outcomes_of_this_user, OUTCOME_FAULT):
        async with session_factory(email).client() as client:
            request_id = answer(await client.call_tool("list_buckets", {}))["request_id"]
    parked = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    bodies = [m["Body"] for m in parked if request_id in m["Body"]]
    assert len(bodies) == 1
    sqs.send_message(QueueUrl=queue, MessageBody=bodies[0])  # SQS delivers at least once: a second copy

    code, replayed = cli(stack, capsys, "audit", "replay", "--format", "json")
    assert code == 0
    assert replayed["recorded"].count(request_id) == 1
    assert replayed["duplicates"].count(request_id) == 1
    code, again = cli(stack, capsys, "audit", "replay", "--format", "json")
    assert (code, again["recorded"], again["duplicates"]) == (0, [], [])
    assert len(items_for(stack, request_id)["outcome"]) == 1
    assert len(audit_log_lines(stack, request_id)) == 1
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


async def test_a_message_that_is_not_a_parked_state_is_left_in_the_queue_as_evidence(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = stack.client("sqs")
    queue = stack.physical("AuditDeadLetterQueue")
    sqs.send_message(QueueUrl=queue, MessageBody='{"not": "a workflow state"}')
    code, replayed = cli(stack, capsys, "audit", "replay", "--format", "json")
    assert code == 1
    assert replayed["unreadable"] == 1
    parked = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0)
    assert [m["Body"] for m in parked.get("Messages", [])] == ['{"not": "a workflow state"}']
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=parked["Messages"][0]["ReceiptHandle"])
