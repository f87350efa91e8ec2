"""W3C Trace Context: the one ``traceparent`` a request carries into the logs and the workflow. Pure.

A client names its trace in the MCP request's ``_meta.traceparent`` (or the HTTP ``traceparent`` header). The
value is the caller's text: it is kept only when it has the W3C form (``version-trace_id-parent_id-flags``, lower
case hex, no all-zero ids, version ``ff`` invalid), bounded to the 55 characters of version 00. A later version
may append fields after a dash; those are dropped (the spec's rule for a parser of version 00).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TRACEPARENT_CHARS = 55
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
_FORM = re.compile(TRACEPARENT_PATTERN)
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16


def parse_traceparent(value: object) -> str:
    """The valid ``traceparent`` in ``value``, or "" (never raises: a bad trace header is ignored, not refused)."""
    if not isinstance(value, str) or len(value) > 512:
        return ""
    text = value.strip()
    version = text[:2]
    if version != "00" and len(text) > TRACEPARENT_CHARS and text[TRACEPARENT_CHARS] == "-":
        text = text[:TRACEPARENT_CHARS]  # a future version's extra fields
    if not _FORM.fullmatch(text) or version == "ff" or (version == "00" and len(text) != TRACEPARENT_CHARS):
        return ""
    _, trace_id, parent_id, _ = text.split("-")
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_PARENT:
        return ""
    return text


def traceparent_of(meta: Mapping[str, Any] | None, header: str = "") -> str:
    """The request's trace: ``_meta.traceparent`` when valid, else the HTTP header's, else ""."""
    return parse_traceparent((meta or {}).get("traceparent")) or parse_traceparent(header)


def trace_id(traceparent: str) -> str:
    """The 32-hex trace id of a valid ``traceparent`` ("" otherwise)."""
    return traceparent.split("-")[1] if parse_traceparent(traceparent) else ""
