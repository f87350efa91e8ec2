"""Exactly-once per request id: the first step of the request workflow claims the id with one conditional
``PutItem`` (``attribute_not_exists``) in the audit table (``pk = request id, sk = "claim"``). A second start
of the same id (a retried start, an agent's idempotent retry) finds the claim and runs nothing: no counter,
no Execute, no outcome of its own. The audit table is append-only for the workflow roles; a claim is never
updated or deleted (it expires with the audit records)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .aws import error_code

SORT_KEY = "claim"


class RequestClaims:
    def __init__(self, ddb: Any, table: str, retention_days: int, clock: Callable[[], float] = time.time) -> None:
        self.ddb = ddb
        self.table = table
        self.retention_days = retention_days
        self.clock = clock

    def claim(self, request_id: str, claimant: str) -> bool:
        """True when this call claimed ``request_id`` (or ``claimant`` already holds it: a retried invocation
        of the same execution); False when another execution holds it. Other errors propagate."""
        now = self.clock()
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": request_id},
                    "sk": {"S": SORT_KEY},
                    "claimant": {"S": claimant},
                    "claimed_at_ms": {"N": str(int(now * 1000))},
                    "expires_at": {"N": str(int(now) + (self.retention_days + 1) * 86_400)},
                },
                ConditionExpression="attribute_not_exists(pk) OR claimant = :me",
                ExpressionAttributeValues={":me": {"S": claimant}},
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
