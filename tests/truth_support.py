"""Raw JSON-RPC tool calls against the local stack (no MCP session: the gateway is stateless), and what a call
left behind: its audit items, its side effect, its counters. For the issue-20 tests (agent answer = audit
outcome = side effect)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from conftest import exchange

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class Caller:
    def __init__(self, stack: Any, email: str, groups: list[str]) -> None:
        self.stack = stack
        self.email = email
        self.token = exchange(stack.info.gateway_url, stack.idp.mint(email, groups))["access_token"]
        self.http = httpx.Client(timeout=120, headers={**HEADERS, "Authorization": f"Bearer {self.token}"})

    def post(self, body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.http.post(self.stack.info.mcp_url, content=content, headers=headers)

    def call(self, tool: str, arguments: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """The agent's answer: status, request id, reason (error payloads flattened)."""
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        if meta:
            params["_meta"] = meta
        resp = self.post({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
        if resp.status_code != 200:
            return {"status": f"http-{resp.status_code}", **resp.json()}
        result = resp.json()["result"]
        if result.get("structuredContent") is not None:
            return dict(result["structuredContent"])
        payload = json.loads(result["content"][0]["text"])
        return dict(payload.get("error", payload))


IN_PROGRESS = "REQUEST_IN_PROGRESS"
#: get_request_status' states that are not final yet (the workflow has not recorded its outcome)
UNSETTLED = ("in_progress", "pending")


def in_progress(answer: dict[str, Any]) -> bool:
    """The gateway's truthful "in progress / unknown: look it up with get_request_status" answer."""
    decision = answer.get("decision") or {}
    return answer.get("status") == "pending" and decision.get("reason") == IN_PROGRESS


def looked_up(caller: Caller, request_id: str, timeout: float = 120.0) -> tuple[str, int]:
    """What the agent learns by following an in-progress answer the way it is told to: ``get_request_status``
    with that request id, polled until the answer is final (bounded by ``timeout``). Returns the final call
    status (``ok``, ``error``, ``denied``, ``throttled``; ``unknown`` when it never settled) and the number of
    look-ups."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        status = caller.call("get_request_status", {"request_id": request_id})
        state = status.get("status")
        if state == "done" or (state == "denied" and status.get("result_status")):
            return str(status.get("result_status") or "error"), polls
        if state not in UNSETTLED and status.get("reason") != "NOT_FOUND":
            return f"unexpected:{state or status.get('reason')}", polls
        if time.monotonic() >= deadline:
            return "unknown", polls
        threading.Event().wait(0.25)  # polling as an agent would, not a sleep in the product's path


@contextmanager
def counting_invocations(stack: Any, logical: str) -> Iterator[Counter[str]]:
    """Count the invocations of one function by the request id in its event (``event.request.request_id``):
    how many times a workflow step really ran for each request."""
    from mcp_gateway_local import moto_patches

    runs: Counter[str] = Counter()
    lock = threading.Lock()
    real = stack.functions[logical].lambda_handler

    def handler(event: dict[str, Any], context: Any) -> Any:
        request = event.get("request") if isinstance(event, dict) else None
        rid = request.get("request_id") if isinstance(request, dict) else None
        with lock:
            runs[str(rid)] += 1
        return real(event, context)

    moto_patches.register_handler(stack.physical(logical), handler)
    try:
        yield runs
    finally:
        moto_patches.register_handler(stack.physical(logical), real)


def items(stack: Any, request_id: str) -> dict[str, dict[str, Any]]:
    """The audit-table items of one request by sort key (records decoded)."""
    found = stack.client("dynamodb").query(
        TableName=stack.physical("AuditTable"),
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": request_id}},
        ConsistentRead=True,
    )["Items"]
    out: dict[str, dict[str, Any]] = {}
    for item in found:
        out[item["sk"]["S"]] = json.loads(item["record"]["S"]) if "record" in item else item
    return out


def counter(stack: Any, key: str, attribute: str = "hits") -> int:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.physical("RateLimitTable"), Key={"pk": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    return int(item[attribute]["N"]) if item and attribute in item else 0


def counters_of(stack: Any, email: str) -> dict[str, int]:
    """Every hits counter of one user (tier and global windows), by key."""
    out: dict[str, int] = {}
    paginator = stack.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=stack.physical("RateLimitTable")):
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if email in pk and "hits" in item and not pk.startswith(("edge#", "session#")):
                out[pk] = int(item["hits"]["N"])
    return out
