"""`mcp-gateway quota show --user X`: one user's current usage of every quota, read from the rate-limit table.

The counters are found by key, never by scan: the same ``counter_key`` the validator computes for "now", for
each tier (with the user's group overrides), the global per-user ceiling, the objects-per-window budget and
the day's bytes budget. Works against the local stack (default) or a deployed table (``--table``, with the
ambient AWS credentials).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp_gateway.domain import ratelimit
from mcp_gateway.domain.models import Tier
from mcp_gateway.domain.policy import Policy, parse_policy

from .template import ROOT

DEFAULT_POLICY = ROOT / "policy" / "gateway-policy.yaml"


def _counter(ddb: Any, table: str, key: str, attribute: str) -> int:
    item = ddb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item") or {}
    value = item.get(attribute) or {}
    return int(value.get("N", "0"))


def usage(
    ddb: Any, table: str, policy: Policy, email: str, groups: tuple[str, ...] = (), now: float | None = None
) -> list[dict[str, Any]]:
    """One row per quota: what is used in the current window, the limit, and when the window resets."""
    at = time.time() if now is None else now
    rows: list[dict[str, Any]] = []

    def row(quota: str, scope: Tier | str, attribute: str, limit: int, window: int) -> None:
        key = ratelimit.counter_key(email, scope, at, window)
        rows.append(
            {
                "quota": quota,
                "used": _counter(ddb, table, key, attribute),
                "limit": limit,
                "window_seconds": window,
                "window_start": ratelimit.window_start(at, window),
                "resets_in_seconds": ratelimit.retry_after(at, window),
                "key": key,
            }
        )

    for tier in Tier:
        limit = policy.tier_limit(tier, groups)
        row(f"tier:{tier.value}", tier, "hits", limit.limit, limit.window_seconds)
    glob = policy.rate_limits.global_per_user
    row("global", "all", "hits", glob.limit, glob.window_seconds)
    budgets = policy.data_budgets
    row("objects_per_window", "objects", "objects", budgets.objects_per_window, budgets.window_seconds)
    row("bytes_per_day", "bytes", "bytes_used", budgets.bytes_per_day, ratelimit.DAY_SECONDS)
    return rows


def render(email: str, rows: list[dict[str, Any]]) -> str:
    header = f"  {'quota':<20} {'used':>12} {'limit':>12} {'window':>8} {'resets in':>10}"
    lines = [f"quota usage for {email}", header]
    for r in rows:
        flag = "  FULL" if r["limit"] and r["used"] >= r["limit"] else ""
        used = f"{r['quota']:<20} {r['used']:>12} {r['limit']:>12}"
        lines.append(f"  {used} {r['window_seconds']:>7}s {r['resets_in_seconds']:>9}s{flag}")
    return "\n".join(lines)


def cmd_quota_show(args: argparse.Namespace, info_loader: Callable[[argparse.Namespace], Any]) -> int:
    import boto3
    from botocore.config import Config

    try:
        policy = parse_policy(Path(args.policy).read_text())
    except (OSError, ValueError) as exc:
        print(f"error: cannot load the policy {args.policy}: {exc}", file=sys.stderr)
        return 1
    if args.table:
        ddb = boto3.client("dynamodb", region_name=args.region)
        table = args.table
    else:
        info = info_loader(args)
        ddb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=info.moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fixed local credentials
            config=Config(retries={"max_attempts": 2, "mode": "standard"}),
        )
        table = info.resources["RateLimitTable"]
    groups = tuple(g for g in (args.groups or "").split(",") if g)
    rows = usage(ddb, table, policy, args.user, groups)
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
