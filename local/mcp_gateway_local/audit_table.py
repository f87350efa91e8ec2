"""The auditor's table (``mcp-gateway audit --format table``): readable at 120 columns, true to the record.

- Default: every record is one row of wrapped cells (TIME USER DECISION STATUS REASON ACTION) and an indented
  line with the request id, bytes and every resource in full, wrapped, never cut. ``--wide``: one line per
  record, every cell in full, for wide terminals and ``grep``.
- REASON is the record's own: a call that failed shows the execution's reason (``NOT_FOUND``), not the
  decision's ``ALLOWED``.
- Approvers are people: a Slack user id (a callback record of a refused click carries only the id) is shown
  as the e-mail the policy's ``approvers.slack_id_to_email`` maps it to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

WIDTH = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
HEADER = ("TIME", "USER", "DECISION", "STATUS", "REASON", "ACTION")
WIDTHS = (24, 26, 8, 9, 20, 23)  # + 5 gaps of 2 = 120


def _printable(value: Any) -> str:
    return _CONTROL.sub("?", str(value))


def approver_emails(policy_path: str | Path | None) -> dict[str, str]:
    """Slack user id -> e-mail, from the policy's approvers (empty when the policy cannot be read)."""
    if policy_path is None:
        from .template import ROOT

        policy_path = ROOT / "policy" / "gateway-policy.yaml"
    try:
        policy = yaml.safe_load(Path(policy_path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    mapping = ((policy.get("approvers") or {}) if isinstance(policy, dict) else {}).get("slack_id_to_email") or {}
    return {str(k): str(v) for k, v in mapping.items()} if isinstance(mapping, dict) else {}


def person(value: str, approvers: Mapping[str, str]) -> str:
    """An e-mail for a Slack user id (``U123`` or ``slack:U123``); an unmapped id stays visibly an id."""
    slack_id = value.removeprefix("slack:")
    if "@" in value or not slack_id:
        return value
    if slack_id in approvers:
        return approvers[slack_id]
    return f"slack:{slack_id} (unmapped)" if value.startswith("slack:") or slack_id[:1] in "UW" else value


def reason_of(record: Mapping[str, Any]) -> str:
    """The reason true to the record's outcome: an executed call that failed carries the execution's reason."""
    if record.get("status") == "error" and record.get("result_reason"):
        return str(record["result_reason"])
    return str(record.get("reason", ""))


def _wrap(text: str, width: int) -> list[str]:
    """Hard-wrapped at ``width``, preferring to break after ``/ : , - @ .`` (ARNs, e-mails)."""
    out: list[str] = []
    while len(text) > width:
        cut = max(text.rfind(ch, 0, width) for ch in "/:,-@. ") + 1
        if cut <= width // 3:
            cut = width
        out.append(text[:cut])
        text = text[cut:]
    out.append(text)
    return out


def _cells(record: Mapping[str, Any], approvers: Mapping[str, str]) -> tuple[str, ...]:
    return (
        str(record.get("ts", "")),
        person(str(record.get("user_email", "")), approvers),
        str(record.get("decision", "")),
        str(record.get("status", "")),
        reason_of(record),
        str(record.get("action", "")),
    )


def _detail(record: Mapping[str, Any], flagged: bool, approvers: Mapping[str, str]) -> str:
    resources = [str(r) for r in record.get("resources") or []] or [str(record.get("resource", "") or "-")]
    parts = [f"request {record.get('request_id', '')}{' !index' if flagged else ''}"]
    parts.append(f"{record.get('bytes_returned', 0) or 0} B")
    if record.get("approver"):
        parts.append(f"approver {person(str(record['approver']), approvers)}")
    parts.append("resource " + ", ".join(resources))
    return "  ".join(parts)


def render_table(
    rows: Iterable[tuple[Mapping[str, Any], bool]],
    *,
    wide: bool = False,
    approvers: Mapping[str, str] | None = None,
    width: int = WIDTH,
) -> str:
    """``rows``: (record, index mismatch flagged)."""
    names = approvers or {}
    if wide:  # one line per record, every cell in full, columns as wide as their longest cell
        table: list[tuple[str, ...]] = [(*HEADER, "BYTES", "APPROVER", "REQUEST ID", "RESOURCES")]
        for record, flagged in rows:
            extra = (
                str(record.get("bytes_returned", 0) or 0),
                person(str(record.get("approver", "")), names) or "-",
                str(record.get("request_id", "")) + (" !index" if flagged else ""),
                ", ".join(str(r) for r in record.get("resources") or []) or "-",
            )
            table.append(tuple(_printable(c) for c in (*_cells(record, names), *extra)))
        sizes = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        return "\n".join("  ".join(c.ljust(n) for c, n in zip(r, sizes, strict=True)).rstrip() for r in table) + "\n"
    lines = [_row(HEADER, WIDTHS)[0], "  " + "REQUEST, BYTES, APPROVER, RESOURCES (in full)"]
    for record, flagged in rows:
        lines += _row(tuple(_printable(c) for c in _cells(record, names)), WIDTHS)
        lines += ["    " + part for part in _wrap(_printable(_detail(record, flagged, names)), width - 4)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _row(cells: Sequence[str], widths: Sequence[int]) -> list[str]:
    wrapped = [_wrap(c, w) for c, w in zip(cells, widths, strict=True)]
    height = max(len(w) for w in wrapped)
    return [
        "  ".join((w[i] if i < len(w) else "").ljust(width) for w, width in zip(wrapped, widths, strict=True))
        for i in range(height)
    ]
