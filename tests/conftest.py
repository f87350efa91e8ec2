"""Shared fixtures. The local stack (moto server + real state machines + real handlers + local IdP + function
URL servers) is started once per test session (per xdist worker): moto keeps its state per process."""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Async tests run on anyio's pytest plugin (asyncio backend) with no per-test marker. Marking happens at
    collection, before parametrization, so parametrized async tests work too."""
    import inspect

    if inspect.iscoroutinefunction(obj) and name.startswith("test"):
        pytest.mark.anyio(obj)


#: Test files that take long (worker-seconds on two cores, measured with ``--durations``), longest first. Under
#: ``-n 2 --dist loadfile --no-loadscope-reorder`` (the Makefile's functional and e2e) a worker takes one whole
#: file at a time in collection order, and under ``--dist load`` (unit) the first quarter of the tests is dealt
#: to the workers in turn, so putting these first lets the short ones fill in at the end and no worker idles
#: while the other finishes a long test alone. Only the order changes: every test still runs, and each file's tests
#: stay together in their own order (its module fixtures are set up once).
LONG_FIRST = (
    "e2e/test_docs_run.py",
    "e2e/test_pagination.py",
    "e2e/test_guardrail_corpora.py",
    "e2e/test_identity.py",
    "e2e/test_dlp_corpus.py",
    "e2e/test_one_truth.py",
    "e2e/test_review.py",
    "e2e/test_audit_trail.py",
    "e2e/test_conformance.py",
    "e2e/test_quotas.py",
    "e2e/test_policy_failure.py",
    "functional/test_rate_limits.py",
    "functional/test_approval_callback.py",
    "functional/test_audit_faults.py",
    "functional/test_moto_patches.py",
    "functional/test_audit_chain_concurrency.py",
    "functional/test_session_concurrency.py",
    "functional/test_approval_concurrency.py",
    "unit/test_redaction_fastpath.py",
    "unit/test_detection_fast_paths.py",
    "unit/test_redaction_fastpath2.py",
    "unit/test_redaction_corpus.py",
    "unit/test_packaging.py",
    "unit/test_redaction_scorecard.py",
    "unit/test_policy_guardrail_corpora.py",
    "unit/test_normalize_fast_paths.py",
    "unit/test_redaction.py",
    "unit/test_redaction_memory.py",
    "unit/test_inert_fields.py",
    "unit/test_docs.py",
    "unit/test_policy_corpora.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Known-long files first (:data:`LONG_FIRST`), the rest in their collection order; deterministic, so every
    xdist worker collects the same order."""
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    tests = ROOT / "tests"

    def key(item: pytest.Item) -> int:
        path = item.path
        name = path.relative_to(tests).as_posix() if path.is_relative_to(tests) else path.name
        return rank.get(name, len(rank))

    items.sort(key=key)  # stable: files not named keep their order, and so do the tests inside each file


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


# ---- shared test helpers -------------------------------------------------------------------------------------

#: The instant the unit tests' clocks start at (2025-06-15T15:06:40Z).
FIXED_NOW = 1_750_000_000.0


class FakeClock:
    """An injected clock (``Clock``: a callable returning epoch seconds) that moves only when a test moves it."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fresh clock at :data:`FIXED_NOW` for each test."""
    return FakeClock()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mcp_gateway_local.stack import LocalStack

    local = LocalStack(state_dir=tmp_path_factory.mktemp("local-stack"))
    local.start()
    yield local
    local.stop()


#: The TLS context of the sessions' HTTP clients, built once: httpx's default verification context, which a client
#: otherwise builds anew for itself (loading the CA bundle: ~40 ms of CPU, twice per session, hundreds of
#: sessions). The local stack is plain HTTP on loopback, so no handshake ever uses it; a context is shareable.
CLIENT_TLS = httpx.create_ssl_context()


class Session:
    """A developer's session against the local stack: IdP token -> gateway session token -> MCP client."""

    def __init__(self, stack: Any, email: str, groups: list[str]) -> None:
        self.stack = stack
        self.email = email
        self.groups = groups
        self.idp_token = stack.idp.mint(email, groups)
        self.token = exchange(stack.info.gateway_url, self.idp_token)["access_token"]

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.token}"}, timeout=60, verify=CLIENT_TLS)
        async with Client(streamable_http_client(self.stack.info.mcp_url, http_client=http)) as client:
            yield client


def exchange(gateway_url: str, idp_token: str) -> dict[str, Any]:
    resp = httpx.post(
        f"{gateway_url}/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": idp_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        },
        timeout=30,
        verify=CLIENT_TLS,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


@pytest.fixture
def session_factory(stack: Any) -> Any:
    def make(email: str = "alice@example.com", groups: list[str] | None = None) -> Session:
        return Session(stack, email, groups or ["developers"])

    return make


def audit_records(stack: Any, request_id: str) -> dict[str, Any]:
    """The audit table's items for one request (intent and outcome), decoded."""
    ddb = stack.client("dynamodb")
    items = ddb.query(
        TableName=stack.physical("AuditTable"),
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": request_id}},
        ConsistentRead=True,
    )["Items"]
    out: dict[str, Any] = {}
    for item in items:
        kind = item["sk"]["S"]
        out[kind] = (
            json.loads(item["record"]["S"])
            if "record" in item
            else {k: next(iter(v.values())) for k, v in item.items()}
        )
    return out


def tool_answer(result: Any) -> dict[str, Any]:
    """The gateway's answer for one tool call: the structured result, or the error payload."""
    if result.structured_content is not None:
        return result.structured_content  # type: ignore[no-any-return]
    body = json.loads(result.content[0].text)
    return body.get("error", body)  # type: ignore[no-any-return]


def audit_items_by_sort_key(stack: Any, request_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every raw audit-table item stored under one request id, grouped by sort key."""
    items = stack.client("dynamodb").query(
        TableName=stack.physical("AuditTable"),
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": request_id}},
        ConsistentRead=True,
    )["Items"]
    out: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(item["sk"]["S"], []).append(item)
    return out


def audit_log_lines(stack: Any, request_id: str) -> list[dict[str, Any]]:
    logs = stack.client("logs")
    group = stack.physical("AuditLogGroup")
    events = logs.filter_log_events(logGroupName=group, filterPattern=f'"{request_id}"')["events"]
    return [json.loads(e["message"]) for e in events]


_EMAIL_COUNTER = itertools.count()


def unique_email(prefix: str) -> str:
    """A requester e-mail no corpus fragment can share a window with.

    The corpora's e-mail fragments are ``first.last<digits>@exam``: a local part ending in digits. Ours ends in the
    letters ``-req`` and carries the counter and time as letters only, so no 8-character window of it (with or
    without the ``@``) can equal a corpus window; a leak check on any sink can never see the requester as a leak.
    """
    n = time.time_ns() * 1000 + next(_EMAIL_COUNTER) % 1000
    letters = ""
    while n:
        n, r = divmod(n, 26)
        letters = chr(ord("a") + r) + letters
    return f"{prefix}-{letters}-req@example.com"


def roomy_window(needed: float = 600.0) -> int:
    """A rate-limit window length (seconds) whose current window has at least ``needed`` seconds left.

    The gateway's windows are fixed and epoch-aligned (``window_start = now - now % W``), so a test that expects
    "the call after the limit is throttled" would see the counter reset if its calls straddled a boundary. A
    window length is chosen whose boundary is not near: a day, or the longest length just under a day whose
    phase puts the next boundary at least ``needed`` seconds away. The result depends only on the clock; no
    sleep, no retry.
    """
    now = int(time.time())
    for window in range(86_400, 3_600, -1):
        if window - now % window >= needed:
            return window
    raise AssertionError("no window length between an hour and a day leaves room")  # unreachable
