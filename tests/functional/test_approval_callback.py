"""The Slack approval callback, over real HTTP against the local stack: every forged, replayed, duplicate,
unauthorized, self-, mismatched or expired callback is rejected with its reason code AND audited; nothing
executes unless one allowed approver's signed click wins the one conditional write."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from approval_support import (
    APPROVER_EMAIL,
    WorkflowObserver,
    approval_item,
    audit_items,
    callback_audit,
    click,
    flag_request,
    observing,
    send,
)
from conftest import unique_email
from mcp_gateway.adapters.approval_store import ApprovalStore
from mcp_gateway.adapters.slack_api import SlackApi
from mcp_gateway.adapters.task_tokens import TaskTokens
from mcp_gateway.domain.approval import ApproverDirectory
from mcp_gateway.domain.slack import sign_slack_request
from mcp_gateway.handlers.approval import ApprovalCallback
from mcp_gateway_local import slack_standin as slack

# Slack's published example ("Verifying requests from Slack",
# api.slack.com/authentication/verifying-requests-from-slack)
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


@pytest.fixture
def observer(stack: Any) -> Iterator[WorkflowObserver]:
    with observing(stack) as obs:
        yield obs


def pending(stack: Any, observer: WorkflowObserver, email: str | None = None) -> str:
    answer = flag_request(stack, email or unique_email("requester"))
    assert answer["status"] == "pending", answer
    rid = str(answer["request_id"])
    observer.wait_notified(rid)
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"
    return rid


def only_record(stack: Any, marker: str) -> dict[str, Any]:
    records = callback_audit(stack, marker)
    assert len(records) == 1, records
    return records[0]


def assert_rejected(stack: Any, marker: str, reason: str, rid: str = "") -> dict[str, Any]:
    record = only_record(stack, marker)
    assert record["decision"] == "DENY"
    assert record["reason"] == reason
    assert record["rule_id"] == "approval.callback"
    assert record["approval_id"] == rid
    return record


# ---------------------------------------------------------------------------------------------------------------
# Signature
# ---------------------------------------------------------------------------------------------------------------
def test_slacks_published_known_answer_vector_passes_the_real_callback_handler(stack: Any) -> None:
    assert (
        sign_slack_request(SLACK_BODY, SLACK_SECRET.encode(), SLACK_TIMESTAMP)["X-Slack-Signature"] == SLACK_SIGNATURE
    )
    audited: list[dict[str, Any]] = []
    handler = ApprovalCallback(
        ApprovalStore(stack.client("dynamodb"), stack.physical("ApprovalsTable")),
        TaskTokens(stack.client("stepfunctions")),
        SlackApi(stack.info.slack_url + "/api", lambda: "xoxb-unused"),
        lambda: {"bot_token": "xoxb-unused", "signing_secret": SLACK_SECRET, "channel": "C0LOCAL01"},
        ApproverDirectory(),
        audited.append,
        clock=lambda: float(SLACK_TIMESTAMP + 1),
    )

    def event(body: bytes, signature: str) -> dict[str, Any]:
        return {
            "headers": {"x-slack-request-timestamp": str(SLACK_TIMESTAMP), "x-slack-signature": signature},
            "body": body.decode(),
            "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST", "sourceIp": "127.0.0.1", "userAgent": "kat"}},
        }

    # The vector verifies; the body then fails only as an interaction (it is a slash command).
    assert handler.handle(event(SLACK_BODY, SLACK_SIGNATURE))["statusCode"] == 400
    assert [r["reason"] for r in audited] == ["CALLBACK_MALFORMED"]
    assert handler.handle(event(SLACK_BODY.replace(b"foobar", b"foobaz"), SLACK_SIGNATURE))["statusCode"] == 401
    assert audited[-1]["reason"] == "SIGNATURE_INVALID"


# 301 s in the past is just past the tolerance (300 s), and time passing only takes it further. A stamp in the future
# comes back inside while the call is on its way (at 301 s, a call taking a second was accepted): 360 s leaves it a
# minute. The exact boundary is tested with a fixed clock in tests/unit.
@pytest.mark.parametrize("skew", [-301, 360])
def test_a_timestamp_more_than_300_seconds_off_is_rejected_and_audited(
    stack: Any, observer: WorkflowObserver, skew: int
) -> None:
    rid = pending(stack, observer)
    status, answer, marker = send(stack, click(stack, rid), timestamp=int(time.time()) + skew)
    assert (status, answer) == (401, {"ok": False, "error": "invalid_request"})
    assert_rejected(stack, marker, "SIGNATURE_STALE")
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"


def test_a_body_with_one_byte_changed_is_rejected_and_audited(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer)
    body = click(stack, rid)
    headers = slack.signed_callback(body, stack.info.slack_signing_secret)
    i = body.index(b"approve")
    tampered = body[:i] + b"d" + body[i + 1 :]  # still one byte: "approve" -> "dpprove"
    status, _, marker = send(stack, tampered, headers=headers)
    assert status == 401
    assert_rejected(stack, marker, "SIGNATURE_INVALID")


def test_a_reserialised_body_with_the_same_payload_is_rejected_and_audited(
    stack: Any, observer: WorkflowObserver
) -> None:
    rid = pending(stack, observer)
    body = click(stack, rid)
    headers = slack.signed_callback(body, stack.info.slack_signing_secret)
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    reserialised = urllib.parse.urlencode({"payload": json.dumps(payload, indent=1, sort_keys=True)}).encode()
    assert reserialised != body and json.loads(urllib.parse.parse_qs(reserialised.decode())["payload"][0]) == payload
    status, _, marker = send(stack, reserialised, headers=headers)
    assert status == 401
    assert_rejected(stack, marker, "SIGNATURE_INVALID")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h.pop("X-Slack-Signature"), "CALLBACK_MALFORMED"),
        (lambda h: h.pop("X-Slack-Request-Timestamp"), "CALLBACK_MALFORMED"),
        (lambda h: h.update({"X-Slack-Signature": ""}), "CALLBACK_MALFORMED"),
        (lambda h: h.update({"X-Slack-Request-Timestamp": "soon"}), "SIGNATURE_STALE"),
        (lambda h: h.update({"X-Slack-Signature": "v0=not-hex"}), "SIGNATURE_INVALID"),
        (lambda h: h.update({"X-Slack-Signature": h["X-Slack-Signature"].upper()}), "SIGNATURE_INVALID"),
    ],
    ids=[
        "no-signature",
        "no-timestamp",
        "empty-signature",
        "timestamp-not-a-number",
        "signature-not-hex",
        "uppercase",
    ],
)
def test_missing_or_malformed_headers_are_rejected_and_audited(
    stack: Any, observer: WorkflowObserver, mutate: Any, reason: str
) -> None:
    rid = pending(stack, observer)
    body = click(stack, rid)
    headers = slack.signed_callback(body, stack.info.slack_signing_secret)
    mutate(headers)
    status, _, marker = send(stack, body, headers=headers)
    assert status == 401
    assert_rejected(stack, marker, reason)
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"


def test_a_wrong_version_prefix_is_rejected_and_audited(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer)
    body = click(stack, rid)
    headers = slack.signed_callback(body, stack.info.slack_signing_secret)
    headers["X-Slack-Signature"] = "v1=" + headers["X-Slack-Signature"][3:]
    status, _, marker = send(stack, body, headers=headers)
    assert status == 401
    assert_rejected(stack, marker, "SIGNATURE_INVALID")


# ---------------------------------------------------------------------------------------------------------------
# Replays, duplicates and who may decide
# ---------------------------------------------------------------------------------------------------------------
def test_an_approval_executes_once_and_a_replay_inside_the_window_is_rejected_and_audited(
    stack: Any, observer: WorkflowObserver
) -> None:
    rid = pending(stack, observer)
    body = click(stack, rid)
    headers = slack.signed_callback(body, stack.info.slack_signing_secret)
    started = time.monotonic()
    status, answer, marker = send(stack, body, headers=headers)
    assert time.monotonic() - started < 3.0, "Slack needs an answer within 3 seconds"
    assert (status, answer) == (200, {"ok": True, "decision": "APPROVED"})
    accepted = only_record(stack, marker)
    assert (accepted["decision"], accepted["reason"], accepted["approver"]) == (
        "ALLOW",
        "ALLOWED",
        APPROVER_EMAIL,
    )

    replay_status, replay, replay_marker = send(stack, body, headers=headers)  # same bytes, same signature
    assert (replay_status, replay) == (200, {"ok": False, "reason": "CALLBACK_REPLAY"})
    assert_rejected(stack, replay_marker, "CALLBACK_REPLAY")

    outcome = observer.wait_finished(rid)
    assert outcome["status"] == "ok"
    assert observer.executed[rid] == 1
    item = approval_item(stack, rid)
    assert item["status"]["S"] == "APPROVED"
    assert item["decided_by"]["S"] == APPROVER_EMAIL
    records = audit_items(stack, rid)
    assert records["outcome"]["status"] == "pending"  # the request workflow's answer to the agent
    assert "intent" in records  # write-ahead, by the approval workflow, before Execute
    final = records["outcome#approval"]
    assert (final["decision"], final["status"], final["approver"]) == ("ALLOW", "ok", APPROVER_EMAIL)


def test_a_duplicate_click_is_rejected_and_audited_and_does_not_execute_again(
    stack: Any, observer: WorkflowObserver
) -> None:
    rid = pending(stack, observer)
    assert send(stack, click(stack, rid))[0] == 200
    status, answer, marker = send(stack, click(stack, rid))  # a second, separately signed click
    assert (status, answer) == (200, {"ok": False, "reason": "ALREADY_DECIDED"})
    assert_rejected(stack, marker, "ALREADY_DECIDED", rid)
    observer.wait_finished(rid)
    assert observer.executed[rid] == 1


def test_an_approver_who_is_not_allowed_is_rejected_and_audited(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer)
    status, answer, marker = send(stack, click(stack, rid, user_id="U0MALLORY1", user_name="mallory"))
    assert (status, answer) == (200, {"ok": False, "reason": "APPROVER_NOT_ALLOWED"})
    record = assert_rejected(stack, marker, "APPROVER_NOT_ALLOWED", rid)
    assert record["approver"] == "U0MALLORY1"
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"
    assert observer.executed[rid] == 0


def test_self_approval_is_rejected_and_audited(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer, email=APPROVER_EMAIL)  # carol asks; carol is an approver
    status, answer, marker = send(stack, click(stack, rid))
    assert (status, answer) == (200, {"ok": False, "reason": "SELF_APPROVAL"})
    assert_rejected(stack, marker, "SELF_APPROVAL", rid)
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"
    assert observer.executed[rid] == 0


def test_a_request_hash_mismatch_is_rejected_and_audited(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer)
    forged_value = json.dumps({"request_id": rid, "request_hash": "0" * 64}, separators=(",", ":"))
    status, answer, marker = send(stack, click(stack, rid, value=forged_value))
    assert (status, answer) == (200, {"ok": False, "reason": "REQUEST_HASH_MISMATCH"})
    assert_rejected(stack, marker, "REQUEST_HASH_MISMATCH", rid)
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"


def test_an_expired_approval_is_rejected_and_audited(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer)
    # The approval window is data on the item: move its end into the past (as time would).
    stack.client("dynamodb").update_item(
        TableName=stack.physical("ApprovalsTable"),
        Key={"pk": {"S": rid}},
        UpdateExpression="SET approval_expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    status, answer, marker = send(stack, click(stack, rid))
    assert (status, answer) == (200, {"ok": False, "reason": "APPROVAL_EXPIRED"})
    assert_rejected(stack, marker, "APPROVAL_EXPIRED", rid)
    assert approval_item(stack, rid)["status"]["S"] == "PENDING"
    assert observer.executed[rid] == 0


def test_a_click_for_an_unknown_request_is_rejected_and_audited(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer)
    other = "req-" + "f" * 32
    value = json.dumps({"request_id": other, "request_hash": "0" * 64}, separators=(",", ":"))
    status, answer, marker = send(stack, click(stack, rid, value=value))
    assert (status, answer) == (200, {"ok": False, "reason": "NOT_FOUND"})
    assert_rejected(stack, marker, "NOT_FOUND", other)


def test_a_deny_click_records_the_decision_and_nothing_executes(stack: Any, observer: WorkflowObserver) -> None:
    rid = pending(stack, observer)
    status, answer, marker = send(stack, click(stack, rid, "deny"))
    assert (status, answer) == (200, {"ok": True, "decision": "DENIED"})
    assert only_record(stack, marker)["reason"] == "APPROVAL_DENIED"
    outcome = observer.wait_finished(rid)
    assert (outcome["status"], outcome["decision"]["reason"]) == ("denied", "APPROVAL_DENIED")
    assert observer.executed[rid] == 0
    assert "intent" not in audit_items(stack, rid)
    updated = [m for m in stack.slack.listing() if m["request_id"] == rid]
    assert updated and updated[-1]["state"] == "denied"
