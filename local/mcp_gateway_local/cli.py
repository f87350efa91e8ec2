"""`mcp-gateway`: the developer's and operator's command-line tool (dev only; not shipped in the layer)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .stack_info import DEFAULT_STATE_DIR, StackInfo

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
    request = urllib.request.Request(  # noqa: S310 - the gateway URL from config or the local stack
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
    except urllib.error.URLError as exc:
        sys.exit(f"error: cannot reach the gateway at {gateway_url}: {exc.reason}")


def cmd_run(args: argparse.Namespace) -> int:
    import os

    from .stack import LocalStack, PortInUseError

    # The terminal is for people: no EMF metric lines, only warnings and errors from the functions' logs.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    stack = LocalStack(
        moto_port=args.moto_port,
        gateway_port=args.port,
        callback_port=args.callback_port,
        idp_port=args.idp_port,
        slack_port=args.slack_port,
        state_dir=Path(args.state_dir),
        policy_path=args.policy,
    )
    try:
        info = stack.start()
    except (PortInUseError, OSError, ValueError) as exc:  # every startup error is one line, never a traceback
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
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
  approvals page (Slack):    {info.slack_url}/approvals

Connect with no token: the client signs in by itself (OAuth 2.1; the local IdP's login page opens in a browser)
Claude Code:   claude mcp add --transport http aws-gateway {info.mcp_url}
VS Code:       code --add-mcp '{{"name":"aws-gateway","type":"http","url":"{info.mcp_url}"}}'
MCP Inspector: npx @modelcontextprotocol/inspector  (Transport: Streamable HTTP, URL: {info.mcp_url})
Sessions:      .venv/bin/mcp-gateway sessions list --user {args.email}   (revoke: sessions revoke --user ...)

Fallback, a pasted session token for {args.email} (groups: {args.groups}; expires in {session["expires_in"]} s):
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
    if args.idp_token and args.gateway:  # a real IdP token for a deployed gateway: no local stack needed
        idp_token, gateway = args.idp_token, args.gateway
    else:
        info = _info(args)
        idp_token = args.idp_token or mint_idp_token(info, args.email, args.groups.split(","))
        gateway = args.gateway or info.gateway_url
    session = exchange(gateway.rstrip("/"), idp_token)
    if args.export:
        print(f"export MCP_GATEWAY_TOKEN={session['access_token']}")
    else:
        print(session["access_token"])
    return 0


def slack_user_for(email: str, policy_path: str | None) -> tuple[str, str]:
    """(Slack user id, name) for an approver e-mail, from the policy's approvers mapping. An unmapped e-mail
    gets a stable made-up id, so the gateway's refusal (APPROVER_NOT_ALLOWED) can be tried locally too."""
    import hashlib

    from mcp_gateway.policy_loader import load_policy

    from .template import ROOT

    approvers = load_policy(policy_path or str(ROOT / "policy" / "gateway-policy.yaml")).approvers
    for user_id, mapped in approvers.slack_id_to_email.items():
        if mapped.casefold() == email.casefold():
            return user_id, email.split("@", 1)[0]
    return "U" + hashlib.sha256(email.casefold().encode()).hexdigest()[:10].upper(), email.split("@", 1)[0]


def cmd_decide(args: argparse.Namespace) -> int:
    from . import slack_standin as slack

    info = _info(args)
    try:
        record = slack.find_message(Path(info.approvals_log), args.request_id)
    except LookupError:
        where = f"{info.slack_url}/approvals"
        print(f"error: no approval message for {args.request_id} (see {where})", file=sys.stderr)
        return 1
    user_id, user_name = slack_user_for(args.approver, args.policy)
    response_url = f"{info.slack_url}/response/{record['ts']}"
    payload = slack.block_actions_payload(
        record, args.command, user_id=user_id, user_name=user_name, response_url=response_url
    )
    body = slack.form_body(payload)
    headers = slack.signed_callback(body, info.slack_signing_secret)
    status, answer = slack.post_callback(info.callback_url, body, headers)
    print(json.dumps({"http_status": status, **answer}))
    return 0 if status == 200 and answer.get("ok") else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-gateway", description=__doc__)
    parser.add_argument(
        "--state-dir",
        default=os.environ.get("MCP_GATEWAY_STATE_DIR") or str(DEFAULT_STATE_DIR),
        help="where the local stack keeps its state (default: $MCP_GATEWAY_STATE_DIR, else .local)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the local stack (moto as AWS, local IdP, local Slack)")
    run.add_argument("--port", type=int, default=8080, help="gateway function URL port")
    run.add_argument("--callback-port", type=int, default=8081)
    run.add_argument("--idp-port", type=int, default=8082)
    run.add_argument("--slack-port", type=int, default=8083, help="local Slack stand-in (approvals page) port")
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

    from .quota_cli import register as register_quota

    register_quota(sub, _info)

    from .keys_cli import register as register_keys

    register_keys(sub)  # keys list|rotate|promote|retire

    from .sessions_cli import register as register_sessions

    register_sessions(sub, _info)  # sessions list|revoke --user EMAIL

    for verb in ("approve", "deny"):
        decide = sub.add_parser(
            verb, help=f"{verb} a pending request: a correctly signed Slack click to the local callback"
        )
        decide.add_argument("request_id")
        decide.add_argument("--as", dest="approver", required=True, help="approver e-mail, e.g. carol@example.com")
        decide.add_argument("--policy", default=None, help="policy with the approvers (default: the repo's)")
        decide.set_defaults(func=cmd_decide)

    from . import audit_cli

    audit_cli.register(sub)  # audit (query), audit verify, audit replay

    from . import review_cli

    review_cli.register(sub)  # review --since 30d: the monthly security review

    from . import approvals_cli

    approvals_cli.register(sub)  # approvals list|show: pending and recent approval requests

    from . import policy_cli

    policy_cli.add_parser(sub)  # policy check | iam | schema | explain | replay
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
