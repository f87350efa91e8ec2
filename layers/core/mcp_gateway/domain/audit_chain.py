"""Tamper-evident audit trail: a SHA-256 hash chain per UTC day.

Every audit record of one ``chain_day`` carries ``seq`` (1, 2, 3, ...), ``prev_hash`` (the
``record_hash`` of seq - 1, or ``GENESIS`` for seq 1) and its own ``record_hash``::

    record_hash = sha256(prev_hash_hex_ascii || canonical_json(record minus record_hash/prev_hash))

``seq`` and ``chain_day`` are inside the hashed record, so renumbering a record breaks its hash.

What the chain proves, and what it does not:

* Editing any field of a stored record (without recomputing) -> ``edited``.
* Deleting a record in the middle -> ``deleted`` (a seq gap whose successor points elsewhere).
* Swapping seq numbers of records -> ``reordered`` (each hash is valid under its original seq).
* Two records claiming one seq -> ``duplicate``.
* A chain whose first record does not start from ``GENESIS`` -> ``bad_genesis``.
* Deleting the *newest* records (truncating the tail), or a whole day, leaves a shorter chain that is
  perfectly consistent. Only an external anchor catches that: the chain head item (last seq and last
  hash per day, written in the same transaction as the record). Pass it as ``heads``.
* The chain is unkeyed: someone who can rewrite the table can rewrite every record after the one they
  change *and* the head. Anchor heads somewhere they cannot write (the audit log group, a signed
  daily digest) to close that gap.

Numbers are canonicalised as decimal values (``3.0`` -> ``3``, ``1e-07`` -> ``0.0000001``), so a record
hashes the same before and after a DynamoDB round trip (float -> ``Decimal``) or a tuple -> list
round trip through JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from .errors import InvalidInputError, ReasonCode
from .models import MediumStr, ShortStr, StrictModel

GENESIS = "0" * 64

MAX_DEPTH = 64

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

IssueKind = Literal["edited", "deleted", "reordered", "gap", "bad_genesis", "duplicate"]


class ChainIssue(StrictModel):
    chain_day: ShortStr
    seq: int
    kind: IssueKind
    request_id: ShortStr | None = None
    detail: MediumStr


# --------------------------------------------------------------------------------------------------
# Canonical serialisation
# --------------------------------------------------------------------------------------------------


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return int.__repr__(value)  # by value, also for IntEnum and other subclasses
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError("non-finite number", code=ReasonCode.INVALID_INPUT)
        dec = Decimal(float.__repr__(value))
    else:
        if not value.is_finite():
            raise InvalidInputError("non-finite number", code=ReasonCode.INVALID_INPUT)
        dec = value
    if dec == dec.to_integral_value():
        return str(int(dec))
    return format(dec.normalize(), "f")


def _write(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInputError("value nested too deeply", code=ReasonCode.INVALID_INPUT)
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int | float | Decimal):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        keys = list(value.keys())
        if not all(isinstance(k, str) for k in keys):
            raise InvalidInputError("object keys must be strings", code=ReasonCode.INVALID_INPUT)
        out.append("{")
        for i, key in enumerate(sorted(keys)):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    else:
        raise InvalidInputError(f"type {type(value).__name__} is not canonical JSON", code=ReasonCode.INVALID_INPUT)


def canonical_bytes(value: Any) -> bytes:
    """Canonical JSON of any JSON-like value: sorted keys, no whitespace, UTF-8 (not ASCII-escaped).

    Accepts dict/Mapping (string keys), list/tuple, str, int, float, Decimal, bool, None. Rejects NaN,
    infinities, other types, lone surrogates and nesting deeper than ``MAX_DEPTH`` with
    ``InvalidInputError``. Numbers are written as normalised decimals (see module docstring).
    """
    out: list[str] = []
    _write(value, out, 0)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError("string is not valid Unicode", code=ReasonCode.INVALID_INPUT) from exc


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """Canonical bytes of an audit record, excluding its own ``record_hash`` field."""
    return canonical_bytes({k: v for k, v in record.items() if k != "record_hash"})


def _check_hash(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise InvalidInputError(f"{name} must be 64 lowercase hex digits", code=ReasonCode.INVALID_INPUT)
    return value


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """sha256(prev_hash || canonical_json(record without record_hash and prev_hash)), hex."""
    _check_hash(prev_hash, "prev_hash")
    body = canonical_bytes({k: v for k, v in record.items() if k not in ("record_hash", "prev_hash")})
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


def _as_seq(value: Any) -> int | None:
    """An integer seq >= 1 (``Decimal`` from DynamoDB accepted), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    if isinstance(value, Decimal):
        try:
            if value.is_finite() and value == value.to_integral_value() and value >= 1:
                return int(value)
        except InvalidOperation:
            return None
    return None


def link(prev: Mapping[str, Any] | None, record: dict[str, Any], chain_day: str) -> dict[str, Any]:
    """Return a copy of ``record`` chained after ``prev`` (the current head of ``chain_day``, or None).

    Adds ``chain_day``, ``seq`` (prev seq + 1, starting at 1), ``prev_hash`` and ``record_hash``.
    ``record`` must not already carry ``seq``, ``prev_hash`` or ``record_hash``; a ``chain_day`` it
    carries must match. ``prev`` must belong to the same day: a new day starts from ``None``.
    Raises ``InvalidInputError`` on any inconsistency (the caller must then fail closed).
    """
    if not isinstance(chain_day, str) or not _DAY.match(chain_day):
        raise InvalidInputError("chain_day must be YYYY-MM-DD", code=ReasonCode.INVALID_INPUT)
    for name in ("seq", "prev_hash", "record_hash"):
        if name in record:
            raise InvalidInputError(f"record already has {name}", code=ReasonCode.INVALID_INPUT)
    if record.get("chain_day", chain_day) != chain_day:
        raise InvalidInputError("record belongs to another chain_day", code=ReasonCode.INVALID_INPUT)
    if prev is None:
        seq, prev_hash = 1, GENESIS
    else:
        if prev.get("chain_day") != chain_day:
            raise InvalidInputError("prev belongs to another chain_day", code=ReasonCode.INVALID_INPUT)
        prev_seq = _as_seq(prev.get("seq"))
        if prev_seq is None:
            raise InvalidInputError("prev has no valid seq", code=ReasonCode.INVALID_INPUT)
        seq, prev_hash = prev_seq + 1, _check_hash(prev.get("record_hash"), "prev record_hash")
    linked = dict(record)
    linked["chain_day"] = chain_day
    linked["seq"] = seq
    linked["prev_hash"] = prev_hash
    linked["record_hash"] = record_hash(prev_hash, linked)
    return linked


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    record: Mapping[str, Any]
    seq: int
    prev_hash: str
    stored_hash: str
    valid: bool  # hash verifies under the seq it carries
    original_seq: int | None = None  # seq under which the hash verifies (None: under none)

    @property
    def request_id(self) -> str | None:
        rid = self.record.get("request_id")
        return rid[:256] if isinstance(rid, str) else None


def _hash_with_seq(entry: _Entry, seq: int) -> str | None:
    try:
        return record_hash(entry.prev_hash, {**entry.record, "seq": seq})
    except InvalidInputError:
        return None


def _resolve_original_seqs(entries: list[_Entry]) -> None:
    """Find, for every entry, the seq under which its stored hash verifies.

    Valid entries are anchors (original seq = their seq). From GENESIS and every anchor we follow
    prev_hash links forward: a child of a record whose original seq is n was written as n + 1. A child
    whose hash verifies under n + 1 but not under its own seq was renumbered (reordered). Linear time.
    """
    children: dict[str, list[_Entry]] = defaultdict(list)
    for e in entries:
        children[e.prev_hash].append(e)
    frontier: list[tuple[str, int]] = [(GENESIS, 0)]
    for e in entries:
        if e.valid:
            e.original_seq = e.seq
            frontier.append((e.stored_hash, e.seq))
    seen: set[str] = set()
    while frontier:
        parent_hash, parent_seq = frontier.pop()
        if parent_hash in seen:
            continue
        seen.add(parent_hash)
        for child in children.get(parent_hash, ()):
            if child.original_seq is not None:
                continue
            candidate = parent_seq + 1
            if _hash_with_seq(child, candidate) == child.stored_hash:
                child.original_seq = candidate
                frontier.append((child.stored_hash, candidate))


def _parse(record: Mapping[str, Any]) -> tuple[_Entry | None, ChainIssue | None]:
    day = record.get("chain_day")
    day_s = day[:256] if isinstance(day, str) else ""
    rid = record.get("request_id")
    rid_s = rid[:256] if isinstance(rid, str) else None
    seq = _as_seq(record.get("seq"))
    prev_hash = record.get("prev_hash")
    stored = record.get("record_hash")
    if (
        not isinstance(day, str)
        or not _DAY.match(day)
        or seq is None
        or not isinstance(prev_hash, str)
        or not _HEX64.match(prev_hash)
        or not isinstance(stored, str)
        or not _HEX64.match(stored)
    ):
        issue = ChainIssue(
            chain_day=day_s,
            seq=seq or 0,
            kind="edited",
            request_id=rid_s,
            detail="chain fields (chain_day, seq, prev_hash, record_hash) missing or malformed",
        )
        return None, issue
    try:
        valid = record_hash(prev_hash, record) == stored
    except InvalidInputError:
        valid = False
    return _Entry(record=record, seq=seq, prev_hash=prev_hash, stored_hash=stored, valid=valid), None


def _verify_day(day: str, entries: list[_Entry], head: tuple[int, str] | None) -> list[ChainIssue]:
    issues: list[ChainIssue] = []
    flagged: set[int] = set()

    def add(seq: int, kind: IssueKind, detail: str, entry: _Entry | None = None) -> None:
        issues.append(
            ChainIssue(
                chain_day=day,
                seq=seq,
                kind=kind,
                request_id=entry.request_id if entry else None,
                detail=detail,
            )
        )

    _resolve_original_seqs(entries)

    # One entry per seq; extras are duplicates. Prefer the entry whose hash verifies.
    by_seq: dict[int, list[_Entry]] = defaultdict(list)
    for e in entries:
        by_seq[e.seq].append(e)
    chosen: dict[int, _Entry] = {}
    for seq, group in by_seq.items():
        group.sort(key=lambda e: (not e.valid, e.original_seq is None))
        chosen[seq] = group[0]
        for extra in group[1:]:
            flagged.add(seq)
            if extra.valid:
                same = extra.stored_hash == group[0].stored_hash
                detail = "identical copy of a record" if same else "another record claims the same seq"
                add(seq, "duplicate", detail, extra)
            elif extra.original_seq is not None:
                detail = f"record carries seq {seq} but was written as seq {extra.original_seq}"
                add(seq, "reordered", detail, extra)
            else:
                add(seq, "edited", "record_hash does not match the record's contents", extra)

    for seq, e in chosen.items():
        if e.valid:
            continue
        flagged.add(seq)
        if e.original_seq is not None:
            add(seq, "reordered", f"record carries seq {seq} but was written as seq {e.original_seq}", e)
        else:
            add(seq, "edited", "record_hash does not match the record's contents", e)

    seqs = sorted(chosen)
    if seqs:
        first = chosen[seqs[0]]
        if seqs[0] > 1:
            if first.prev_hash == GENESIS and first.seq not in flagged:
                add(first.seq, "bad_genesis", f"chain starts at seq {first.seq} instead of 1", first)
            else:
                add(1, "deleted", f"records 1..{seqs[0] - 1} are missing")
        elif first.prev_hash != GENESIS and first.seq not in flagged:
            add(first.seq, "bad_genesis", "seq 1 does not link to GENESIS", first)

    hashes = {e.stored_hash for e in entries}
    for a_seq, b_seq in itertools.pairwise(seqs):
        a, b = chosen[a_seq], chosen[b_seq]
        linked = b.prev_hash == a.stored_hash
        if b_seq > a_seq + 1:
            if linked:
                add(a_seq + 1, "gap", f"seq jumps from {a_seq} to {b_seq} with intact links", b)
            else:
                add(a_seq + 1, "deleted", f"records {a_seq + 1}..{b_seq - 1} are missing", b)
        elif not linked and a_seq not in flagged and b_seq not in flagged:
            if b.prev_hash in hashes:
                add(b_seq, "reordered", f"seq {b_seq} links to a record other than seq {a_seq}", b)
            else:
                add(b_seq, "edited", f"seq {b_seq} does not link to seq {a_seq}: a record was rewritten", b)

    if head is not None:
        head_seq, head_hash = head
        last = seqs[-1] if seqs else 0
        if last < head_seq:
            add(last + 1, "deleted", f"records {last + 1}..{head_seq} missing: the head says {head_seq}")
        elif (
            head_seq in chosen
            and head_seq not in flagged
            and not hmac.compare_digest(chosen[head_seq].stored_hash.encode(), str(head_hash).encode())
        ):
            add(head_seq, "edited", "the head's hash differs from the record at the head seq")
    return issues


def verify_chain(
    records: Sequence[Mapping[str, Any]],
    heads: Mapping[str, tuple[int, str]] | None = None,
) -> list[ChainIssue]:
    """Verify audit records of one or more days; return every issue found (empty list: intact).

    Records may come in any order; they are grouped by ``chain_day`` and sorted by ``seq``. ``heads``
    maps day -> (last seq, last record_hash) from the chain head item; with it, truncation of a day's
    newest records (or of a whole day) is detected as ``deleted``. Records with a seq above the head
    are not an error (they may have been appended after the head was read); to avoid races on the
    current day, read the head first and then the records.

    Issues are sorted by (chain_day, seq, kind). Never raises for bad records: they become issues.
    """
    days: dict[str, list[_Entry]] = defaultdict(list)
    issues: list[ChainIssue] = []
    for record in records:
        if not isinstance(record, Mapping):
            issues.append(ChainIssue(chain_day="", seq=0, kind="edited", detail="record is not an object"))
            continue
        entry, issue = _parse(record)
        if issue is not None:
            issues.append(issue)
        elif entry is not None:
            days[str(entry.record["chain_day"])].append(entry)
    checked_heads: dict[str, tuple[int, str]] = {}
    for day, head in (heads or {}).items():
        try:
            head_seq, head_hash = head
        except (TypeError, ValueError):
            head_seq, head_hash = None, None
        seq = _as_seq(head_seq)
        if not isinstance(day, str) or seq is None or not isinstance(head_hash, str):
            detail = "chain head is malformed"
            issues.append(ChainIssue(chain_day=str(day)[:256], seq=0, kind="edited", detail=detail))
            continue
        checked_heads[day] = (seq, head_hash)
    for day in sorted(set(days) | set(checked_heads)):
        issues.extend(_verify_day(day, days.get(day, []), checked_heads.get(day)))
    issues.sort(key=lambda i: (i.chain_day, i.seq, i.kind))
    return issues
