"""Helpers for the approval tests: flag a request through the real request workflow, observe the real functions
the approval workflow invokes (without replacing them), and click like Slack does."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp_gateway_local import moto_patches
from mcp_gateway_local import slack_standin as slack

APPROVER_ID = "U0APPROVER1"  # carol@example.com in policy/gateway-policy.yaml
APPROVER_EMAIL = "carol@example.com"
FLAGGING_INTENT = "read the readme before we delete the old exports"  # review.destructive-verbs


class WorkflowObserver:
    """Wraps the registered handlers of the approval workflow's functions: each call still runs the real
    handler; the observer counts Execute calls per request and signals when NotifyApprovers has posted and
    when the approval stage's audit outcome is written (so tests wait on events, never on sleeps)."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.lock = threading.Lock()
        self.executed: Counter[str] = Counter()
        self.notified: dict[str, threading.Event] = {}
        self.finished: dict[str, threading.Event] = {}
        self.outcomes: dict[str, dict[str, Any]] = {}

    def _event(self, table: dict[str, threading.Event], rid: str) -> threading.Event:
        with self.lock:
            return table.setdefault(rid, threading.Event())

    def install(self) -> None:
        for logical, hook in (
            ("ExecuteFunction", self._on_execute),
            ("NotifyApproversFunction", self._on_notify),
            ("AuditFunction", self._on_audit),
        ):
            real = self.stack.functions[logical].lambda_handler
            moto_patches.register_handler(self.stack.physical(logical), hook(real))

    def uninstall(self) -> None:
        for logical in ("ExecuteFunction", "NotifyApproversFunction", "AuditFunction"):
            moto_patches.register_handler(self.stack.physical(logical), self.stack.functions[logical].lambda_handler)

    def _on_execute(self, real: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> Any:
            with self.lock:
                self.executed[str((event.get("request") or {}).get("request_id"))] += 1
            return real(event, context)

        return handler

    def _on_notify(self, real: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> Any:
            try:
                return real(event, context)
            finally:
                self._event(self.notified, str((event.get("request") or {}).get("request_id"))).set()

        return handler

    def _on_audit(self, real: Any) -> Any:
        def handler(event: dict[str, Any], context: Any) -> Any:
            out = real(event, context)
            if event.get("stage") == "approval":
                rid = str((event.get("request") or {}).get("request_id"))
                with self.lock:
                    self.outcomes[rid] = out
                self._event(self.finished, rid).set()
            return out

        return handler

    def wait_notified(self, rid: str, timeout: float = 15) -> None:
        assert self._event(self.notified, rid).wait(timeout), f"NotifyApprovers never ran for {rid}"

    def wait_finished(self, rid: str, timeout: float = 15) -> dict[str, Any]:
        assert self._event(self.finished, rid).wait(timeout), f"the approval workflow never audited {rid}"
        return self.outcomes[rid]


@contextmanager
def observing(stack: Any) -> Iterator[WorkflowObserver]:
    observer = WorkflowObserver(stack)
    observer.install()
    try:
        yield observer
    finally:
        observer.uninstall()


def flag_request(stack: Any, email: str, *, key: str = "README.txt") -> dict[str, Any]:
    """One get_object request flagged for review, run through the real request workflow (what the gateway
    does for an MCP tool call). Returns the workflow's answer (status pending)."""
    rid = f"req-{uuid.uuid4().hex}"
    now = time.time()
    request = {
        "request_id": rid,
        "tool": "get_object",
        "service": "s3",
        "operation": "GetObject",
        "action": "s3:GetObject",
        "parameters": {"Bucket": "acme-app-logs", "Key": key, "Range": "bytes=0-65535"},
        "resources": [f"arn:aws:s3:::acme-app-logs/{key}"],
        "intent": FLAGGING_INTENT,
        "principal": {
            "sub": email,
            "email": email,
            "groups": ["developers"],
            "token_id": "tok-test",
            "expires_at": int(now) + 900,
        },
        "requested_at": now,
    }
    sfn = stack.client("stepfunctions")
    result = sfn.start_sync_execution(
        stateMachineArn=stack.physical("RequestStateMachine"),
        name=rid,
        input=json.dumps({"request": request}),
    )
    answer: dict[str, Any] = json.loads(result["output"])
    return answer


def approval_item(stack: Any, rid: str) -> dict[str, Any]:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.physical("ApprovalsTable"), Key={"pk": {"S": rid}}, ConsistentRead=True)
        .get("Item")
    )
    return item or {}


def click(
    stack: Any,
    rid: str,
    action: str = "approve",
    *,
    user_id: str = APPROVER_ID,
    user_name: str = "carol",
    value: str | None = None,
) -> bytes:
    """The form body Slack sends when ``user_id`` clicks ``action`` on ``rid``'s message."""
    record = slack.find_message(Path(stack.info.approvals_log), rid)
    payload = slack.block_actions_payload(
        record,
        action,
        user_id=user_id,
        user_name=user_name,
        response_url=f"{stack.info.slack_url}/response/{record['ts']}",
        value=value,
    )
    return slack.form_body(payload)


def send(
    stack: Any, body: bytes, *, headers: dict[str, str] | None = None, timestamp: int | None = None
) -> tuple[int, dict[str, Any], str]:
    """POST a callback (signed now unless ``headers`` are given); returns (status, body, marker). The marker is a
    unique User-Agent, recorded in the callback's audit record, to find that record again."""
    marker = f"approval-test-{uuid.uuid4().hex}"
    sent = (
        dict(headers)
        if headers is not None
        else slack.signed_callback(body, stack.info.slack_signing_secret, timestamp)
    )
    sent["User-Agent"] = marker
    sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    status, answer = slack.post_callback(stack.info.callback_url, body, sent, timeout=60)
    return status, answer, marker


def callback_audit(stack: Any, marker: str) -> list[dict[str, Any]]:
    """The audit log lines of callbacks sent with ``marker`` (one per callback)."""
    logs = stack.client("logs")
    events = logs.filter_log_events(logGroupName=stack.physical("AuditLogGroup"), filterPattern=f'"{marker}"')["events"]
    return [json.loads(e["message"]) for e in events]


def audit_items(stack: Any, rid: str) -> dict[str, dict[str, Any]]:
    """The audit table's items for one request, by sort key (intent, outcome, outcome#approval)."""
    items = stack.client("dynamodb").query(
        TableName=stack.physical("AuditTable"),
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": rid}},
        ConsistentRead=True,
    )["Items"]
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        sk = item["sk"]["S"]
        out[sk] = (
            json.loads(item["record"]["S"])
            if "record" in item
            else {k: next(iter(v.values())) for k, v in item.items()}
        )
    return out
