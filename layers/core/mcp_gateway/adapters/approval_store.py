"""The approvals table (DynamoDB): one item per flagged request (``pk = request_id``) and, for replay
protection, one short-lived item per accepted Slack signature (``pk = "nonce#<sha256>"``, never a valid
request id). Implements ``domain.ports.ApprovalStorePort``; the lifecycle is described in
``handlers/approval.py``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from botocore.exceptions import ClientError

from ..domain.slack import ApprovalView
from .aws import error_code

NONCE_TTL_SECONDS = 900  # longer than the 5-minute signature window plus clock skew


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
