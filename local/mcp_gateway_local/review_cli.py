"""`mcp-gateway review`: the monthly security review in one report, read from the audit trail.

    mcp-gateway review --since 30d                                  the local stack, as a table
    mcp-gateway review --since 30d --format markdown > review.md    a report with a requests-per-day chart
    mcp-gateway review --stack mcp-gateway --region eu-west-1 --format json

It answers the review's questions (docs/runbook.md "Monthly review"): which actions are used most and by whom;
which allowed actions were never used (with the policy rule to delete); which requests were blocked or sent to
review, grouped by rule with redacted samples (candidate false positives); throttles per tier against the
policy's limits; approvals' time to decision and expiries. Records are read like ``mcp-gateway audit`` reads
them (``audit_cli.resolve_target`` and its chain-index query), never from the projected index attributes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from . import audit_cli
from .audit_cli import AuditCliError, Filters, _clean, parse_when, query, resolve_target

#: The review's clock (epoch seconds); tests inject a fixed one.
clock: Callable[[], float] = time.time

DEFAULT_SINCE = "30d"
WIDTH = 120
SAMPLES = 3
TOP = 15
DECISIONS = ("ALLOW", "REVIEW", "DENY")
#: Records that are not a developer's request (an approver's click, the gateway's own sign-in checks).
_NOT_REQUESTS = {"slack"}


def _policy_path(args: argparse.Namespace) -> Path:
    if args.policy:
        return Path(args.policy)
    from .template import ROOT

    return ROOT / "policy" / "gateway-policy.yaml"


def _load_policy(path: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
        policy = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise AuditCliError(f"cannot read the policy {path}: {type(exc).__name__}") from None
    if not isinstance(policy, dict):
        raise AuditCliError(f"the policy {path} is not a YAML mapping")
    return policy, text.splitlines()


# ------------------------------------------------------------------------------------------------------
# The report (pure: records + policy in, a JSON-able dict out)
# ------------------------------------------------------------------------------------------------------
def _allow_rules(policy: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where in the policy, rule) for every allow rule: the top-level list and each group's."""
    out = [("allow", r) for r in policy.get("allow") or [] if isinstance(r, dict)]
    for group, spec in (policy.get("groups") or {}).items():
        for rule in (spec or {}).get("allow") or []:
            if isinstance(rule, dict):
                out.append((f"groups.{group}.allow", rule))
    return out


def _line_of(lines: Sequence[str], action: str, where: str) -> int | None:
    """The policy file's line of the rule ``- action: X`` (1-based), the group's own when in a group."""
    start = 0
    if where.startswith("groups."):
        group = where.split(".")[1]
        start = next((i for i, line in enumerate(lines) if line.strip() == f"{group}:"), 0)
    for i in range(start, len(lines)):
        text = lines[i].split("#", 1)[0].strip()
        if text.startswith("- action:") and text.split(":", 1)[1].strip().strip("'\"") == action:
            return i + 1
    return None


def _sample(record: dict[str, Any]) -> dict[str, Any]:
    """A redacted sample: the stored record's sanitized parameters (Validate redacted them before they were
    recorded; the prompt is only an HMAC), made printable and bounded."""
    params = json.dumps(record.get("parameters") or {}, sort_keys=True, ensure_ascii=False)
    return {
        "ts": _clean(record.get("ts", ""), 32),
        "request_id": _clean(record.get("request_id", ""), 80),
        "user": _clean(record.get("user_email", ""), 80),
        "action": _clean(record.get("action", ""), 80),
        "resource": _clean(record.get("resource", ""), 200),
        "reason": _clean(record.get("reason", ""), 40),
        "parameters": _clean(params, 300),
        "signals": [_clean(s, 80) for s in (record.get("signals") or [])][:8],
    }


def _epoch(record: dict[str, Any]) -> float:
    if record.get("epoch_ms"):
        return float(record["epoch_ms"]) / 1000
    return parse_when(str(record.get("ts", "")), 0.0)


def _peak(times: list[float], window: float) -> int:
    """Most requests in any sliding window of ``window`` seconds."""
    times.sort()
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def build_report(
    records: Iterable[dict[str, Any]],
    policy: dict[str, Any],
    policy_lines: Sequence[str],
    since: float,
    until: float,
    policy_path: str = "policy/gateway-policy.yaml",
) -> dict[str, Any]:
    all_records = list(records)
    requests = [
        r for r in all_records if not r.get("stage") and str(r.get("service", "")) not in _NOT_REQUESTS
    ]  # one per request: the workflow's outcome (the approval's later outcome is counted under approvals)

    by_action: Counter[str] = Counter(str(r.get("action", "")) for r in requests)
    users_by_action: dict[str, set[str]] = defaultdict(set)
    by_user: dict[str, Counter[str]] = defaultdict(Counter)
    for r in requests:
        users_by_action[str(r.get("action", ""))].add(str(r.get("user_email", "")))
        by_user[str(r.get("user_email", ""))][str(r.get("decision", ""))] += 1
    actions = [
        {"action": _clean(a, 80), "requests": n, "users": len(users_by_action[a])} for a, n in by_action.most_common()
    ]
    users: list[dict[str, Any]] = sorted(
        (
            {"user": _clean(u, 80), "requests": sum(c.values()), **{d.lower(): c.get(d, 0) for d in DECISIONS}}
            for u, c in by_user.items()
        ),
        key=lambda x: (-int(x["requests"]), str(x["user"])),
    )

    used = {str(r.get("action", "")).lower() for r in requests}
    unused = []
    for where, rule in _allow_rules(policy):
        action = str(rule.get("action", ""))
        if action.lower() in used:
            continue
        unused.append(
            {
                "action": action,
                "where": where,
                "line": _line_of(policy_lines, action, where),
                "delete": yaml.safe_dump([rule], sort_keys=False, default_flow_style=None).rstrip(),
            }
        )

    blocked_groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in requests:
        if r.get("decision") == "REVIEW" or (r.get("decision") == "DENY" and r.get("status") != "throttled"):
            blocked_groups[str(r.get("rule_id", "") or "(no rule)")].append(r)
    blocked: list[dict[str, Any]] = []
    for rule_id, group in blocked_groups.items():
        blocked.append(
            {
                "rule_id": _clean(rule_id, 80),
                "requests": len(group),
                "decisions": dict(Counter(str(r.get("decision", "")) for r in group)),
                "reasons": dict(Counter(str(r.get("reason", "")) for r in group)),
                "users": len({r.get("user_email") for r in group}),
                "samples": [_sample(r) for r in group[-SAMPLES:]],
            }
        )
    blocked.sort(key=lambda g: (-int(g["requests"]), str(g["rule_id"])))

    tiers_cfg = (policy.get("rate_limits") or {}).get("tiers") or {}
    throttles = []
    for tier in sorted(set(tiers_cfg) | {str(r.get("tier")) for r in requests if r.get("tier")}):
        cfg = tiers_cfg.get(tier) or {}
        window = float(cfg.get("window_seconds") or 300)
        in_tier = [r for r in requests if r.get("tier") == tier]
        per_user: dict[str, list[float]] = defaultdict(list)
        for r in in_tier:
            if r.get("status") != "throttled":
                per_user[str(r.get("user_email", ""))].append(_epoch(r))
        peak = max((_peak(t, window) for t in per_user.values()), default=0)
        limit = cfg.get("limit")
        throttles.append(
            {
                "tier": tier,
                "limit": limit,
                "window_seconds": int(window),
                "requests": len(in_tier),
                "throttled": sum(1 for r in in_tier if r.get("status") == "throttled"),
                "users_throttled": len({r.get("user_email") for r in in_tier if r.get("status") == "throttled"}),
                "peak_per_user_window": peak,
                "peak_of_limit": round(peak / int(limit), 2) if isinstance(limit, int) and limit else None,
            }
        )

    decided = [r for r in all_records if r.get("stage") == "approval"]
    waits = []
    for r in decided:
        try:
            waits.append(max(0.0, _epoch(r) - parse_when(str(r.get("requested_at", "")), 0.0)))
        except AuditCliError:
            continue
    expired = [r for r in decided if r.get("reason") == "APPROVAL_EXPIRED"]
    approvals = {
        "sent_to_review": sum(1 for r in requests if r.get("decision") == "REVIEW"),
        "decided": len(decided) - len(expired),
        "approved": sum(1 for r in decided if r.get("decision") == "ALLOW" or r.get("status") in ("ok", "error")),
        "denied": sum(1 for r in decided if r.get("decision") == "DENY" and r.get("reason") != "APPROVAL_EXPIRED"),
        "expired": len(expired),
        "seconds_to_decision": {
            "median": round(statistics.median(waits), 1) if waits else None,
            "max": round(max(waits), 1) if waits else None,
        },
        "expired_requests": [_sample(r) for r in expired[-SAMPLES:]],
    }

    days: dict[str, Counter[str]] = {day: Counter() for day in audit_cli.days_between(since, until)}
    for r in requests:
        days.setdefault(str(r.get("ts", ""))[:10], Counter())[str(r.get("decision", ""))] += 1
    per_day = [{"day": d, **{k.lower(): c.get(k, 0) for k in DECISIONS}} for d, c in sorted(days.items())]

    return {
        "since": audit_cli.iso(since),
        "until": audit_cli.iso(until),
        "policy": policy_path,
        "policy_version": str(policy.get("version", "")),
        "requests": len(requests),
        "decisions": {d.lower(): sum(1 for r in requests if r.get("decision") == d) for d in DECISIONS},
        "actions": actions,
        "users": users,
        "unused_allowed_actions": unused,
        "blocked_by_rule": blocked,
        "throttles": throttles,
        "approvals": approvals,
        "per_day": per_day,
    }


# ------------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int]) -> list[str]:
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(_clean(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def render_table(report: dict[str, Any]) -> str:
    out = [
        f"Security review {report['since']} .. {report['until']}  (policy {report['policy_version']})",
        f"{report['requests']} request(s): " + ", ".join(f"{k} {v}" for k, v in report["decisions"].items()),
        "",
        "ACTIONS BY USE",
    ]
    out += _table(("ACTION", "REQUESTS", "USERS"), ((a["action"], a["requests"], a["users"])
                  for a in report["actions"][:TOP]), (60, 10, 8))  # fmt: skip
    out += ["", "USERS"]
    out += _table(("USER", "REQUESTS", "ALLOW", "REVIEW", "DENY"),
                  ((u["user"], u["requests"], u["allow"], u["review"], u["deny"]) for u in report["users"][:TOP]),
                  (60, 10, 8, 8, 8))  # fmt: skip
    out += ["", "ALLOWED BUT NEVER USED (delete the rule from the policy to remove the access)"]
    out += _table(("ACTION", "WHERE", "POLICY LINE"),
                  ((u["action"], u["where"], f"{report['policy']}:{u['line']}" if u["line"] else "")
                   for u in report["unused_allowed_actions"]), (40, 24, 52))  # fmt: skip
    out += ["", "BLOCKED AND REVIEWED, BY RULE (candidate false positives: read the samples)"]
    for group in report["blocked_by_rule"]:
        decisions = ", ".join(f"{k} {v}" for k, v in group["decisions"].items())
        out.append(_clean(f"{group['rule_id']}: {group['requests']} request(s) by {group['users']} user(s) "
                          f"({decisions})", WIDTH))  # fmt: skip
        for s in group["samples"]:
            out.append(_clean(f"  {s['ts']}  {s['user']}  {s['action']}  {s['resource']}", WIDTH))
            out.append(_clean(f"    parameters: {s['parameters']}", WIDTH))
    out += ["", "THROTTLES PER TIER"]
    out += _table(("TIER", "LIMIT/WINDOW", "REQUESTS", "THROTTLED", "USERS", "PEAK/USER", "PEAK OF LIMIT"),
                  ((t["tier"], f"{t['limit']}/{t['window_seconds']}s", t["requests"], t["throttled"],
                    t["users_throttled"], t["peak_per_user_window"],
                    "" if t["peak_of_limit"] is None else f"{t['peak_of_limit']:.0%}")
                   for t in report["throttles"]), (8, 14, 10, 10, 6, 10, 14))  # fmt: skip
    a = report["approvals"]
    wait = a["seconds_to_decision"]
    out += [
        "",
        "APPROVALS",
        f"sent to review {a['sent_to_review']}, decided {a['decided']} (approved {a['approved']}, "
        f"denied {a['denied']}), expired {a['expired']}; time to decision median {wait['median']} s, "
        f"max {wait['max']} s",
    ]
    return "\n".join(line[:WIDTH].rstrip() for line in out) + "\n"


def _md(text: Any) -> str:
    return _clean(text).replace("|", "\\|")


def render_markdown(report: dict[str, Any]) -> str:
    out = [
        f"# Security review {report['since'][:10]} to {report['until'][:10]}",
        "",
        f"Policy `{_md(report['policy'])}` version `{_md(report['policy_version'])}`: {report['requests']} "
        "request(s), " + ", ".join(f"{k} {v}" for k, v in report["decisions"].items()) + ".",
        "",
        "## Requests per day by decision",
        "",
        "```text",
    ]
    peak = max((d["allow"] + d["review"] + d["deny"] for d in report["per_day"]), default=0) or 1
    for d in report["per_day"]:
        bar = "".join(ch * round(d[k] * 50 / peak) for k, ch in (("allow", "#"), ("review", "?"), ("deny", "x")))
        out.append(f"{d['day']} {bar} {d['allow']}/{d['review']}/{d['deny']}")
    out += ["```", "", "`#` ALLOW, `?` REVIEW, `x` DENY (counts: allow/review/deny).", "", "## Actions by use", ""]
    out += ["| Action | Requests | Users |", "|---|---:|---:|"]
    out += [f"| {_md(a['action'])} | {a['requests']} | {a['users']} |" for a in report["actions"]]
    out += ["", "## Users", "", "| User | Requests | ALLOW | REVIEW | DENY |", "|---|---:|---:|---:|---:|"]
    out += [f"| {_md(u['user'])} | {u['requests']} | {u['allow']} | {u['review']} | {u['deny']} |"
            for u in report["users"]]  # fmt: skip
    out += ["", "## Allowed actions never used", ""]
    for u in report["unused_allowed_actions"]:
        where = f"{report['policy']}:{u['line']}" if u["line"] else report["policy"]
        out += [f"- `{_md(u['action'])}` ({_md(u['where'])}, `{_md(where)}`): delete", "", "```yaml", u["delete"],
                "```", ""]  # fmt: skip
    out += ["## Blocked and reviewed requests by rule (candidate false positives)", ""]
    for g in report["blocked_by_rule"]:
        out += [f"### `{_md(g['rule_id'])}`: {g['requests']} request(s), {g['users']} user(s)", ""]
        out += [f"- {_md(s['ts'])} {_md(s['user'])} `{_md(s['action'])}` `{_md(s['resource'])}` "
                f"parameters `{_md(s['parameters'])}`" for s in g["samples"]]  # fmt: skip
        out.append("")
    out += ["## Throttles per tier", "", "| Tier | Limit | Requests | Throttled | Peak per user and window |",
            "|---|---|---:|---:|---:|"]  # fmt: skip
    out += [f"| {_md(t['tier'])} | {t['limit']}/{t['window_seconds']} s | {t['requests']} | {t['throttled']} | "
            f"{t['peak_per_user_window']} |" for t in report["throttles"]]  # fmt: skip
    a = report["approvals"]
    out += ["", "## Approvals", "",
            f"Sent to review {a['sent_to_review']}; decided {a['decided']} (approved {a['approved']}, denied "
            f"{a['denied']}); expired {a['expired']}; time to decision median {a['seconds_to_decision']['median']} s, "
            f"max {a['seconds_to_decision']['max']} s.", ""]  # fmt: skip
    return "\n".join(out)


def cmd_review(args: argparse.Namespace) -> int:
    now = clock()
    since = parse_when(args.since, now)
    until = parse_when(args.until, now) if args.until else now
    if since > until:
        raise AuditCliError("--since is after --until")
    path = _policy_path(args)
    policy, lines = _load_policy(path)
    target = resolve_target(args)
    records = [row.record for row in query(target, Filters(since=since, until=until))]
    report = build_report(records, policy, lines, since, until, policy_path=_display(path))
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_table(report))
    return audit_cli.EXIT_OK


def _display(path: Path) -> str:
    from .template import ROOT

    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def register(sub: Any) -> None:
    review = sub.add_parser(
        "review",
        help="the monthly security review from the audit trail",
        description="The monthly security review in one report, e.g. mcp-gateway review --since 30d",
    )
    audit_cli._target_options(review, nested=False)
    review.add_argument("--since", default=DEFAULT_SINCE, help=f"7d, 30d, a date, ISO time (default {DEFAULT_SINCE})")
    review.add_argument("--until", default=None, help="same forms as --since (default now)")
    review.add_argument("--policy", default=None, help="the policy file (default: policy/gateway-policy.yaml)")
    review.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    review.set_defaults(func=audit_cli._guard(cmd_review))
