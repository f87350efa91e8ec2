"""Session behaviour items in the rate-limit table (``domain.session``): read the window, record one call.

Each item is one slice of one principal's window (``session#<principal hash>#<slice start>``), holding string
sets of hashed resource names and flags, with the table's TTL attribute ``expires_at``. Recording is one
``UpdateItem`` whose ``ADD`` to string sets is atomic, like the rate counters, and returns the slice as it was
before (``ALL_OLD``); reading is one consistent ``BatchGetItem`` of the window's (other) slices.

A retried update (the SDK sends it again when an answer is lost: a throttle, a 5xx or a timeout after DynamoDB
applied it) answers the slice as it was before the *retry*, which already holds the call's own resources: the call
would look like a re-read of what it had seen and pass any threshold. So each update also adds a random marker of
its own to the slice (``r``); when the answer already holds it, the call's own resources are taken out of the state
it is judged on (the stricter side: a true re-read looks new).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from ..domain.session import FLAG_FIELDS, SET_FIELDS


class SessionStore:
    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def read(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The plain items of ``keys`` that exist: ``{"slice": start, "b": [...], "e": 1, ...}``."""
        pending: dict[str, Any] = {self.table: {"Keys": [{"pk": {"S": k}} for k in keys], "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        for _ in range(5):  # unprocessed keys are retried a bounded number of times
            resp = self.ddb.batch_get_item(RequestItems=pending)
            items.extend(_plain(item) for item in resp.get("Responses", {}).get(self.table, []))
            pending = resp.get("UnprocessedKeys") or {}
            if not pending:
                return items
        raise RuntimeError("session items stayed unprocessed")

    def record(self, key: str, update: Mapping[str, list[str] | int], expires_at: int) -> dict[str, Any] | None:
        """Add the call's hashed resources (string sets) and set its flags on the current slice, in one atomic
        UpdateItem; the slice's plain item as it was just before this update (``ReturnValues=ALL_OLD``), or
        None when the slice did not exist. Concurrent calls are ordered by DynamoDB: each sees the ones before."""
        if not update:
            return None
        names: dict[str, str] = {"#ttl": "expires_at"}
        values: dict[str, Any] = {":ttl": {"N": str(expires_at)}}
        adds: list[str] = []
        sets = ["#ttl = if_not_exists(#ttl, :ttl)"]
        for i, (name, value) in enumerate(sorted(update.items())):
            names[f"#a{i}"] = name
            if isinstance(value, list):
                if value:
                    values[f":v{i}"] = {"SS": list(value)}
                    adds.append(f"#a{i} :v{i}")
            else:
                values[f":v{i}"] = {"N": str(int(value))}
                sets.append(f"#a{i} = :v{i}")
        marker = secrets.token_hex(8)  # this call's own: the same in every retry of this update
        names["#r"] = MARKERS
        values[":r"] = {"SS": [marker]}
        adds.append("#r :r")
        expression = "SET " + ", ".join(sets) + " ADD " + ", ".join(adds)
        resp = self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
        old = resp.get("Attributes")
        if not old:
            return None
        before = _plain({"pk": {"S": key}, **old})
        if marker in old.get(MARKERS, {}).get("SS", ()):  # a retry: this call's own update was applied already
            for name, value in update.items():
                if isinstance(value, list) and name in before:
                    own = set(value)
                    before[name] = [v for v in before[name] if v not in own]
        return before


MARKERS = "r"
"""The attribute holding the markers of the updates a slice has had (see the module docstring)."""


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    key = item.get("pk", {}).get("S", "")
    start = key.rsplit("#", 1)[-1]
    if start.isdigit():
        out["slice"] = int(start)
    for name in SET_FIELDS:
        value = item.get(name)
        if isinstance(value, dict) and "SS" in value:
            out[name] = list(value["SS"])
    for name in FLAG_FIELDS:
        value = item.get(name)
        if isinstance(value, dict) and "N" in value:
            out[name] = int(value["N"]) if value["N"].isdigit() else 0
    return out


__all__ = ["SessionStore"]
