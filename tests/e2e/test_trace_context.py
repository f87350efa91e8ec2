"""The caller's W3C trace end to end: a tools/call with ``_meta.traceparent`` (or only the HTTP ``traceparent``
header) through the real gateway, the request workflow and the approval workflow of the local stack; the value
is on the gateway's log lines and on those of Validate, Execute, Audit and NotifyApprovers (the functions'
Powertools output, captured through the very formatter CloudWatch gets), and in the request the workflow ran."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from approval_support import FLAGGING_INTENT, observing
from conftest import tool_answer, unique_email

pytestmark = pytest.mark.e2e


def new_trace() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    from mcp_gateway.observability import logger

    pt_logger = logging.getLogger(logger.name)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(pt_logger.handlers[0].formatter)
    pt_logger.addHandler(handler)
    try:
        yield out
    finally:
        pt_logger.removeHandler(handler)


def lines_with(out: io.StringIO, trace: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if trace in line]


@asynccontextmanager
async def mcp_client(stack: Any, token: str, headers: dict[str, str] | None = None) -> AsyncIterator[Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}", **(headers or {})}, timeout=60)
    async with Client(streamable_http_client(stack.info.mcp_url, http_client=http)) as client:
        yield client


async def test_a_meta_traceparent_is_on_the_lines_of_the_gateway_validate_execute_and_audit(
    stack: Any, session_factory: Any, log_lines: io.StringIO
) -> None:
    trace = new_trace()
    session = session_factory(unique_email("trace"))
    async with mcp_client(stack, session.token) as client:
        result = await client.call_tool("list_buckets", {"intent": "which buckets exist"}, meta={"traceparent": trace})
    answer = tool_answer(result)
    assert answer["status"] == "ok", answer
    lines = lines_with(log_lines, trace)
    steps = {line.get("step") for line in lines}
    assert {"gateway", "validate", "execute", "audit"} <= steps, steps
    for line in lines:  # every line with the trace belongs to this request, and holds the trace as its own key
        assert line["traceparent"] == trace
        assert line["request_id"] == answer["request_id"]
    assert any(line["message"] == "tools/call answered" and line["status"] == "ok" for line in lines)


async def test_a_call_sent_to_review_carries_its_trace_into_notify_approvers(
    stack: Any, session_factory: Any, log_lines: io.StringIO
) -> None:
    trace = new_trace()
    session = session_factory(unique_email("trace-review"))
    with observing(stack) as observer:
        async with mcp_client(stack, session.token) as client:
            result = await client.call_tool(
                "get_object",
                {"bucket": "acme-app-logs", "key": "README.txt", "intent": FLAGGING_INTENT},
                meta={"traceparent": trace},
            )
        answer = tool_answer(result)
        assert answer["status"] == "pending", answer
        observer.wait_notified(answer["request_id"])
    steps = {line.get("step") for line in lines_with(log_lines, trace)}
    assert {"gateway", "validate", "notify-approvers", "audit"} <= steps, steps
    assert "execute" not in steps  # nothing ran: it waits for a human


async def test_the_http_traceparent_header_is_used_when_the_call_has_none_in_its_meta(
    stack: Any, session_factory: Any, log_lines: io.StringIO
) -> None:
    trace = new_trace()
    session = session_factory(unique_email("trace-header"))
    async with mcp_client(stack, session.token, {"traceparent": trace}) as client:
        result = await client.call_tool("list_buckets", {"intent": "which buckets exist"})
    assert tool_answer(result)["status"] == "ok"
    steps = {line.get("step") for line in lines_with(log_lines, trace)}
    assert {"gateway", "validate", "execute", "audit"} <= steps, steps


async def test_a_malformed_traceparent_is_on_no_line_and_the_call_still_runs(
    stack: Any, session_factory: Any, log_lines: io.StringIO
) -> None:
    bogus = "00-" + "Z" * 32 + "-" + secrets.token_hex(8) + "-01"
    session = session_factory(unique_email("trace-bogus"))
    async with mcp_client(stack, session.token) as client:
        result = await client.call_tool("list_buckets", {"intent": "which buckets exist"}, meta={"traceparent": bogus})
    assert tool_answer(result)["status"] == "ok"
    assert lines_with(log_lines, bogus[3:35]) == []
