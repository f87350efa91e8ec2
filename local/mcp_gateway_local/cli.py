"""`mcp-gateway`: the developer's and operator's command-line tool (dev only; not shipped in the layer)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .stack import DEFAULT_STATE_DIR, StackInfo

EXIT_USAGE = 2


def _info(args: argparse.Namespace) -> StackInfo:
    path = Path(args.state_dir) / "stack.json"
    if not path.exists():
        sys.exit(f"error: no local stack found ({path} is missing). Start one with `make run`.")
    return StackInfo.load(path)


def _idp(info: StackInfo) -> Any:
    from .idp import LocalIdP

    return LocalIdP(info.idp_issuer, audience=info.idp_audience, client_id=info.idp_client_id, key_dir=info.idp_key_dir)


def mint_idp_token(info: StackInfo, email: str, groups: list[str], ttl: int = 3600) -> str:
    token: str = _idp(info).mint(email, groups, ttl=ttl)
    return token


def exchange(gateway_url: str, idp_token: str) -> dict[str, Any]:
    body = urllib.parse.urlencode(
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": idp_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        }
    ).encode()
    request = urllib.request.Request(
        f"{gateway_url}/oauth/token",
        data=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:  # noqa: S310 - gateway URL from config
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}")
        sys.exit(f"error: token exchange refused: {detail.get('error')} ({detail.get('error_description', '')})")


def cmd_run(args: argparse.Namespace) -> int:
    from .stack import LocalStack, PortInUseError

    stack = LocalStack(
        moto_port=args.moto_port,
        gateway_port=args.port,
        callback_port=args.callback_port,
        idp_port=args.idp_port,
        state_dir=Path(args.state_dir),
        policy_path=args.policy,
    )
    try:
        info = stack.start()
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    idp_token = mint_idp_token(info, args.email, args.groups.split(","))
    session = exchange(info.gateway_url, idp_token)
    token = session["access_token"]
    print(
        f"""
MCP security gateway - local stack is up
  MCP URL (streamable HTTP): {info.mcp_url}
  token endpoint:            {info.gateway_url}/oauth/token
  local AWS (moto):          {info.moto_endpoint}
  local IdP issuer:          {info.idp_issuer}
  approval callback:         {info.callback_url}

Session token for {args.email} (groups: {args.groups}; expires in {session['expires_in']} s):
{token}

Mint another:  .venv/bin/mcp-gateway token --email {args.email} --groups {args.groups}
MCP Inspector: npx @modelcontextprotocol/inspector --cli {info.mcp_url} --transport http \\
                 --header "Authorization: Bearer {token}" --method tools/list
Claude Code:   claude mcp add --transport http aws-gateway {info.mcp_url} --header "Authorization: Bearer {token}"

Press Ctrl-C to stop.""",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("\nstopping...", flush=True)
    stack.stop()
    return 0


def cmd_idp_token(args: argparse.Namespace) -> int:
    info = _info(args)
    print(mint_idp_token(info, args.email, args.groups.split(","), args.ttl))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    info = _info(args)
    idp_token = args.idp_token or mint_idp_token(info, args.email, args.groups.split(","))
    session = exchange(args.gateway or info.gateway_url, idp_token)
    if args.export:
        print(f"export MCP_GATEWAY_TOKEN={session['access_token']}")
    else:
        print(session["access_token"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-gateway", description=__doc__)
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="where the local stack keeps its state")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the local stack (moto as AWS, local IdP, local Slack)")
    run.add_argument("--port", type=int, default=8080, help="gateway function URL port")
    run.add_argument("--callback-port", type=int, default=8081)
    run.add_argument("--idp-port", type=int, default=8082)
    run.add_argument("--moto-port", type=int, default=5055)
    run.add_argument("--policy", default=None, help="policy file (default: policy/gateway-policy.yaml)")
    run.add_argument("--email", default="alice@example.com")
    run.add_argument("--groups", default="developers")
    run.set_defaults(func=cmd_run)

    idp = sub.add_parser("idp-token", help="mint a developer's IdP JWT from the local IdP")
    idp.add_argument("--email", default="alice@example.com")
    idp.add_argument("--groups", default="developers")
    idp.add_argument("--ttl", type=int, default=3600)
    idp.set_defaults(func=cmd_idp_token)

    tok = sub.add_parser("token", help="exchange an IdP token for a 15-minute gateway session token")
    tok.add_argument("--email", default="alice@example.com")
    tok.add_argument("--groups", default="developers")
    tok.add_argument("--idp-token", default=None, help="an IdP JWT (default: mint one from the local IdP)")
    tok.add_argument("--gateway", default=None, help="gateway base URL (default: the local stack)")
    tok.add_argument("--export", action="store_true", help="print as a shell export line")
    tok.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
