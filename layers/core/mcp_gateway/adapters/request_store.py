"""The approvals and results tables, read for ``get_request_status`` (implements ``ports.RequestStorePort``).
Items come back as plain values (``dynamo_codec``: strings, ``Decimal`` numbers)."""

from __future__ import annotations

from typing import Any

from .dynamo_codec import from_item


class RequestStore:
    def __init__(self, ddb: Any, approvals_table: str, results_table: str) -> None:
        self.ddb = ddb
        self.approvals_table = approvals_table  # empty: not configured, every request is unknown
        self.results_table = results_table  # empty: not configured, no result is ever shown

    def _get(self, table: str, request_id: str) -> dict[str, Any] | None:
        if not table:
            return None
        item = self.ddb.get_item(TableName=table, Key={"pk": {"S": request_id}}, ConsistentRead=True).get("Item")
        if not isinstance(item, dict):
            return None
        return from_item(item)

    def approval(self, request_id: str) -> dict[str, Any] | None:
        return self._get(self.approvals_table, request_id)

    def result(self, request_id: str) -> dict[str, Any] | None:
        return self._get(self.results_table, request_id)
