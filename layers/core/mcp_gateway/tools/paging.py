"""Shared result shaping for the tool executors: redact, fit under the payload cap, and say where the next
page starts. Pure: no I/O; the executors hand in what the AWS API answered.

Every helper returns the execute step's result envelope: ``status``, ``data`` (the tool's result, redacted),
``redactions`` (counts per kind), ``bytes_returned``, ``truncated`` and, when more remains, ``continuation``
(the arguments that continue from where this page stopped).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..domain.redaction import RedactionResult, Redactor
from .common import epoch_ms_iso

BINARY_SAMPLE = 4096
# Room left in the payload cap for the envelope around a page of items or text.
ITEM_ENVELOPE_BYTES = 4096
TEXT_ENVELOPE_BYTES = 2048
# Leading bytes that identify common binary formats (reported instead of content).
MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"PAR1", "parquet"),
    (b"\x7fELF", "elf"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def merge_counts(total: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v


def detected_type(data: bytes) -> str | None:
    for magic, name in MAGIC:
        if data.startswith(magic):
            return name
    return None


def looks_binary(data: bytes) -> bool:
    if detected_type(data) is not None:
        return True
    sample = data[:BINARY_SAMPLE]
    # a page that starts inside a multi-byte character (an arbitrary offset) is still text
    skip = 0
    while skip < 3 and skip < len(sample) and (sample[skip] & 0xC0) == 0x80:
        skip += 1
    sample = sample[skip:]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the sample's end is still text
        return exc.start < len(sample) - 4
    return False


def iso_ms(ms: Any) -> str | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None


def oldest_timestamp(rows: list[dict[str, Any]]) -> str | None:
    """The oldest ``@timestamp`` among Insights rows, as ISO 8601 (AWS: 'YYYY-MM-DD hh:mm:ss.sss' UTC)."""
    found: list[str] = []
    for row in rows:
        value = str(row.get("@timestamp", ""))
        if value.isdigit():
            found.append(iso_ms(int(value)) or "")
        elif len(value) >= 19 and value[4] == "-":
            found.append(value.replace(" ", "T") + ("" if value.endswith("Z") else "Z"))
    found = [f for f in found if f]
    return min(found) if found else None


def log_page(
    data: dict[str, Any],
    raw_events: list[dict[str, Any]],
    next_token: str | None,
    params: dict[str, Any],
    red: Redactor,
    pii: bool,
    cap: int,
) -> dict[str, Any]:
    """Redact and cap one page of log events. If the cap cuts the page, the continuation resumes at the last
    returned event's timestamp (events of that same millisecond may repeat: de-duplicate by event_id)."""
    data, counts = red.redact_value(data, pii=pii)  # echoed caller inputs (log group, stream) like any text
    events: list[dict[str, Any]] = []
    size = 0
    budget = cap - ITEM_ENVELOPE_BYTES
    truncated = False
    for ev in raw_events:
        redacted = red.redact_text(ev.get("message", ""), pii=pii)
        item = {
            "timestamp": ev.get("timestamp"),
            "timestamp_iso": epoch_ms_iso(ev.get("timestamp")),
            "log_stream": ev.get("logStreamName", ""),
            "message": redacted.text,
            "event_id": ev.get("eventId", ""),
        }
        item_size = len(json.dumps(item)) + 2
        if size + item_size > budget:
            truncated = True
            break
        size += item_size
        merge_counts(counts, dict(redacted.counts))
        events.append(item)
    data = {**data, "events": events, "page_token": None if truncated else next_token}
    out: dict[str, Any] = {
        "status": "ok",
        "data": data,
        "redactions": counts,
        "bytes_returned": size,
        "truncated": truncated,
    }
    if truncated and events:
        out["continuation"] = {
            "start_time": iso_ms(events[-1]["timestamp"]),
            "end_time": iso_ms(params.get("endTime")),
            "after_event_id": events[-1]["event_id"],
        }
    elif next_token:
        out["continuation"] = {"page_token": next_token}
    return out


def redact_rows(
    rows: list[dict[str, Any]], red: Redactor, pii: bool, cap: int
) -> tuple[list[dict[str, Any]], dict[str, int], int, bool]:
    """Redact rows until the next one would not fit the cap: (rows kept, counts, bytes, cut short)."""
    counts: dict[str, int] = {}
    kept: list[dict[str, Any]] = []
    size = 0
    budget = cap - ITEM_ENVELOPE_BYTES
    for row in rows:
        clean, row_counts = red.redact_value(row, pii=pii)
        item_size = len(json.dumps(clean, default=str)) + 2
        if size + item_size > budget:
            return kept, counts, size, True
        size += item_size
        merge_counts(counts, dict(row_counts))
        kept.append(clean)
    return kept, counts, size, False


def paged(data: dict[str, Any], red: Redactor, pii: bool, cap: int) -> dict[str, Any]:
    out = shaped(data, red, pii, cap)
    if data.get("page_token"):
        out["continuation"] = {"page_token": data["page_token"]}
    return out


def utf8_boundary(data: bytes, n: int) -> int:
    """Largest cut <= n that does not split a UTF-8 character (prefers the end of a line)."""
    n = max(0, min(n, len(data)))
    if n == len(data):
        return n
    newline = data.rfind(b"\n", 0, n)
    if newline >= n // 2:
        return newline + 1
    while n > 0 and (data[n] & 0xC0) == 0x80:
        n -= 1
    return n


def fit_text(body: bytes, red: Redactor, pii: bool, budget: int) -> tuple[int, RedactionResult]:
    """Redact the longest prefix of ``body`` whose redacted, JSON-encoded text fits ``budget``.

    Returns (bytes of the original consumed, redaction result). Offsets stay exact in original bytes, so the
    next page starts precisely where this one stopped: nothing lost, nothing duplicated.
    """
    n = len(body)
    for _ in range(8):
        redacted = red.redact_text(body[:n].decode("utf-8", errors="replace"), pii=pii)
        size = len(json.dumps(redacted.text))
        if size <= budget or n == 0:
            return n, redacted
        n = utf8_boundary(body, int(n * budget / size * 0.95))
    n = utf8_boundary(body, budget // 8)
    return n, red.redact_text(body[:n].decode("utf-8", errors="replace"), pii=pii)


def total_size(content_range: str | None, length: int) -> int:
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    return int(length)


def shaped(data: Any, red: Redactor, pii: bool, cap: int) -> dict[str, Any]:
    clean, counts = red.redact_value(data, pii=pii)
    out = {
        "status": "ok",
        "data": clean,
        "redactions": dict(counts),
        "bytes_returned": len(json.dumps(clean, default=str)),
        "truncated": False,
    }
    return capped(out, cap)


def capped(out: dict[str, Any], cap: int) -> dict[str, Any]:
    """Keep the whole result under the cap (the workflow's payload limit is 256 KB)."""
    encoded = json.dumps(out, default=str)
    if len(encoded) <= cap:
        return out
    out["data"] = {"truncated_json": encoded[: max(0, cap - 512)]}
    out["truncated"] = True
    return out
