"""`mcp-gateway quota show --user X`: one user's current usage of every quota, read from the rate-limit table.

The counters are found by key, never by scan: the quota plan (``mcp_gateway.domain.quota``, shared with the
``whoami`` tool) lists the same ``counter_key`` the validator computes for "now", for each tier (with the user's
group overrides), the global per-user ceiling, the day's bytes budget and the objects-per-window budget; the
counters are read through the ``QuotaStore`` adapter. Works against the local stack (default) or a deployed
table (``--table``, with the ambient AWS credentials).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp_gateway.adapters import aws
from mcp_gateway.adapters.quota_store import QuotaStore
from mcp_gateway.domain import quota
from mcp_gateway.domain.policy import Policy, parse_policy
from mcp_gateway.domain.ports import QuotaStorePort

from .template import ROOT

DEFAULT_POLICY = ROOT / "policy" / "gateway-policy.yaml"
LOCAL_REGION = "us-east-1"  # the local stack's region


def usage(
    store: QuotaStorePort, policy: Policy, email: str, groups: tuple[str, ...] = (), now: float | None = None
) -> list[dict[str, Any]]:
    """One row per quota of the shared plan (``domain/quota.py``, as ``whoami`` reports it): what is used in
    the current window, the limit, what remains, and when the window resets. A counter that cannot be read
    raises (the command then fails, it never reports a guess)."""
    at = time.time() if now is None else now
    rows: list[dict[str, Any]] = []
    for line in quota.quota_plan(policy, email, groups, at):
        use = quota.QuotaUsage(line, store.used(line.key, line.attribute))
        rows.append(
            {
                "quota": line.name,
                "used": use.used,
                "limit": line.limit,
                "remaining": use.remaining,
                "window_seconds": line.window_seconds,
                "window_start": line.window_start,
                "resets_in_seconds": line.resets_in_seconds,
                "key": line.key,
            }
        )
    return rows


def render(email: str, rows: list[dict[str, Any]]) -> str:
    header = f"  {'quota':<20} {'used':>12} {'limit':>12} {'window':>8} {'resets in':>10}"
    lines = [f"quota usage for {email}", header]
    for r in rows:
        flag = "  FULL" if r["limit"] and r["remaining"] == 0 else ""
        used = f"{r['quota']:<20} {r['used']:>12} {r['limit']:>12}"
        lines.append(f"  {used} {r['window_seconds']:>7}s {r['resets_in_seconds']:>9}s{flag}")
    return "\n".join(lines)


def _store(args: argparse.Namespace, info_loader: Callable[[argparse.Namespace], Any]) -> QuotaStore:
    """The rate-limit table: a deployed one (``--table``, ambient credentials) or the local stack's."""
    if args.table:
        return QuotaStore(aws.session_client(aws.region_session(args.region), "dynamodb", args.region), args.table)
    info = info_loader(args)
    local = aws.credentials_session("testing", "testing", region=LOCAL_REGION)  # moto's fixed local credentials
    ddb = aws.session_client(local, "dynamodb", LOCAL_REGION, endpoint_url=info.moto_endpoint)
    return QuotaStore(ddb, info.resources["RateLimitTable"])


def cmd_quota_show(args: argparse.Namespace, info_loader: Callable[[argparse.Namespace], Any]) -> int:
    try:
        policy = parse_policy(Path(args.policy).read_text())
    except (OSError, ValueError) as exc:
        print(f"error: cannot load the policy {args.policy}: {exc}", file=sys.stderr)
        return 1
    groups = tuple(g for g in (args.groups or "").split(",") if g)
    rows = usage(_store(args, info_loader), policy, args.user, groups)
    if args.json:
        print(json.dumps({"user": args.user.lower(), "groups": list(groups), "quotas": rows}, indent=2))
    else:
        print(render(args.user, rows))
    return 0


def register(sub: Any, info_loader: Callable[[argparse.Namespace], Any]) -> None:
    """Add ``quota show`` to the ``mcp-gateway`` parser."""
    quota = sub.add_parser("quota", help="rate limits and data budgets")
    quota_sub = quota.add_subparsers(dest="quota_command", required=True)
    show = quota_sub.add_parser("show", help="a user's usage of every tier, the global ceiling and data budgets")
    show.add_argument("--user", required=True, help="the user's e-mail")
    show.add_argument("--groups", default="", help="comma-separated groups (their overrides raise limits)")
    show.add_argument("--policy", default=str(DEFAULT_POLICY), help="policy file (default: the repository's)")
    show.add_argument("--table", default=None, help="a deployed rate-limit table (default: local)")
    show.add_argument("--region", default=None, help="region of --table")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=lambda args: cmd_quota_show(args, info_loader))
