"""The audit chain under a burst, against moto's DynamoDB over HTTP (issue 20): 200 outcome records written at
once (as a flood of edge refusals writes them) are all written, in one unforked chain that verifies; a stale
guess of the head (another process wrote since) is refused by the transaction's condition and never forks it."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from mcp_gateway.adapters import audit_store
from mcp_gateway.adapters.audit_store import AuditStore
from mcp_gateway.domain.audit_chain import verify_chain
from mcp_gateway.domain.errors import AuditError

BURST = 200


_DAYS = itertools.count()


def fresh_day() -> str:
    """A chain day no other test writes to (the local stack of this session keeps every earlier test's
    records; no real record is dated in the 22nd century)."""
    return (dt.date(2100, 1, 1) + dt.timedelta(days=next(_DAYS))).isoformat()


def record(day: str, n: int) -> dict[str, Any]:
    return {
        "request_id": f"req-chain-{uuid.uuid4().hex}",
        "ts": f"{day}T12:00:{n % 60:02d}+00:00",
        "user_email": "flood@example.com",
        "decision": "DENY",
        "reason": "EDGE_CONCURRENCY_EXCEEDED",
        "status": "throttled",
    }


def store(stack: Any) -> AuditStore:
    return AuditStore(stack.client("dynamodb"), None, stack.physical("AuditTable"), "")


def the_day(stack: Any, day: str) -> tuple[list[dict[str, Any]], dict[str, tuple[int, str]]]:
    head = store(stack)._head(day)
    assert head is not None
    return store(stack).chain_records(day), {day: (head["seq"], head["record_hash"])}


def test_two_hundred_outcome_records_written_at_once_are_all_chained_without_a_fork(stack: Any) -> None:
    day = fresh_day()
    gate = threading.Barrier(BURST)

    def write(n: int) -> tuple[bool, dict[str, Any]]:
        writer = store(stack)  # one store per writer, as each handler builds its own
        gate.wait(30)
        return writer.write(record(day, n))

    with ThreadPoolExecutor(BURST) as pool:
        results = list(pool.map(write, range(BURST)))
    assert all(written for written, _ in results)
    records, heads = the_day(stack, day)
    assert sorted(r["seq"] for r in records) == list(range(1, BURST + 1))
    assert verify_chain(records, heads) == []


def test_a_stale_guess_of_the_head_is_refused_by_the_condition_and_the_chain_stays_whole(stack: Any) -> None:
    day = fresh_day()
    writer = store(stack)
    writer.write(record(day, 1))
    stale = dict(audit_store._HEADS[(writer.table, day)])  # what this process last committed
    _, second = writer.write(record(day, 2))  # as if another process moved the head meanwhile
    audit_store._HEADS[(writer.table, day)] = stale
    written, third = writer.write(record(day, 3))
    assert written
    assert (third["seq"], third["prev_hash"]) == (3, second["record_hash"])
    records, heads = the_day(stack, day)
    assert verify_chain(records, heads) == []


def test_a_record_that_gets_no_turn_in_time_fails_closed_and_is_never_written_later(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = fresh_day()
    writer = store(stack)
    monkeypatch.setattr(audit_store, "CHAIN_TURN_SECONDS", 0.2)
    late = record(day, 1)
    turn = audit_store._turn(writer.table)
    with turn.lock, pytest.raises(AuditError):  # another writer of this process holds the turn past the deadline
        writer.write(late)
    assert late not in [job.record for job in turn.queue], "withdrawn: nobody writes it after the error"
    written, first = writer.write(record(day, 2))
    assert written and first["seq"] == 1
    assert not writer.exists(late["request_id"])
