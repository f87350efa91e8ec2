"""`mcp-gateway policy ...`: check, render, explain and replay the gateway policy file.

- ``policy check FILE``: parse and validate (exit 1 with the reason when it would make the gateway deny
  everything).
- ``policy iam [--format json|yaml]``: the execute data role's IAM policy document, rendered from the policy
  (template.yaml's GatewayDataAccessPolicy must equal it; tests/unit/test_iam_drift.py).
- ``policy schema``: the JSON Schema of the policy file (policy/schema.json is this output).
- ``policy explain --tool T --args JSON [--user E --groups G]``: the decision a real call would get, with the
  matching rules and a hint; nothing is executed.
- ``policy replay --since 7d CANDIDATE``: re-evaluate the requests recorded in the audit trail (the local
  stack's, or a deployed stack's with ``--stack NAME``) against a candidate policy; report every decision
  that would change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mcp_gateway.domain.errors import GatewayError, PolicyError, ReasonCode
from mcp_gateway.domain.models import ActionRequest, Principal
from mcp_gateway.domain.policy import Policy, evaluate
from pydantic import ValidationError

from .template import ROOT

DEFAULT_POLICY = ROOT / "policy" / "gateway-policy.yaml"
SCHEMA_PATH = ROOT / "policy" / "schema.json"
EXIT_INVALID = 1
EXIT_CHANGES = 3

# Reasons decided after the policy (quotas): the policy itself did not deny these requests.
QUOTA_REASONS = frozenset(
    {
        ReasonCode.THROTTLED.value,
        ReasonCode.DATA_BUDGET_EXCEEDED.value,
        ReasonCode.RATE_LIMIT_UNAVAILABLE.value,
    }
)
# Reasons that can depend on the stated intent, which the audit trail keeps only as an HMAC.
INTENT_REASONS = frozenset(
    {ReasonCode.CHAINING_BLOCKED.value, ReasonCode.DANGEROUS_PATTERN.value, ReasonCode.REVIEW_REQUIRED.value}
)


def _load(path: str | Path) -> Policy:
    from mcp_gateway.policy_loader import load_policy

    return load_policy(str(path))


# --- check / iam / schema -------------------------------------------------------------------------
def cmd_check(args: argparse.Namespace) -> int:
    try:
        policy = _load(args.file)
    except PolicyError as exc:
        print(json.dumps({"valid": False, "reason": exc.code.value, "message": exc.message}))
        return EXIT_INVALID
    print(
        json.dumps(
            {
                "valid": True,
                "version": policy.version,
                "policy_version": f"{policy.version}#{policy.digest}",
                "allow": len(policy.allow),
                "deny": len(policy.deny),
                "review_actions": len(policy.review.actions),
                "detection_rules": len(policy.detection),
                "groups": sorted(policy.groups),
            }
        )
    )
    return 0


def cmd_iam(args: argparse.Namespace) -> int:
    from mcp_gateway.domain.iam import render_data_policy

    try:
        document = render_data_policy(_load(args.policy))
    except PolicyError as exc:
        print(f"error: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "yaml":
        import yaml

        print(yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=10_000), end="")
    else:
        print(json.dumps(document, indent=2))
    return 0


def schema_text() -> str:
    from mcp_gateway.domain.policy import policy_json_schema

    return json.dumps(policy_json_schema(), indent=2, sort_keys=True) + "\n"


def cmd_schema(args: argparse.Namespace) -> int:
    if args.write:
        SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
        print(f"wrote {SCHEMA_PATH}")
    else:
        print(schema_text(), end="")
    return 0


# --- explain --------------------------------------------------------------------------------------
def explain_tool_call(
    policy: Policy | None,
    policy_error: str,
    tool: str,
    arguments: dict[str, Any],
    email: str,
    groups: list[str],
    *,
    region: str,
    account: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The explain_policy tool's answer for ``email`` calling ``tool`` with ``arguments``."""
    from mcp_gateway.gateway.requests import build_request
    from mcp_gateway.gateway.tool_explain_policy import explain_call

    principal = Principal(sub=email, email=email, groups=tuple(groups), token_id="cli-explain", expires_at=0)  # noqa: S106
    when = time.time() if now is None else now
    try:
        request = build_request(tool, arguments, principal, region=region, account=account, now=when)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "type": e["type"]} for e in exc.errors()[:10]]
        return {"error": {"reason": ReasonCode.INVALID_INPUT.value, "errors": errors}}
    except GatewayError as exc:
        from mcp_gateway.tools import TOOLS

        reason = ReasonCode.UNKNOWN_TOOL if tool not in TOOLS else exc.code
        return {"error": {"reason": reason.value, "message": exc.message}}
    answer: dict[str, Any] = explain_call(policy, policy_error, tool, request)
    return answer


def cmd_explain(args: argparse.Namespace) -> int:
    from .stack_info import ACCOUNT, REGION

    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError:
        print("error: --args must be a JSON object", file=sys.stderr)
        return 2
    if not isinstance(arguments, dict):
        print("error: --args must be a JSON object", file=sys.stderr)
        return 2
    policy: Policy | None = None
    error = ""
    try:
        policy = _load(args.policy)
    except PolicyError as exc:
        error = exc.message
    groups = [g for g in args.groups.split(",") if g]
    out = explain_tool_call(
        policy,
        error,
        args.tool,
        arguments,
        args.user,
        groups,
        region=args.region or REGION,
        account=args.account or ACCOUNT,
    )
    print(json.dumps(out, indent=2))
    return 0


# --- replay ---------------------------------------------------------------------------------------
def parse_since(text: str) -> float:
    """``7d``, ``24h``, ``30m``, ``90s`` -> seconds."""
    match = re.fullmatch(r"(\d{1,6})([dhms])", text.strip())
    if match is None:
        raise ValueError("--since must look like 7d, 24h, 30m or 90s")
    return int(match.group(1)) * {"d": 86_400, "h": 3_600, "m": 60, "s": 1}[match.group(2)]


def request_from_record(record: dict[str, Any]) -> ActionRequest:
    """The canonical request an outcome record describes. The stated intent is not in the record (only its
    HMAC), and the parameters are the sanitized copy; everything else is as the validator saw it."""
    email = str(record.get("user_email", ""))
    action = str(record.get("action", ""))
    parameters = record.get("parameters")
    return ActionRequest(
        request_id=str(record.get("request_id", "")),
        tool=str(record.get("tool") or "call_aws"),
        service=str(record.get("service", "")),
        operation=action.split(":", 1)[-1],
        action=action,
        parameters=parameters if isinstance(parameters, dict) else {},
        resources=tuple(str(r) for r in record.get("resources") or ()),
        principal=Principal(
            sub=email,
            email=email,
            groups=tuple(str(g) for g in record.get("groups") or ()),
            token_id=str(record.get("token_id") or "replay"),
            expires_at=0,
        ),
        requested_at=float(record.get("epoch_ms", 0)) / 1000,
    )


def replay(candidate: Policy, records: Iterable[dict[str, Any]], since_epoch: float) -> dict[str, Any]:
    """Re-evaluate each recorded request against ``candidate``; list every decision that would change.

    A recorded quota refusal (THROTTLED, ...) counts as "the policy allowed it". A recorded decision that
    may rest on the stated intent (pattern, chaining, review) and that the candidate would not reproduce
    from the arguments alone is listed under ``intent_dependent``: the intent is kept only as an HMAC."""
    changes: list[dict[str, Any]] = []
    intent_dependent: list[dict[str, Any]] = []
    counts = {"records": 0, "replayed": 0, "unchanged": 0, "not_replayable": 0}
    for record in records:
        if record.get("stage") == "approval" or not record.get("tool") or record.get("service") == "gateway":
            continue  # the approval workflow's second record of a request, or an authentication failure
        if float(record.get("epoch_ms", 0)) / 1000 < since_epoch:
            continue
        counts["records"] += 1
        try:
            request = request_from_record(record)
        except ValidationError:
            counts["not_replayable"] += 1
            continue
        counts["replayed"] += 1
        decision = evaluate(candidate, request)
        recorded = {
            "outcome": record.get("decision", ""),
            "reason": record.get("reason", ""),
            "rule_id": record.get("rule_id", ""),
        }
        now = {
            "outcome": decision.outcome.value,
            "reason": decision.reason.value,
            "rule_id": decision.rule_id,
        }
        # a recorded quota refusal means the policy allowed (or sent to review) the request
        same = now["outcome"] != "DENY" if recorded["reason"] in QUOTA_REASONS else recorded == now
        if same:
            counts["unchanged"] += 1
            continue
        entry = {
            "request_id": record.get("request_id"),
            "ts": record.get("ts"),
            "user_email": record.get("user_email"),
            "action": record.get("action"),
            "resource": record.get("resource", ""),
            "recorded": recorded,
            "candidate": now,
        }
        if recorded["reason"] in INTENT_REASONS and record.get("prompt_hmac") and now["outcome"] != "DENY":
            intent_dependent.append(entry)
        else:
            changes.append(entry)
    return {
        "candidate": f"{candidate.version}#{candidate.digest}",
        "since": dt.datetime.fromtimestamp(since_epoch, tz=dt.UTC).isoformat(timespec="seconds"),
        **counts,
        "changed": len(changes),
        "changes": changes,
        "intent_dependent": intent_dependent,
    }


def audit_records(ddb: Any, table: str, since_epoch: float, until_epoch: float) -> list[dict[str, Any]]:
    """Every outcome record of the chain days from ``since_epoch`` to ``until_epoch`` (the by-chain index)."""
    from mcp_gateway.adapters.audit_store import AuditStore

    store = AuditStore(ddb, None, table, "")
    day = dt.datetime.fromtimestamp(since_epoch, tz=dt.UTC).date()
    last = dt.datetime.fromtimestamp(until_epoch, tz=dt.UTC).date()
    records: list[dict[str, Any]] = []
    while day <= last:
        records.extend(store.chain_records(day.isoformat()))
        day += dt.timedelta(days=1)
    return records


def _audit_source(args: argparse.Namespace) -> tuple[Any, str]:
    """The audit table to replay against: the local stack's or a deployed stack's (the audit CLI's one lookup)."""
    from .audit_cli import AuditCliError, resolve_target

    try:
        target = resolve_target(args)
    except AuditCliError as exc:
        raise SystemExit(f"error: {exc}") from None
    return target.ddb, target.table


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        window = parse_since(args.since)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        candidate = _load(args.candidate)
    except PolicyError as exc:
        print(json.dumps({"valid": False, "reason": exc.code.value, "message": exc.message}))
        return EXIT_INVALID
    now = time.time()
    ddb, table = _audit_source(args)
    report = replay(candidate, audit_records(ddb, table, now - window, now), now - window)
    print(json.dumps(report, indent=2))
    return EXIT_CHANGES if args.fail_on_change and report["changes"] else 0


# --- argparse -------------------------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    """Register ``policy`` and its subcommands on the main ``mcp-gateway`` parser."""
    policy = sub.add_parser("policy", help="check, render, explain and replay the gateway policy file")
    verbs = policy.add_subparsers(dest="policy_command", required=True)

    check = verbs.add_parser("check", help="validate a policy file (exit 1 when invalid)")
    check.add_argument("file")
    check.set_defaults(func=cmd_check)

    iam = verbs.add_parser("iam", help="render the execute data role's IAM policy document")
    iam.add_argument("--policy", default=str(DEFAULT_POLICY))
    iam.add_argument("--format", choices=("json", "yaml"), default="json")
    iam.set_defaults(func=cmd_iam)

    schema = verbs.add_parser("schema", help="print the policy file's JSON Schema")
    schema.add_argument("--write", action="store_true", help=f"write it to {SCHEMA_PATH.relative_to(ROOT)}")
    schema.set_defaults(func=cmd_schema)

    explain = verbs.add_parser("explain", help="would this tool call be allowed, and why (nothing runs)")
    explain.add_argument("--tool", required=True, help="e.g. get_object, call_aws")
    explain.add_argument("--args", default="{}", help="the tool's arguments as a JSON object")
    explain.add_argument("--user", default="alice@example.com")
    explain.add_argument("--groups", default="developers")
    explain.add_argument("--policy", default=str(DEFAULT_POLICY))
    explain.add_argument("--region", default=None)
    explain.add_argument("--account", default=None)
    explain.set_defaults(func=cmd_explain)

    rep = verbs.add_parser("replay", help="replay recorded requests against a candidate policy")
    rep.add_argument("candidate", help="the candidate policy file")
    rep.add_argument("--since", default="7d", help="how far back: 7d, 24h, 30m")
    rep.add_argument("--stack", default=None, help="a deployed stack's name (default: the local stack)")
    rep.add_argument("--region", default=None)
    rep.add_argument("--fail-on-change", action="store_true", help=f"exit {EXIT_CHANGES} when any decision changes")
    rep.set_defaults(func=cmd_replay)
