"""The audit trail's read side (implements ``domain.ports.AuditReaderPort``): the audit table's indexes and
chain heads, and the audit log group's lines, every listing through boto3's paginators. Items are returned
raw (DynamoDB-typed): ``audit_store.from_item`` decodes the stored, hash-chained record, and
``projection_mismatches`` compares it with the index attributes that routed the query.

The write side (append, chain heads, the log line) is ``audit_store.AuditStore``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .dynamo_codec import to_attribute


class AuditReader:
    def __init__(self, ddb: Any, logs: Any, table: str, log_group: str) -> None:
        self.ddb = ddb
        self.logs = logs
        self.table = table
        self.log_group = log_group

    def _items(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self.ddb.get_paginator(operation).paginate(TableName=self.table, **kwargs):
            yield from page.get("Items", [])

    def chain_items(self, day: str) -> Iterator[dict[str, Any]]:
        """Every item of one chain day, via the chain index."""
        return self._items(
            "query",
            IndexName="by-chain",
            KeyConditionExpression="chain_day = :d",
            ExpressionAttributeValues={":d": to_attribute(day)},
        )

    def index_items(self, index: str, attribute: str, value: str, since: str, until: str) -> Iterator[dict[str, Any]]:
        """Items whose ``attribute`` (the index's hash key) is ``value``, with ``since <= ts <= until``."""
        return self._items(
            "query",
            IndexName=index,
            KeyConditionExpression="#h = :h AND ts BETWEEN :a AND :b",
            ExpressionAttributeNames={"#h": attribute},
            ExpressionAttributeValues={":h": to_attribute(value), ":a": to_attribute(since), ":b": to_attribute(until)},
        )

    def chain_head(self, day: str) -> dict[str, Any] | None:
        """The day's chain head as stored (``seq`` as the stored number text, unvalidated), or None."""
        item = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": to_attribute(f"CHAIN#{day}"), "sk": to_attribute("head")},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return {
            "seq": item.get("seq", {}).get("N"),
            "record_hash": item.get("record_hash", {}).get("S"),
            "request_id": item.get("request_id", {}).get("S"),
        }

    def log_events(self, start_ms: int, end_ms: int) -> Iterator[Mapping[str, Any]]:
        """Every audit log line written in ``[start_ms, end_ms]``."""
        paginator = self.logs.get_paginator("filter_log_events")
        for page in paginator.paginate(logGroupName=self.log_group, startTime=start_ms, endTime=end_ms):
            yield from page.get("events", [])

    def intent_items(self, since_ms: int, until_ms: int) -> Iterator[dict[str, Any]]:
        """The intent items (``pk``, ``at_ms``) written in ``[since_ms, until_ms]``: a table scan."""
        return self._items(
            "scan",
            FilterExpression="sk = :i AND at_ms BETWEEN :a AND :b",
            ProjectionExpression="pk, at_ms",
            ExpressionAttributeValues={
                ":i": to_attribute("intent"),
                ":a": to_attribute(since_ms),
                ":b": to_attribute(until_ms),
            },
        )

    def outcome_items(self, request_id: str) -> list[dict[str, Any]]:
        """Every outcome item of one request (``outcome``, ``outcome#approval``), read consistently."""
        return list(
            self._items(
                "query",
                KeyConditionExpression="pk = :p AND begins_with(sk, :o)",
                ExpressionAttributeValues={":p": to_attribute(request_id), ":o": to_attribute("outcome")},
                ConsistentRead=True,
            )
        )
