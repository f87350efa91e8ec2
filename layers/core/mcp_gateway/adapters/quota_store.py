"""The rate-limit table's counters, read by key (implements ``domain.ports.QuotaStorePort``)."""

from __future__ import annotations

from typing import Any

from .dynamo_codec import from_attribute


class QuotaStore:
    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def used(self, key: str, attribute: str) -> int:
        """The counter's value; 0 when the item (or the attribute) does not exist yet."""
        item = (
            self.ddb.get_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                ConsistentRead=True,
                ProjectionExpression="#a",
                ExpressionAttributeNames={"#a": attribute},
            ).get("Item")
            or {}
        )
        value = item.get(attribute)
        if not isinstance(value, dict) or "N" not in value:
            return 0
        return int(from_attribute(value))
