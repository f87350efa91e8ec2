"""`mcp-gateway keys list | rotate | promote KID | retire KID`: rotate the gateway's session signing keys in the
SessionKeysSecret (Secrets Manager), one safe step at a time, with no hand-merged JSON.

The order (docs/runbook.md): ``keys rotate`` adds a new verify-only key; after 5 minutes (the functions cache the
secret for 300 s) ``keys promote KID`` makes it sign; after 20 more minutes (the longest a session token lives,
plus the cache) ``keys retire OLD_KID`` drops the old one. ``keys rotate --now`` does all three at once and so
ends every session (the old key leaked). Local stack by default, ``--stack NAME [--region R]`` for a deployed
one. Key material is never printed."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError
from mcp_gateway.adapters import aws
from mcp_gateway.adapters.session_key_store import SessionKeyStore
from mcp_gateway.adapters.stack_lookup import StackLookupError, describe_stack
from mcp_gateway.domain import key_rotation
from mcp_gateway.domain.errors import ConfigError
from mcp_gateway.domain.tokens.session import SessionKeySet, generate_session_key

EXIT_ERROR = 2


class KeysCliError(Exception):
    """A one-line error for the terminal (exit code 2)."""


def store_for(args: argparse.Namespace) -> SessionKeyStore:
    if getattr(args, "stack", None):
        session = aws.region_session(args.region)
        try:
            physical, _ = describe_stack(
                aws.session_client(session, "cloudformation", args.region), args.stack, {"keys": "SessionKeysSecret"}
            )
        except StackLookupError as exc:
            raise KeysCliError(str(exc)) from None
        return SessionKeyStore(aws.session_client(session, "secretsmanager", args.region), physical["keys"])
    from .stack_info import REGION, StackInfo

    path = Path(args.state_dir) / "stack.json"
    if not path.exists():
        raise KeysCliError(f"no local stack ({path} is missing): start one with `make run`, or pass --stack")
    info = StackInfo.load(path)
    session = aws.credentials_session("testing", "testing", region=REGION)  # moto's dummy credentials
    client = aws.session_client(session, "secretsmanager", REGION, endpoint_url=info.moto_endpoint)
    return SessionKeyStore(client, info.resources["SessionKeysSecret"])


def run(args: argparse.Namespace, store: SessionKeyStore, now: float) -> dict[str, Any]:
    """Apply the subcommand to the stored key set; the answer names the kids and the next step."""
    current = store.read()
    if current is None:  # a fresh deploy: the first rotate creates the key set
        if args.keys_command != "rotate":
            raise KeysCliError("the session key secret has no key set yet: run `mcp-gateway keys rotate` first")
        key = generate_session_key(args.kid or f"k-{time.strftime('%Y%m%d%H%M%S', time.gmtime(now))}")
        version = store.write(SessionKeySet(active_kid=key.kid, keys=(key,)))
        return {"active_kid": key.kid, "keys": [{"kid": key.kid, "active": True}], "version_id": version, "next": ""}
    keyset = current
    before = keyset.active_kid
    next_step = ""
    if args.keys_command == "list":
        return {"active_kid": keyset.active_kid, "keys": key_rotation.describe(keyset)}
    if args.keys_command == "rotate":
        kid = args.kid or key_rotation.next_kid(keyset, time.strftime("%Y%m%d%H%M%S", time.gmtime(now)))
        key = generate_session_key(kid)
        if args.now:
            keyset = key_rotation.replace_all(keyset, key)
            next_step = "every session signed by an older key has ended; developers sign in again"
        else:
            keyset = key_rotation.add_key(keyset, key)
            next_step = f"in 5 minutes: mcp-gateway keys promote {kid}"
    elif args.keys_command == "promote":
        keyset = key_rotation.promote_key(keyset, args.kid)
        next_step = f"in 20 minutes: mcp-gateway keys retire {before}" if before != args.kid else ""
    else:
        if not args.kid and not args.inactive:
            raise KeysCliError("keys retire needs a KID or --inactive")
        for kid in [args.kid] if args.kid else [k.kid for k in keyset.keys if k.kid != keyset.active_kid]:
            keyset = key_rotation.retire_key(keyset, kid)
    version = store.write(keyset)
    return {
        "active_kid": keyset.active_kid,
        "keys": key_rotation.describe(keyset),
        "version_id": version,
        "next": next_step,
    }


def cmd_keys(args: argparse.Namespace) -> int:
    try:
        answer = run(args, store_for(args), time.time())
    except (KeysCliError, ConfigError, BotoCoreError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(answer))
    return 0


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="rotate the session signing keys (add, promote, retire) in Secrets Manager")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    parents = []
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", default=None, help="a deployed stack's name (default: the local stack)")
    common.add_argument("--region", default=None, help="the deployed stack's region (default: AWS config)")
    parents.append(common)
    keys_sub.add_parser("list", parents=parents, help="the kids in the key set and which one signs")
    rotate = keys_sub.add_parser("rotate", parents=parents, help="add a new verify-only key (--now: replace all)")
    rotate.add_argument("--kid", default=None, help="the new key's id (default: k-<UTC timestamp>)")
    rotate.add_argument("--now", action="store_true", help="emergency: the new key alone, active (ends every session)")
    promote = keys_sub.add_parser("promote", parents=parents, help="make KID the signing key")
    promote.add_argument("kid")
    retire = keys_sub.add_parser("retire", parents=parents, help="remove KID (never the active one)")
    retire.add_argument("kid", nargs="?", default=None)
    retire.add_argument("--inactive", action="store_true", help="remove every key but the active one")
    keys.set_defaults(func=cmd_keys)
