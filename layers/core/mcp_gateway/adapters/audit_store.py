"""The audit trail's storage: DynamoDB (append-only, hash-chained per day) plus one JSON line per record in the
audit CloudWatch log group.

- Records are keyed ``pk = request_id, sk = "outcome"`` and written with ``attribute_not_exists(pk)``, so a
  duplicate write (a retry, a replay from the dead-letter queue) is a harmless no-op.
- Each day has a chain head item ``pk = "CHAIN#<day>", sk = "head"`` holding the last seq and hash. A record
  and its head move together in one transaction, guarded by the previous seq and hash (optimistic
  concurrency), so the chain never forks. Within a process, writers take turns per table, and the head last
  committed is reused as a guess (saving a read) that the condition checks. Gateway roles cannot
  UpdateItem/DeleteItem this table (explicit deny in template).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..domain.audit_chain import link
from ..domain.errors import AuditError
from .audit_reader import AuditReader
from .aws import error_code

MAX_CHAIN_ATTEMPTS = 40
#: How long a record waits for its turn at its table's chain in this process before the write fails (AuditError).
CHAIN_TURN_SECONDS = 20.0
_TURN_POLL_SECONDS = 0.05

# Writers of one process take turns at each table's chain, in arrival order, and reuse the head last committed.
# Threads of one process (the local stack runs every function in one) then never race each other for the head:
# a record joins its table's queue, and whichever writer holds the turn commits the queued records one by one,
# oldest first, up to and including its own. A plain lock is not fair (a thread can wait while later ones keep
# winning it), so the queue, not the lock, decides the order: a burst of edge refusals that arrives first is
# written first. The cached head saves the GetItem while this process is the only writer; it is only a guess,
# and the transaction's condition (``seq = :prev AND record_hash = :prev_hash``) refuses a stale one, after
# which the head is read again. Writers in other processes (other Lambda instances) still meet at the
# condition, with jittered retries.


@dataclass
class _Turn:
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: deque[_Pending] = field(default_factory=deque)
    guard: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Pending:
    store: AuditStore
    record: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[bool, dict[str, Any]] | None = None
    error: BaseException | None = None


_TURNS: dict[str, _Turn] = {}
_HEADS: dict[tuple[str, str], dict[str, Any]] = {}
_TURNS_GUARD = threading.Lock()


def _turn(table: str) -> _Turn:
    with _TURNS_GUARD:
        return _TURNS.setdefault(table, _Turn())


def _commit_through(turn: _Turn, mine: _Pending) -> None:
    """Holding the turn: commit the queued records, oldest first, until ``mine`` is done."""
    while not mine.done.is_set():
        with turn.guard:
            job = turn.queue.popleft() if turn.queue else None
        if job is None:
            return  # not queued any more (cannot happen while ``mine`` is pending): the caller sees it undone
        try:
            job.result = job.store._write(job.record)
        except Exception as exc:  # noqa: BLE001 - handed to the record's own writer, which raises it
            job.error = exc
        finally:
            job.done.set()


INDEXED = (
    "user_email",
    "ts",
    "prompt_hmac",
    "action",
    "service",
    "resource",
    "decision",
    "reason",
    "chain_day",
    "seq",
)


def sort_key(record: dict[str, Any]) -> str:
    """``outcome`` for the request workflow; ``outcome#approval`` for the approval workflow's later outcome
    of the same request (which must not be swallowed as a duplicate of the "pending" outcome);
    ``outcome#gateway`` for the gateway's own record of a request whose workflow answer it did not get (a
    timeout, a start error): never the authoritative outcome, so it can never mask or pre-empt the workflow's."""
    stage = record.get("stage")
    if stage in ("approval", "gateway"):
        return f"outcome#{stage}"
    return "outcome"


def to_item(record: dict[str, Any], ttl: int) -> dict[str, Any]:
    """The exact chained record as one JSON attribute (what the hash covers), plus the attributes the indexes
    need, projected alongside (omitted when empty: index keys cannot be empty strings)."""
    item: dict[str, Any] = {
        "pk": {"S": str(record["request_id"])},
        "sk": {"S": sort_key(record)},
        "record": {"S": json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=False)},
        "expires_at": {"N": str(ttl)},
    }
    for name in INDEXED:
        value = record.get(name)
        if isinstance(value, bool) or value is None or value == "":
            continue
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
    return item


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """The stored record. Index attributes that disagree with it are reported by ``audit verify``."""
    record: dict[str, Any] = json.loads(item["record"]["S"])
    return record


def projection_mismatches(item: dict[str, Any]) -> list[str]:
    record = from_item(item)
    out = []
    for name in INDEXED:
        stored = item.get(name)
        value = record.get(name)
        if stored is None:
            if value not in (None, "") and not isinstance(value, bool):
                out.append(name)
            continue
        if str(next(iter(stored.values()))) != str(value):
            out.append(name)
    return out


class AuditStore:
    def __init__(self, dynamodb: Any, logs: Any, table: str, log_group: str, retention_days: int = 90) -> None:
        self.ddb = dynamodb
        self.logs = logs
        self.table = table
        self.log_group = log_group
        self.retention_days = retention_days
        self._stream: str | None = None
        self._lock = threading.Lock()
        self._instance = uuid.uuid4().hex[:12]

    # --- DynamoDB ------------------------------------------------------------------------------------
    def exists(self, request_id: str, sk: str = "outcome") -> bool:
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": request_id}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return "Item" in resp

    def outcome(self, request_id: str, sk: str = "outcome") -> dict[str, Any] | None:
        """One stored record of a request (the workflow's outcome by default), or None."""
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": request_id}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return from_item(item) if item and "record" in item else None

    def _head(self, day: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(
            TableName=self.table, Key={"pk": {"S": f"CHAIN#{day}"}, "sk": {"S": "head"}}, ConsistentRead=True
        )
        item = resp.get("Item")
        if not item:
            return None
        return {"seq": int(item["seq"]["N"]), "record_hash": item["record_hash"]["S"], "chain_day": day}

    def write(self, record: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Append one outcome record. Returns (written, chained_record); written is False for a duplicate."""
        turn = _turn(self.table)
        mine = _Pending(self, record)
        with turn.guard:
            turn.queue.append(mine)
        deadline = time.monotonic() + CHAIN_TURN_SECONDS
        while not mine.done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                with turn.guard:
                    if mine in turn.queue:  # never started: withdrawn, so nobody writes it after the error
                        turn.queue.remove(mine)
                        raise AuditError("audit chain is busy (no turn in time); record not written")
                mine.done.wait()  # being written by the writer holding the turn: its outcome, whatever it is
                break
            if turn.lock.acquire(timeout=min(remaining, _TURN_POLL_SECONDS)):
                try:
                    _commit_through(turn, mine)
                finally:
                    turn.lock.release()
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _write(self, record: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        day = str(record["ts"])[:10]
        ttl = int(time.time()) + self.retention_days * 86_400 + 86_400
        cached = _HEADS.pop((self.table, day), None)
        for attempt in range(MAX_CHAIN_ATTEMPTS):
            guessed = cached is not None
            head = cached if cached is not None else self._head(day)
            cached = None  # a refused guess is never tried twice: the next attempt reads the head
            chained = link(head, dict(record), day)
            item = to_item(chained, ttl)
            head_item = {
                "pk": {"S": f"CHAIN#{day}"},
                "sk": {"S": "head"},
                "seq": {"N": str(chained["seq"])},
                "record_hash": {"S": chained["record_hash"]},
                "request_id": {"S": record["request_id"]},
            }
            head_put: dict[str, Any] = {"TableName": self.table, "Item": head_item}
            if head is None:
                head_put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                # the exact head this record chains onto (seq and hash): a stale or foreign guess is refused
                head_put["ConditionExpression"] = "seq = :prev AND record_hash = :prev_hash"
                head_put["ExpressionAttributeValues"] = {
                    ":prev": {"N": str(head["seq"])},
                    ":prev_hash": {"S": str(head["record_hash"])},
                }
            try:
                self.ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": item,
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {"Put": head_put},
                    ]
                )
                _HEADS[(self.table, day)] = {
                    "seq": chained["seq"],
                    "record_hash": chained["record_hash"],
                    "chain_day": day,
                }
                return True, chained
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise AuditError(f"audit table write failed: {error_code(exc)[:64]}") from None
                reasons = [r.get("Code", "") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False, chained  # this request's outcome is already recorded: idempotent no-op
                if self.exists(record["request_id"], sort_key(record)):
                    return False, chained
                if guessed:
                    continue  # another process moved the head since this one's last write: read it now
                time.sleep(random.uniform(0, min(0.2, 0.005 * (2**attempt))))  # noqa: S311 - jitter only
        raise AuditError("audit chain is too contended; record not written")

    def chain_records(self, day: str) -> list[dict[str, Any]]:
        """Every outcome record of one chain day, via the chain index (the read side's paginated query)."""
        reader = AuditReader(self.ddb, self.logs, self.table, self.log_group)
        return [from_item(i) for i in reader.chain_items(day) if "record" in i]

    # --- CloudWatch Logs -------------------------------------------------------------------------------
    def _ensure_stream(self) -> str:
        with self._lock:
            if self._stream is None:
                name = f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/audit/{self._instance}"
                try:
                    self.logs.create_log_stream(logGroupName=self.log_group, logStreamName=name)
                except ClientError as exc:
                    if error_code(exc) != "ResourceAlreadyExistsException":
                        raise
                self._stream = name
            return self._stream

    def log_line(self, record: dict[str, Any]) -> None:
        stream = self._ensure_stream()
        line = json.dumps(record, default=str, separators=(",", ":"), sort_keys=True)
        self.logs.put_log_events(
            logGroupName=self.log_group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(record.get("epoch_ms") or time.time() * 1000), "message": line}],
        )

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """The whole audit write: chained DynamoDB record first, then the log line (once)."""
        written, chained = self.write(record)
        if written:
            self.log_line(chained)
        return chained
