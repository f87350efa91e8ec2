"""The approvals table (DynamoDB): one item per flagged request (``pk = request_id``) and, for replay
protection, one short-lived item per accepted Slack signature (``pk = "nonce#<sha256>"``, never a valid
request id). Implements ``domain.ports.ApprovalStorePort``; the lifecycle is described in
``handlers/approval.py``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from ..domain.slack import ApprovalView
from .aws import error_code

NONCE_TTL_SECONDS = 900  # longer than the 5-minute signature window plus clock skew
NONCE_KEY_PREFIX = "nonce#"
TASK_KEY_PREFIX = "task#"  # adapters/task_store.py keeps MCP task items in the same table


def _s(item: Mapping[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else default


def _n(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name)
    try:
        return float(value["N"]) if isinstance(value, dict) and "N" in value else None
    except (TypeError, ValueError):
        return None


def _dash(value: str) -> str:
    return "" if value == "-" else value


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval request as stored: what the approver is shown (``view``, the same ``ApprovalView`` the Slack
    message is built from) plus its lifecycle. ``state`` is the stored status, except that a request still
    PENDING past its expiry reads EXPIRED (nobody can approve it any more)."""

    view: ApprovalView
    stored_status: str
    state: str
    created_at: float | None
    decided_by: str
    decided_at: float | None
    slack_channel: str
    slack_ts: str


def record_of(item: Mapping[str, Any], now: float, channel: str = "-") -> ApprovalRecord:
    """An approvals item -> ``ApprovalRecord``. Raises ``pydantic.ValidationError`` if it is not one."""
    expires = _n(item, "approval_expires_at") or 0.0
    view = ApprovalView(
        request_id=_s(item, "pk"),
        request_hash=_s(item, "request_hash"),
        requester_email=_s(item, "requester"),
        action=_s(item, "action"),
        resources=tuple(str(r) for r in json.loads(_s(item, "resources_json", "[]")) or ()),
        parameters_json=_s(item, "parameters_json", "{}"),
        rule_id=_s(item, "rule_id"),
        reason=_s(item, "reason"),
        trigger=_dash(_s(item, "trigger")),
        tool=_dash(_s(item, "tool")),
        expires_at=expires,
        channel=_dash(_s(item, "slack_channel")) or channel,
    )
    stored = _s(item, "status") or "PENDING"
    state = "EXPIRED" if stored == "PENDING" and expires <= now else stored
    return ApprovalRecord(
        view=view,
        stored_status=stored,
        state=state,
        created_at=_n(item, "created_at"),
        decided_by=_s(item, "decided_by"),
        decided_at=_n(item, "decided_at"),
        slack_channel=_dash(_s(item, "slack_channel")),
        slack_ts=_dash(_s(item, "slack_ts")),
    )


def is_request_key(pk: str) -> bool:
    """True for an approval request's key (not a Slack nonce or an MCP task item)."""
    return bool(pk) and not pk.startswith((NONCE_KEY_PREFIX, TASK_KEY_PREFIX))


def _conditional(write: Callable[..., Any], **kwargs: Any) -> bool:
    """One conditional DynamoDB write: True if it happened, False if its condition did not hold."""
    try:
        write(**kwargs)
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


class ApprovalStore:
    """The approvals table (boto3 DynamoDB client injected)."""

    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def create_pending(self, view: ApprovalView, task_token: str, now: float, ttl: int) -> bool:
        item = {
            "pk": {"S": view.request_id},
            "status": {"S": "PENDING"},
            "request_hash": {"S": view.request_hash},
            "requester": {"S": view.requester_email},
            "action": {"S": view.action},
            "resources_json": {"S": json.dumps(list(view.resources))},
            "parameters_json": {"S": view.parameters_json},
            "rule_id": {"S": view.rule_id or "-"},
            "reason": {"S": view.reason or "-"},
            "trigger": {"S": view.trigger or "-"},
            "tool": {"S": view.tool or "-"},
            "approval_expires_at": {"N": str(int(view.expires_at))},
            "created_at": {"N": str(int(now))},
            "expires_at": {"N": str(int(view.expires_at) + ttl)},
            "task_token": {"S": task_token},
        }
        return _conditional(
            self.ddb.put_item, TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )

    def replace_token(self, request_id: str, request_hash: str, task_token: str) -> bool:
        """A retried NotifyApprovers got a new task token: swap it in while the item is still PENDING."""
        return _conditional(
            self.ddb.update_item,
            TableName=self.table,
            Key={"pk": {"S": request_id}},
            UpdateExpression="SET task_token = :t",
            ConditionExpression="#s = :pending AND request_hash = :h",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":t": {"S": task_token},
                ":pending": {"S": "PENDING"},
                ":h": {"S": request_hash},
            },
        )

    def set_message(self, request_id: str, channel: str, ts: str) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": request_id}},
            UpdateExpression="SET slack_channel = :c, slack_ts = :ts",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":c": {"S": channel or "-"}, ":ts": {"S": ts or "-"}},
        )

    def get(self, request_id: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": request_id}}, ConsistentRead=True)
        item = resp.get("Item")
        return item if isinstance(item, dict) else None

    def request_items(self, created_since: float | None = None) -> Iterator[dict[str, Any]]:
        """Every approval request item (no nonces, no task items), through the Scan paginator; with
        ``created_since``, only those created at or after it. The table has one item per flagged request and
        a TTL, so a scan is bounded by the retention window."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "attribute_exists(request_hash) AND NOT begins_with(pk, :nonce)"
            " AND NOT begins_with(pk, :task)",
            "ExpressionAttributeValues": {":nonce": {"S": NONCE_KEY_PREFIX}, ":task": {"S": TASK_KEY_PREFIX}},
            "ConsistentRead": True,
        }
        if created_since is not None:
            kwargs["FilterExpression"] += " AND created_at >= :since"
            kwargs["ExpressionAttributeValues"][":since"] = {"N": str(int(created_since))}
        for page in self.ddb.get_paginator("scan").paginate(**kwargs):
            for item in page.get("Items") or []:
                if isinstance(item, dict) and is_request_key(_s(item, "pk")):
                    yield item

    def decide(
        self,
        request_id: str,
        request_hash: str,
        decision: Literal["APPROVED", "DENIED"],
        decided_by: str,
        slack_user_id: str,
        now: float,
    ) -> bool:
        """The one conditional write PENDING -> decision. False if already decided or expired."""
        return _conditional(
            self.ddb.update_item,
            TableName=self.table,
            Key={"pk": {"S": request_id}},
            UpdateExpression=("SET #s = :d, decided_by = :by, decided_by_slack_id = :uid, decided_at = :now"),
            ConditionExpression="#s = :pending AND request_hash = :h AND approval_expires_at > :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":d": {"S": decision},
                ":by": {"S": decided_by},
                ":uid": {"S": slack_user_id},
                ":now": {"N": str(int(now))},
                ":pending": {"S": "PENDING"},
                ":h": {"S": request_hash},
            },
        )

    def mark_expired_after(self, request_id: str, decision: str) -> None:
        """The workflow timed out between our decision write and SendTaskSuccess: record the truth."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"pk": {"S": request_id}},
                UpdateExpression="SET #s = :e",
                ConditionExpression="#s = :d",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":e": {"S": "EXPIRED"}, ":d": {"S": decision}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def claim_nonce(self, nonce: str, now: float) -> bool:
        """First use of a signed request wins; a second use within the TTL is a replay."""
        return _conditional(
            self.ddb.put_item,
            TableName=self.table,
            Item={"pk": {"S": f"nonce#{nonce}"}, "expires_at": {"N": str(int(now) + NONCE_TTL_SECONDS)}},
            ConditionExpression="attribute_not_exists(pk)",
        )
