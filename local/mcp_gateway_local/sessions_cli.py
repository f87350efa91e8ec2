"""`mcp-gateway sessions list|revoke --user EMAIL`: a user's sign-in sessions (refresh-token families) and
incident response.

``revoke`` marks every one of the user's families revoked (their refresh tokens stop working) and writes the
per-user revocation marker the gateway checks on every /mcp call, so an access token issued before the
revocation is refused at once, although it is still within its 15 minutes. Works against the local stack
(default) or a deployed table (``--table``, with the ambient AWS credentials).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from mcp_gateway.adapters import aws
from mcp_gateway.adapters.oauth_store import OAuthStore

LOCAL_REGION = "us-east-1"
MARKER_KEEP_SECONDS = 2 * 86_400  # far longer than any access token issued before the revocation can live


def _local_store(info: Any) -> OAuthStore:
    local = aws.credentials_session("testing", "testing", region=LOCAL_REGION)  # moto's fixed local credentials
    ddb = aws.session_client(local, "dynamodb", LOCAL_REGION, endpoint_url=info.moto_endpoint)
    return OAuthStore(ddb, info.resources["OAuthTable"])


def sessions(store: OAuthStore, email: str) -> list[dict[str, Any]]:
    return [
        {
            "family_id": f.family_id,
            "client_id": f.client_id,
            "email": f.email,
            "groups": list(f.groups),
            "started_at": f.started_at,
            "last_refreshed_at": f.last_refreshed_at,
            "absolute_expires_at": f.absolute_expires_at,
            "revoked": f.revoked,
            "revoked_reason": f.revoked_reason,
        }
        for f in store.families_for_user(email)
    ]


def revoke(store: OAuthStore, email: str, now: float | None = None) -> int:
    """Cut the user off: the marker first (the edge refuses their tokens from now on), then every family."""
    at = int(time.time() if now is None else now)
    store.put_user_revocation(email, at, at + MARKER_KEEP_SECONDS)
    count = 0
    for family in store.families_for_user(email):
        if not family.revoked:
            store.revoke_family(family.family_id, "revoked_by_operator")
            count += 1
    return count


def list_sessions(info: Any, email: str) -> list[dict[str, Any]]:
    return sessions(_local_store(info), email)


def revoke_sessions(info: Any, email: str) -> int:
    return revoke(_local_store(info), email)


def _store(args: argparse.Namespace, info_loader: Callable[[argparse.Namespace], Any]) -> OAuthStore:
    if args.table:
        return OAuthStore(aws.session_client(aws.region_session(args.region), "dynamodb", args.region), args.table)
    return _local_store(info_loader(args))


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) if epoch else "-"


def cmd_list(args: argparse.Namespace, info_loader: Callable[[argparse.Namespace], Any]) -> int:
    rows = sessions(_store(args, info_loader), args.user)
    if args.json:
        print(json.dumps({"user": args.user.lower(), "sessions": rows}, indent=2))
        return 0
    print(f"sessions of {args.user}: {len(rows)}")
    for r in rows:
        state = f"revoked ({r['revoked_reason']})" if r["revoked"] else "active"
        print(
            f"  {r['family_id']}  {state:<28} client {r['client_id']}  started {_when(r['started_at'])}Z  "
            f"last refresh {_when(r['last_refreshed_at'])}Z  ends {_when(r['absolute_expires_at'])}Z"
        )
    return 0


def cmd_revoke(args: argparse.Namespace, info_loader: Callable[[argparse.Namespace], Any]) -> int:
    count = revoke(_store(args, info_loader), args.user)
    print(f"revoked {count} session(s) of {args.user}; their access tokens are refused from now on")
    return 0


def register(sub: Any, info_loader: Callable[[argparse.Namespace], Any]) -> None:
    """Add ``sessions list|revoke`` to the ``mcp-gateway`` parser."""
    parser = sub.add_parser("sessions", help="users' sign-in sessions: list them, revoke them (incident response)")
    verbs = parser.add_subparsers(dest="sessions_command", required=True)
    for verb, func, text in (
        ("list", cmd_list, "a user's sessions (refresh-token families)"),
        ("revoke", cmd_revoke, "revoke every session of a user and refuse their access tokens at once"),
    ):
        cmd = verbs.add_parser(verb, help=text)
        cmd.add_argument("--user", required=True, help="the user's e-mail")
        cmd.add_argument("--table", default=None, help="a deployed OAuth table (default: local)")
        cmd.add_argument("--region", default=None, help="region of --table")
        if verb == "list":
            cmd.add_argument("--json", action="store_true", help="machine-readable output")
        cmd.set_defaults(func=lambda args, f=func: f(args, info_loader))
