"""MCP task items in the approvals table (``pk = "task#<sha256(task id)>"``, never a valid request id), and
the requester's cancellation of the approval item they wait on. The task id itself is never stored."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..domain.tasks import TASK_KEY_PREFIX, TaskRecord, task_item_key
from .aws import error_code
from .dynamo_codec import from_item

_FIELDS_S = ("request_id", "sub", "requester", "tool", "channel", "status")
_FIELDS_N = ("created_at", "approval_expires_at", "ttl_ms", "poll_interval_ms", "updated_at")


class TaskStore:
    """Task items and the reads a task's state needs (boto3 DynamoDB client injected)."""

    def __init__(self, ddb: Any, approvals_table: str, results_table: str) -> None:
        self.ddb = ddb
        self.approvals_table = approvals_table
        self.results_table = results_table

    def put(self, record: TaskRecord) -> None:
        item: dict[str, Any] = {"pk": {"S": TASK_KEY_PREFIX + record.task_id_hash}}
        item.update({name: {"S": str(getattr(record, name)) or "-"} for name in _FIELDS_S})
        item.update({name: {"N": repr(float(getattr(record, name)))} for name in _FIELDS_N})
        item["expires_at"] = {"N": str(int(record.created_at + record.ttl_ms / 1000))}  # DynamoDB TTL
        self.ddb.put_item(TableName=self.approvals_table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, task_id: str) -> TaskRecord | None:
        key = task_item_key(task_id)
        raw = self._get(self.approvals_table, key)
        if raw is None:
            return None
        values: dict[str, Any] = {name: ("" if raw.get(name) == "-" else raw.get(name)) for name in _FIELDS_S}
        values.update({name: float(raw.get(name) or 0) for name in _FIELDS_N})
        values["ttl_ms"] = int(values["ttl_ms"])
        values["poll_interval_ms"] = int(values["poll_interval_ms"])
        return TaskRecord.model_validate({"task_id_hash": key[len(TASK_KEY_PREFIX) :], **values})

    def _get(self, table: str, key: str) -> dict[str, Any] | None:
        if not table:
            return None
        item = self.ddb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        return from_item(item) if isinstance(item, dict) else None

    def approval(self, request_id: str) -> dict[str, Any] | None:
        return self._get(self.approvals_table, request_id)

    def result(self, request_id: str) -> dict[str, Any] | None:
        """The stored result's ``result_json``, decoded (None until the approved request has run)."""
        item = self._get(self.results_table, request_id)
        if item is None:
            return None
        try:
            decoded = json.loads(str(item.get("result_json") or "{}"))
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None

    def mark_cancelled(self, task_id: str, now: float) -> bool:
        """working -> cancelled, once. False if already cancelled (or unknown)."""
        try:
            self.ddb.update_item(
                TableName=self.approvals_table,
                Key={"pk": {"S": task_item_key(task_id)}},
                UpdateExpression="SET #s = :c, updated_at = :now",
                ConditionExpression="#s = :w",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":c": {"S": "cancelled"}, ":w": {"S": "working"}, ":now": {"N": repr(now)}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def cancel_approval(self, request_id: str, requester: str, now: float) -> bool:
        """The approval item PENDING -> CANCELLED (so a late click is refused as already decided)."""
        try:
            self.ddb.update_item(
                TableName=self.approvals_table,
                Key={"pk": {"S": request_id}},
                UpdateExpression="SET #s = :c, decided_by = :by, decided_at = :now",
                ConditionExpression="#s = :p AND requester = :r",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":c": {"S": "CANCELLED"},
                    ":p": {"S": "PENDING"},
                    ":r": {"S": requester},
                    ":by": {"S": requester},
                    ":now": {"N": str(int(now))},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
