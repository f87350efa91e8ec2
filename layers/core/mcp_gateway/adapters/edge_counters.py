"""The edge's per-principal counters in the rate-limit table (``gateway/edge_limits.EdgeAdmission``).

One ``TransactWriteItems`` per admitted request: the in-flight counter of the principal's current window
(``edge#inflight#<email>#<window>``, ``n < max``) and the requests-per-minute counter
(``edge#rpm#<email>#<minute>``, ``hits < limit``), both conditional, so a refused request counts nothing.
The release decrements the same in-flight item. A release that never happens (the instance died) heals
when its window ends: the in-flight windows are ``IN_FLIGHT_WINDOW_SECONDS`` long, longer than any call.
"""

from __future__ import annotations

from typing import Any

from .aws import error_code

IN_FLIGHT_WINDOW_SECONDS = 120


class EdgeCounters:
    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def acquire(self, principal: str, max_in_flight: int, per_minute: int, now: float) -> tuple[str, str]:
        """("ok", lease) when admitted; ("in_flight" | "per_minute", "") when a bound refused it."""
        window = int(now // IN_FLIGHT_WINDOW_SECONDS)
        minute = int(now // 60)
        lease = f"edge#inflight#{principal}#{window}"
        ttl = str(int(now) + 3_600)
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": lease}},
                            "UpdateExpression": "ADD n :one SET expires_at = if_not_exists(expires_at, :ttl)",
                            "ConditionExpression": "attribute_not_exists(n) OR n < :max",
                            "ExpressionAttributeValues": {
                                ":one": {"N": "1"},
                                ":max": {"N": str(max_in_flight)},
                                ":ttl": {"N": ttl},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": f"edge#rpm#{principal}#{minute}"}},
                            "UpdateExpression": "ADD hits :one SET expires_at = if_not_exists(expires_at, :ttl)",
                            "ConditionExpression": "attribute_not_exists(hits) OR hits < :limit",
                            "ExpressionAttributeValues": {
                                ":one": {"N": "1"},
                                ":limit": {"N": str(per_minute)},
                                ":ttl": {"N": ttl},
                            },
                        }
                    },
                ]
            )
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "") for r in getattr(exc, "response", {}).get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return "in_flight", ""
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                return "per_minute", ""
            raise
        return "ok", lease

    def release(self, lease: str) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": lease}},
            UpdateExpression="ADD n :minus",
            ExpressionAttributeValues={":minus": {"N": "-1"}},
        )

    def in_flight(self, principal: str, now: float) -> int:
        item = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"edge#inflight#{principal}#{int(now // IN_FLIGHT_WINDOW_SECONDS)}"}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["n"]["N"]) if item and "n" in item else 0
