"""`mcp-gateway approvals list|show`: pending and recent approval requests, from the approvals table.

    mcp-gateway approvals list                      every request of the last 7 days, newest first
    mcp-gateway approvals list --state pending      only those still waiting for a decision
    mcp-gateway approvals show REQUEST_ID           everything the Slack message shows, and its decision

Like ``mcp-gateway audit`` it targets the local stack (``.local/stack.json``) by default, or a deployed stack by
``--stack NAME --region R`` (the ApprovalsTable's physical id from CloudFormation). Each record is read through
``ApprovalStore`` and shown from the same ``ApprovalView`` the Slack message is built from. Every error is one
line with exit code 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_gateway.adapters import aws
from mcp_gateway.adapters.approval_store import ApprovalRecord, ApprovalStore, is_request_key, record_of
from mcp_gateway.adapters.stack_lookup import StackLookupError, describe_stack
from mcp_gateway.domain.slack import relative
from pydantic import ValidationError

from . import audit_cli
from .audit_cli import AuditCliError, _clean, parse_when

EXIT_OK = 0
LOGICAL = {"approvals": "ApprovalsTable"}
DEFAULT_SINCE = "7d"
STATES = ("PENDING", "APPROVED", "DENIED", "EXPIRED", "CANCELLED")


@dataclass
class Target:
    store: ApprovalStore
    local: bool


def _local_target(state_dir: Path) -> Target:
    from .stack_info import REGION, StackInfo

    path = state_dir / "stack.json"
    if not path.exists():
        raise AuditCliError(f"no local stack ({path} is missing): start one with `make run`, or pass --stack")
    info = StackInfo.load(path)
    table = info.resources.get(LOGICAL["approvals"])
    if not table:
        raise AuditCliError(f"the local stack has no {LOGICAL['approvals']}")
    session = aws.credentials_session("testing", "testing", region=REGION)  # moto's well-known dummy credentials
    ddb = aws.session_client(session, "dynamodb", REGION, endpoint_url=info.moto_endpoint)
    return Target(store=ApprovalStore(ddb, table), local=True)


def _deployed_target(stack: str, region: str | None) -> Target:
    session = aws.region_session(region)
    try:
        physical, _ = describe_stack(aws.session_client(session, "cloudformation", region), stack, LOGICAL)
    except StackLookupError as exc:
        raise AuditCliError(str(exc)) from None
    return Target(
        store=ApprovalStore(aws.session_client(session, "dynamodb", region), physical["approvals"]), local=False
    )


def resolve_target(args: argparse.Namespace) -> Target:
    if getattr(args, "stack", None):
        return _deployed_target(args.stack, getattr(args, "region", None))
    return _local_target(Path(args.state_dir))


# ------------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------------
def utc(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def as_json(record: ApprovalRecord, now: float) -> dict[str, Any]:
    view = record.view
    try:
        parameters: Any = json.loads(view.parameters_json)
    except ValueError:
        parameters = view.parameters_json
    return {
        "request_id": view.request_id,
        "request_hash": view.request_hash,
        "requester": view.requester_email,
        "tool": view.tool,
        "action": view.action,
        "resources": list(view.resources),
        "parameters": parameters,  # already redacted when the request was flagged
        "rule_id": view.rule_id,
        "reason": view.reason,
        "matched": view.trigger,
        "state": record.state,
        "stored_status": record.stored_status,
        "expires_at": int(view.expires_at),
        "expires_at_utc": utc(view.expires_at),
        "expires_relative": relative(view.expires_at, now),
        "created_at": None if record.created_at is None else int(record.created_at),
        "created_at_utc": utc(record.created_at),
        "decided_by": record.decided_by or None,
        "decided_at": None if record.decided_at is None else int(record.decided_at),
        "decided_at_utc": utc(record.decided_at) or None,
        "slack_channel": record.slack_channel or None,
        "slack_ts": record.slack_ts or None,
    }


COLUMNS = (
    ("REQUEST ID", 36),
    ("REQUESTER", 40),
    ("TOOL", 18),
    ("ACTION", 22),
    ("RULE", 30),
    ("STATE", 9),
    ("EXPIRY", 40),
    ("DECIDED BY", 28),
)


def render_list(records: Sequence[ApprovalRecord], fmt: str, now: float) -> str:
    if fmt == "json":
        return json.dumps([as_json(r, now) for r in records], indent=2, ensure_ascii=False)
    if not records:
        return "no approval requests match"
    lines = ["  ".join(name.ljust(width) for name, width in COLUMNS).rstrip()]
    for r in records:
        v = r.view
        cells = (
            v.request_id,
            v.requester_email,
            v.tool or "-",
            v.action,
            v.rule_id,
            r.state,
            f"{utc(v.expires_at)} ({relative(v.expires_at, now)})",
            r.decided_by or "-",
        )
        lines.append("  ".join(_clean(c, w).ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)).rstrip())
    return "\n".join(lines)


def render_show(record: ApprovalRecord, fmt: str, now: float) -> str:
    if fmt == "json":
        return json.dumps(as_json(record, now), indent=2, ensure_ascii=False)
    v = record.view
    lines = [
        f"Request ID:   {_clean(v.request_id)}",
        f"State:        {record.state}",
        f"Requested by: {_clean(v.requester_email)}",
        f"Tool:         {_clean(v.tool or '-')}",
        f"Action:       {_clean(v.action)}",
        f"Resources ({len(v.resources)}):",
        *[f"  - {_clean(res)}" for res in v.resources],
        "Parameters (sanitised):",
        *[f"  {_clean(line)}" for line in v.parameters_json.splitlines() or ["{}"]],
        f"Rule:         {_clean(v.rule_id)}",
        f"Reason:       {_clean(v.reason)}",
        f"Matched:      {_clean(v.trigger or '-')}",
        f"Expires:      {utc(v.expires_at)} ({relative(v.expires_at, now)})",
        f"Created:      {utc(record.created_at) or '-'}",
        f"Decided by:   {_clean(record.decided_by or '-')}",
        f"Decided at:   {utc(record.decided_at) or '-'}",
        f"Request hash: {v.request_hash}",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------------------
def _records(target: Target, since: float, now: float) -> list[ApprovalRecord]:
    out: list[ApprovalRecord] = []
    for item in target.store.request_items(created_since=since):
        try:
            out.append(record_of(item, now))
        except (ValidationError, ValueError):
            continue  # not an approval request this CLI can show; the scan goes on
    out.sort(key=lambda r: (r.created_at or 0.0, r.view.request_id), reverse=True)
    return out


def cmd_list(args: argparse.Namespace, now: float | None = None) -> int:
    now = time.time() if now is None else now
    since = parse_when(args.since, now)
    target = resolve_target(args)
    records = _records(target, since, now)
    if args.state != "all":
        records = [r for r in records if r.state == args.state.upper()]
    print(render_list(records, args.format, now))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, now: float | None = None) -> int:
    now = time.time() if now is None else now
    rid = str(args.request_id)
    if not is_request_key(rid) or len(rid) > 128:
        raise AuditCliError(f"no approval request {_clean(rid, 60)}")
    target = resolve_target(args)
    item = target.store.get(rid)
    if item is None:
        raise AuditCliError(f"no approval request {_clean(rid, 60)}")
    try:
        record = record_of(item, now)
    except (ValidationError, ValueError):
        raise AuditCliError(f"approval request {_clean(rid, 60)} is unreadable") from None
    print(render_show(record, args.format, now))
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``approvals list`` and ``approvals show`` to the ``mcp-gateway`` parser."""
    approvals = sub.add_parser(
        "approvals",
        help="list and show pending and recent approval requests",
        description="Pending and recent approval requests, e.g. mcp-gateway approvals list --state pending",
    )
    audit_cli._target_options(approvals, nested=False)
    approvals_sub = approvals.add_subparsers(dest="approvals_command", required=True)

    lst = approvals_sub.add_parser("list", help="pending and recent requests, newest first")
    audit_cli._target_options(lst, nested=True)
    lst.add_argument("--state", type=str.lower, choices=["pending", "all"], default="all")
    lst.add_argument("--since", default=DEFAULT_SINCE, help=f"7d, 24h, a date, ISO time (default {DEFAULT_SINCE})")
    lst.add_argument("--format", choices=["table", "json"], default="table")
    lst.set_defaults(func=_guard(cmd_list))

    show = approvals_sub.add_parser("show", help="one request: what the approver saw, and its decision")
    audit_cli._target_options(show, nested=True)
    show.add_argument("request_id")
    show.add_argument("--format", choices=["table", "json"], default="table")
    show.set_defaults(func=_guard(cmd_show))


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    guarded = audit_cli._guard(func)

    def run(args: argparse.Namespace) -> int:
        try:
            return guarded(args)
        except (OSError, ValueError) as exc:  # e.g. an unreadable stack.json: still one line, exit code 2
            print(f"error: {' '.join(str(exc).split())[:200]}", file=sys.stderr)
            return audit_cli.EXIT_USAGE

    return run
