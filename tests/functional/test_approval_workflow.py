"""The approval state machine's own paths, with a real (one-second) TimeoutSeconds: no decision in time means
EXPIRED, an audit outcome with APPROVAL_EXPIRED, and no execution."""

from __future__ import annotations

import json
import time
from typing import Any

from approval_support import approval_item, audit_items, click, observing, send
from conftest import unique_email


def approval_input(rid: str, email: str, timeout_seconds: int) -> dict[str, Any]:
    """What the request workflow's StartApproval state passes (same shape as Validate's output)."""
    now = int(time.time())
    return {
        "request": {
            "request_id": rid,
            "tool": "get_object",
            "service": "s3",
            "operation": "GetObject",
            "action": "s3:GetObject",
            "parameters": {"Bucket": "acme-app-logs", "Key": "README.txt", "Range": "bytes=0-1023"},
            "resources": ["arn:aws:s3:::acme-app-logs/README.txt"],
            "principal": {
                "sub": email,
                "email": email,
                "groups": ["developers"],
                "token_id": "t",
                "expires_at": now + 900,
            },
            "context": {"source_ip": "127.0.0.1", "user_agent": "test"},
            "requested_at": now,
            "prompt_hmac": "0" * 64,
            "parameters_sanitized": {"Bucket": "acme-app-logs", "Key": "README.txt"},
        },
        "decision": {
            "outcome": "REVIEW",
            "reason": "REVIEW_REQUIRED",
            "rule_id": "review.action",
            "tier": "read",
            "hint": "",
            "message": "",
            "policy_version": "test",
            "limits": {},
        },
        "limits": {"max_object_bytes": 1024, "max_result_bytes": 4096, "see_pii": False},
        "approval": {
            "approval_id": rid,
            "request_hash": "ab" * 32,
            "expires_at": now + timeout_seconds,
            "timeout_seconds": timeout_seconds,
        },
        "intent_item": {
            "pk": {"S": rid},
            "sk": {"S": "intent"},
            "kind": {"S": "intent"},
            "requester": {"S": email},
        },
    }


def test_a_real_task_timeout_expires_the_approval_and_nothing_executes(stack: Any) -> None:
    rid = f"req-timeout-{time.time_ns()}"
    email = unique_email("ivy")
    with observing(stack) as observer:
        stack.client("stepfunctions").start_execution(
            stateMachineArn=stack.physical("ApprovalStateMachine"),
            name=rid,
            input=json.dumps(approval_input(rid, email, 1)),
        )
        observer.wait_notified(rid)
        outcome = observer.wait_finished(rid, timeout=20)  # the one-second TimeoutSeconds fires
        assert (outcome["status"], outcome["decision"]["reason"]) == ("denied", "APPROVAL_EXPIRED")
        assert approval_item(stack, rid)["status"]["S"] == "EXPIRED"
        status, answer, _ = send(stack, click(stack, rid))
        assert (status, answer["reason"]) == (200, "ALREADY_DECIDED")
        assert observer.executed[rid] == 0
    records = audit_items(stack, rid)
    assert "intent" not in records
    assert (records["outcome#approval"]["reason"], records["outcome#approval"]["user_email"]) == (
        "APPROVAL_EXPIRED",
        email,
    )
