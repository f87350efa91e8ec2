"""`mcp-gateway audit`: the auditor's tool over the audit table (and, with `verify --logs`, the log group).

    mcp-gateway audit --user alice@example.com --service s3 --since 7d     all S3 access by alice this week
    mcp-gateway audit --prompt-hash H                                      everything for one prompt
    mcp-gateway audit verify --since 2d                                    chain intact? orphans? indexes?
    mcp-gateway audit replay                                               drain the audit dead-letter queue

It targets the local stack (``.local/stack.json``) by default, or a deployed stack by ``--stack NAME``: the
physical ids of AuditTable, AuditLogGroup, AuditDeadLetterQueue and PromptHmacSecret are resolved with
CloudFormation ``DescribeStackResources`` (no second configuration). Results are always read from the stored,
hash-chained record (never from the projected index attributes, which only route the query); a record whose
index attributes disagree with it is flagged.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import fnmatch
import functools
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcp_gateway.adapters import aws
from mcp_gateway.adapters.audit_reader import AuditReader
from mcp_gateway.adapters.dead_letters import DeadLetterQueue
from mcp_gateway.adapters.secrets import read_secret_string
from mcp_gateway.adapters.stack_lookup import StackLookupError, describe_stack

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

LOGICAL = {
    "table": "AuditTable",
    "log_group": "AuditLogGroup",
    "dlq": "AuditDeadLetterQueue",
    "hmac_secret": "PromptHmacSecret",
}
MAX_DAYS = 4000
DEFAULT_SINCE = "90d"
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class AuditCliError(Exception):
    """A usage or target problem, printed as one line (never a traceback)."""


# ------------------------------------------------------------------------------------------------------
# Target: the local stack or a deployed one
# ------------------------------------------------------------------------------------------------------
@dataclass
class Target:
    ddb: Any
    logs: Any
    sqs: Any
    secrets: Any
    table: str
    log_group: str
    dlq_url: str
    hmac_secret: str
    retention_days: int = 90
    local: bool = True
    s3: Any = None  # locally: the side effects the outcomes claim are checked against S3 itself

    @functools.cached_property
    def reader(self) -> AuditReader:
        """The read side of the audit trail (paginated queries, scans and log lines)."""
        return AuditReader(self.ddb, self.logs, self.table, self.log_group)

    @functools.cached_property
    def dead_letters(self) -> DeadLetterQueue:
        return DeadLetterQueue(self.sqs, self.dlq_url)


def _local_target(state_dir: Path) -> Target:
    from .stack_info import REGION, StackInfo
    from .template import load_template

    path = state_dir / "stack.json"
    if not path.exists():
        raise AuditCliError(f"no local stack ({path} is missing): start one with `make run`, or pass --stack")
    info = StackInfo.load(path)
    missing = [logical for logical in LOGICAL.values() if logical not in info.resources]
    if missing:
        raise AuditCliError(f"the local stack has no {', '.join(missing)}")

    session = aws.credentials_session("testing", "testing", region=REGION)  # moto's well-known dummy credentials

    def client(service: str) -> Any:
        return aws.session_client(session, service, REGION, endpoint_url=info.moto_endpoint)

    params = load_template().get("Parameters") or {}
    retention = int((params.get("AuditRetentionDays") or {}).get("Default", 90))
    return Target(
        ddb=client("dynamodb"),
        logs=client("logs"),
        sqs=client("sqs"),
        secrets=client("secretsmanager"),
        table=info.resources[LOGICAL["table"]],
        log_group=info.resources[LOGICAL["log_group"]],
        dlq_url=info.resources[LOGICAL["dlq"]],
        hmac_secret=info.resources[LOGICAL["hmac_secret"]],
        retention_days=retention,
        local=True,
        s3=client("s3"),
    )


def _deployed_target(stack: str, region: str | None) -> Target:
    session = aws.region_session(region)
    try:
        physical, params = describe_stack(aws.session_client(session, "cloudformation", region), stack, LOGICAL)
    except StackLookupError as exc:
        raise AuditCliError(str(exc)) from None
    retention = params.get("AuditRetentionDays") or "90"
    return Target(
        ddb=aws.session_client(session, "dynamodb", region),
        logs=aws.session_client(session, "logs", region),
        sqs=aws.session_client(session, "sqs", region),
        secrets=aws.session_client(session, "secretsmanager", region),
        table=physical["table"],
        log_group=physical["log_group"],
        dlq_url=physical["dlq"],
        hmac_secret=physical["hmac_secret"],
        retention_days=int(retention) if retention.isdigit() else 90,
        local=False,
    )


def resolve_target(args: argparse.Namespace) -> Target:
    if getattr(args, "stack", None):
        return _deployed_target(args.stack, getattr(args, "region", None))
    return _local_target(Path(args.state_dir))


# ------------------------------------------------------------------------------------------------------
# Time
# ------------------------------------------------------------------------------------------------------
def parse_when(text: str, now: float) -> float:
    """``7d`` / ``24h`` / ``30m`` / ``2w`` / ``90s`` ago, ``now``, a date (``2026-05-01``, UTC midnight) or an
    ISO 8601 time (UTC unless it says otherwise). Returns epoch seconds."""
    value = text.strip()
    if value == "now":
        return now
    match = _DURATION.match(value)
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2)]
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AuditCliError(
            f"cannot read the time {text[:40]!r}: e.g. 7d, 24h, 2026-05-01, 2026-05-01T12:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def iso(epoch: float) -> str:
    """The records' own ``ts`` format, so key conditions compare like with like."""
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def days_between(since: float, until: float) -> list[str]:
    start = dt.datetime.fromtimestamp(since, tz=dt.UTC).date()
    end = dt.datetime.fromtimestamp(until, tz=dt.UTC).date()
    count = (end - start).days + 1
    if count > MAX_DAYS:
        raise AuditCliError(f"the time range spans {count} days (at most {MAX_DAYS})")
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(max(count, 0))]


# ------------------------------------------------------------------------------------------------------
# Query
# ------------------------------------------------------------------------------------------------------
@dataclass
class Filters:
    since: float
    until: float
    user: str | None = None
    service: str | None = None
    action: str | None = None
    decision: str | None = None
    status: str | None = None
    prompt_hash: str | None = None
    resource: str | None = None

    def index(self) -> tuple[str, str, str] | None:
        """(index, hash key, value) of the most selective index; None: the chain index, day by day."""
        resource_exact = self.resource and not any(c in self.resource for c in "*?[")
        for name, attr, value in (
            ("by-prompt", "prompt_hmac", self.prompt_hash),
            ("by-user", "user_email", self.user),
            ("by-resource", "resource", self.resource if resource_exact else None),
            ("by-action", "action", self.action),
            ("by-service", "service", self.service),
        ):
            if value:
                return name, attr, value
        return None

    def matches(self, record: dict[str, Any]) -> bool:
        """Applied to the stored (hashed) record, never to index attributes an attacker could have edited."""
        ts = str(record.get("ts", ""))
        if not (iso(self.since) <= ts <= iso(self.until)):
            return False
        if self.user and str(record.get("user_email", "")).lower() != self.user.lower():
            return False
        if self.service and str(record.get("service", "")).lower() != self.service.lower():
            return False
        if self.action and str(record.get("action", "")).lower() != self.action.lower():
            return False
        if self.decision and str(record.get("decision", "")).upper() != self.decision.upper():
            return False
        if self.status and str(record.get("status", "")).lower() != self.status.lower():
            return False
        if self.prompt_hash and record.get("prompt_hmac") != self.prompt_hash:
            return False
        if self.resource:
            resources = [str(r) for r in record.get("resources") or []]
            if not any(fnmatch.fnmatchcase(r, self.resource) for r in resources):
                return False
        return True


@dataclass
class Row:
    record: dict[str, Any]
    mismatches: list[str] = field(default_factory=list)


def chain_items(target: Target, day: str) -> Iterator[dict[str, Any]]:
    return target.reader.chain_items(day)


def _item_mismatches(item: dict[str, Any]) -> list[str]:
    from mcp_gateway.adapters.audit_store import from_item, projection_mismatches, sort_key

    record = from_item(item)
    out = list(projection_mismatches(item))
    if item.get("pk", {}).get("S") != str(record.get("request_id")):
        out.append("pk")
    if item.get("sk", {}).get("S") != sort_key(record):
        out.append("sk")
    return out


def query(target: Target, flt: Filters) -> list[Row]:
    from mcp_gateway.adapters.audit_store import from_item

    index = flt.index()
    if index is not None:
        name, attr, value = index
        items: Iterator[dict[str, Any]] = target.reader.index_items(name, attr, value, iso(flt.since), iso(flt.until))
    else:
        items = (item for day in days_between(flt.since, flt.until) for item in chain_items(target, day))
    rows: list[Row] = []
    for item in items:
        if "record" not in item:
            continue
        try:
            record = from_item(item)
            mismatches = _item_mismatches(item)
        except (ValueError, KeyError, TypeError):
            pk = _clean(item.get("pk", {}).get("S", "?"), 80)
            print(f"warning: item {pk} holds no readable record", file=sys.stderr)
            continue
        if isinstance(record, dict) and flt.matches(record):
            rows.append(Row(record, mismatches))
    rows.sort(key=lambda r: (str(r.record.get("ts", "")), str(r.record.get("request_id", ""))))
    return rows


# ------------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------------
CSV_COLUMNS = (
    "ts", "request_id", "user_email", "groups", "source_ip", "user_agent", "tool", "service", "action",
    "resources", "decision", "reason", "rule_id", "status", "result_reason", "bytes_returned", "redactions",
    "prompt_hmac", "approval_id", "approver", "total_ms", "chain_day", "seq", "record_hash", "index_mismatch",
)  # fmt: skip


def _clean(value: Any, width: int | None = None) -> str:
    """Printable for a terminal: control and bidi characters from agent-supplied values are neutralised."""
    text = _CONTROL.sub("?", str(value))
    if width is not None and len(text) > width:
        return text[: width - 1] + "…"
    return text


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not evaluate as a formula (agent-supplied values end up here)."""
    text = _CONTROL.sub(" ", value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))
    return "'" + text if text.startswith(_CSV_FORMULA) else text


def render(rows: Sequence[Row], fmt: str, *, wide: bool = False, approvers: Mapping[str, str] | None = None) -> str:
    if fmt == "json":
        out = []
        for row in rows:
            record = dict(row.record)
            if row.mismatches:
                record["_index_mismatch"] = row.mismatches
            out.append(record)
        return json.dumps(out, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            r = row.record
            values: dict[str, Any] = {
                **{c: r.get(c, "") for c in CSV_COLUMNS},
                "groups": ";".join(str(g) for g in r.get("groups") or []),
                "resources": ";".join(str(x) for x in r.get("resources") or []),
                "redactions": json.dumps(r.get("redactions") or {}, sort_keys=True, separators=(",", ":")),
                "total_ms": (r.get("latency_ms") or {}).get("total_ms", ""),
                "index_mismatch": ";".join(row.mismatches),
            }
            writer.writerow([_cell("" if values[c] is None else values[c]) for c in CSV_COLUMNS])
        return buf.getvalue()
    from .audit_table import render_table

    return render_table(((row.record, bool(row.mismatches)) for row in rows), wide=wide, approvers=approvers)


def prompt_hash_of(target: Target, text: str) -> str:
    """The prompt HMAC exactly as the validate function computes it, with the stack's key."""
    from mcp_gateway.handlers.validate import prompt_hmac

    try:
        key = read_secret_string(target.secrets, target.hmac_secret)
    except Exception:  # noqa: BLE001 - permission or network: say so without details
        raise AuditCliError("cannot read the prompt HMAC key (PromptHmacSecret); pass --prompt-hash instead") from None
    digest: str = prompt_hmac(key.encode(), text)
    return digest


def cmd_query(args: argparse.Namespace) -> int:
    now = time.time()
    since = parse_when(args.since or DEFAULT_SINCE, now)
    until = parse_when(args.until, now) if args.until else now
    if since > until:
        raise AuditCliError("--since is after --until")
    target = resolve_target(args)
    prompt_hash = args.prompt_hash
    if args.prompt is not None:
        prompt_hash = prompt_hash_of(target, args.prompt)
    flt = Filters(
        since=since,
        until=until,
        user=args.user,
        service=args.service,
        action=args.action,
        decision=args.decision,
        status=args.status,
        prompt_hash=prompt_hash,
        resource=args.resource,
    )
    rows = query(target, flt)
    from .audit_table import approver_emails

    approvers = approver_emails(args.policy) if args.format == "table" else {}
    sys.stdout.write(render(rows, args.format, wide=args.wide, approvers=approvers))
    flagged = sum(1 for r in rows if r.mismatches)
    print(f"{len(rows)} record(s)", file=sys.stderr)
    if flagged:
        print(
            f"warning: {flagged} record(s) have index attributes that disagree with the stored record; "
            "run `mcp-gateway audit verify`",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------
# Verify
# ------------------------------------------------------------------------------------------------------
@dataclass
class Finding:
    chain_day: str
    seq: int
    # a ChainIssue kind, or: index_mismatch, unreadable, orphan_intent, head_mismatch, log_mismatch, log_only
    kind: str
    request_id: str | None
    detail: str


def _verify_day(target: Target, day: str, check_logs: bool) -> tuple[list[Finding], int]:
    from mcp_gateway.adapters.audit_store import from_item
    from mcp_gateway.domain.audit_chain import verify_chain

    findings: list[Finding] = []
    head = target.reader.chain_head(day)  # the head first, then the records (see verify_chain)
    records: list[dict[str, Any]] = []
    for item in chain_items(target, day):
        rid = str(item.get("pk", {}).get("S", ""))[:256] or None
        try:
            record = from_item(item)
            mismatches = _item_mismatches(item)
        except (ValueError, KeyError, TypeError):
            findings.append(Finding(day, 0, "unreadable", rid, "the item holds no readable record"))
            continue
        records.append(record)
        if mismatches:
            detail = f"index attributes disagree with the stored record: {', '.join(mismatches)}"
            findings.append(Finding(day, _seq(record), "index_mismatch", rid, detail))
    heads: dict[str, tuple[int, str]] = {}
    if head is not None:
        seq = _as_int(head["seq"])
        # a malformed head becomes a finding in verify_chain
        heads[day] = (seq if seq is not None else head["seq"], head["record_hash"])
        at_head = [r for r in records if _seq(r) == _as_int(head["seq"])]
        if at_head and head["request_id"] and all(r.get("request_id") != head["request_id"] for r in at_head):
            detail = "the head names another request"
            findings.append(Finding(day, _seq(at_head[0]), "head_mismatch", head["request_id"], detail))
    for issue in verify_chain(records, heads=heads):
        findings.append(Finding(issue.chain_day, issue.seq, issue.kind, issue.request_id, issue.detail))
    if check_logs:
        findings.extend(_compare_with_logs(target, day, records))
    return findings, len(records)


def _seq(record: dict[str, Any]) -> int:
    return _as_int(record.get("seq")) or 0


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _day_bounds_ms(day: str) -> tuple[int, int]:
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()
    return int(start * 1000), int((start + 86_400) * 1000) - 1


def _compare_with_logs(target: Target, day: str, records: list[dict[str, Any]]) -> list[Finding]:
    """The log group holds the same chained record as one JSON line, written when it was appended; log events
    cannot be edited. A table rewritten wholesale (hashes recomputed) still disagrees with its log lines."""
    start, end = _day_bounds_ms(day)
    lines: dict[int, dict[str, Any]] = {}
    for event in target.reader.log_events(start, end):
        try:
            line = json.loads(event["message"])
        except (ValueError, KeyError):
            continue
        if isinstance(line, dict) and line.get("chain_day") == day and _as_int(line.get("seq")):
            lines.setdefault(_seq(line), line)
    findings: list[Finding] = []
    by_seq = {_seq(r): r for r in records}
    for seq, record in sorted(by_seq.items()):
        line = lines.get(seq)
        rid = record.get("request_id")
        if line is None:
            findings.append(Finding(day, seq, "log_mismatch", rid, "no log line for this record"))
        elif line.get("record_hash") != record.get("record_hash") or line.get("request_id") != rid:
            findings.append(Finding(day, seq, "log_mismatch", rid, "the log line holds another record"))
    for seq in sorted(set(lines) - set(by_seq)):
        detail = "logged but missing from the table"
        findings.append(Finding(day, seq, "log_only", lines[seq].get("request_id"), detail))
    return findings


def orphan_intents(target: Target, since: float, until: float, grace_seconds: float, now: float) -> list[Finding]:
    """Intent records (written before Execute) with no final outcome record: an action ran, or may have run,
    and its outcome is missing (parked in the dead-letter queue, or lost)."""
    findings: list[Finding] = []
    cutoff_ms = int((min(until, now - grace_seconds)) * 1000)
    for item in target.reader.intent_items(int(since * 1000), cutoff_ms):
        rid = item["pk"]["S"]
        outcomes = {o["sk"]["S"]: o for o in target.reader.outcome_items(rid)}
        first = outcomes.get("outcome", {}).get("record", {}).get("S", "")
        final = "outcome#approval" in outcomes or ("outcome" in outcomes and '"status":"pending"' not in first)
        if not final:
            at = iso(int(item["at_ms"]["N"]) / 1000)
            day = at[:10]
            findings.append(
                Finding(day, 0, "orphan_intent", rid[:256], f"intent at {at} has no outcome; run `audit replay`")
            )
    return findings


AUTHORITATIVE = ("outcome", "outcome#approval")
WRITE_ACTIONS = {"s3:PutObject"}


def _object_exists(s3: Any, arn: str) -> bool | None:
    bucket, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
    if not bucket or not key:
        return None
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - only "not there" is an answer; anything else: unknown
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return False if code in ("404", "NoSuchKey", "NotFound") else None
    return True


def outcome_findings(target: Target, since: float, until: float) -> list[Finding]:
    """The trail against reality: every workflow outcome of a write says what S3 shows (locally), an outcome
    that executed names its intent, and a gateway record is never the only word on an executed request."""
    findings: list[Finding] = []
    paginator = target.ddb.get_paginator("scan")
    pages = paginator.paginate(
        TableName=target.table,
        FilterExpression="begins_with(sk, :o) AND ts BETWEEN :a AND :b",
        ExpressionAttributeValues={":o": {"S": "outcome"}, ":a": {"S": iso(since)}, ":b": {"S": iso(until + 1)}},
    )
    from mcp_gateway.adapters.audit_store import from_item

    for page in pages:
        for item in page.get("Items", []):
            sk = item["sk"]["S"]
            try:
                record = from_item(item)
            except (ValueError, KeyError, TypeError):
                continue
            rid = str(record.get("request_id", ""))[:256]
            day = str(record.get("chain_day") or str(record.get("ts", ""))[:10])
            status = record.get("status")
            if sk in AUTHORITATIVE and status == "ok" and record.get("decision") == "ALLOW":
                sks = {o["sk"]["S"] for o in target.reader.outcome_items(rid)} | _other_sort_keys(target, rid)
                if "intent" not in sks:
                    findings.append(Finding(day, _seq(record), "outcome_mismatch", rid, "executed, but no intent"))
            if target.s3 is None or record.get("action") not in WRITE_ACTIONS or sk not in AUTHORITATIVE:
                continue
            exists = _object_exists(target.s3, str(record.get("resource", "")))
            claimed = {"ok": True, "denied": False, "throttled": False}.get(str(status))
            if exists is not None and claimed is not None and exists != claimed:
                what = "says written, S3 has no object" if claimed else f"says {status}, S3 has the object"
                findings.append(Finding(day, _seq(record), "side_effect_mismatch", rid, what))
    return findings


def _other_sort_keys(target: Target, request_id: str) -> set[str]:
    resp = target.ddb.query(
        TableName=target.table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": request_id}},
        ProjectionExpression="sk",
        ConsistentRead=True,
    )
    return {i["sk"]["S"] for i in resp.get("Items", [])}


def cmd_verify(args: argparse.Namespace) -> int:
    now = time.time()
    if args.day:
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", args.day):
            raise AuditCliError("--day must be YYYY-MM-DD")
        days = [args.day]
        since, until = _day_bounds_ms(args.day)[0] / 1000, _day_bounds_ms(args.day)[1] / 1000
    else:
        until = parse_when(args.until, now) if args.until else now
        days = days_between(parse_when(args.since or "0d", now), until)
        since = _day_bounds_ms(days[0])[0] / 1000 if days else until
    target = resolve_target(args)
    findings: list[Finding] = []
    summary: list[dict[str, Any]] = []
    for day in days:
        day_findings, count = _verify_day(target, day, args.logs)
        findings.extend(day_findings)
        summary.append({"chain_day": day, "records": count, "findings": len(day_findings)})
    if not args.no_orphans:
        findings.extend(orphan_intents(target, since, until, args.grace, now))
        findings.extend(outcome_findings(target, since, until))
    findings.sort(key=lambda f: (f.chain_day, f.seq, f.kind))
    if args.format == "json":
        out = {"ok": not findings, "days": summary, "findings": [asdict(f) for f in findings]}
        sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + "\n")
    else:
        for s in summary:
            state = "intact" if not s["findings"] else f"{s['findings']} finding(s)"
            print(f"{s['chain_day']}: {s['records']} record(s), {state}")
        for f in findings:
            rid = _clean(f.request_id or "-", 40)
            print(f"  {f.chain_day} seq {f.seq:<6} {f.kind:<15} {rid:<40} {_clean(f.detail)}")
        print("audit trail verified: no findings" if not findings else f"{len(findings)} finding(s)")
    return EXIT_OK if not findings else EXIT_FINDINGS


# ------------------------------------------------------------------------------------------------------
# Replay
# ------------------------------------------------------------------------------------------------------
@dataclass
class ReplayReport:
    recorded: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unreadable: int = 0


def _parked_state(body: str) -> dict[str, Any] | None:
    try:
        state = json.loads(body)
    except ValueError:
        return None
    if not isinstance(state, dict):
        return None
    request = state.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("request_id"), str):
        return None
    if not request["request_id"]:
        return None
    return state


def replay(
    target: Target,
    *,
    max_messages: int = 10_000,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> ReplayReport:
    """Re-apply every parked workflow state through the same Auditor/AuditStore path as the audit function.
    Idempotent by request id (a record that already landed is a no-op); a message is deleted only after its
    record is in the table. Unreadable messages are left in the queue (evidence) and counted."""
    from mcp_gateway.adapters.audit_store import AuditStore, sort_key
    from mcp_gateway.handlers.audit import Auditor

    store = AuditStore(target.ddb, target.logs, target.table, target.log_group, target.retention_days)
    auditor = Auditor(store, clock=clock)
    report = ReplayReport()
    seen: set[str] = set()
    leave: list[str] = []  # receipt handles of messages left in the queue: visible again after this run
    empty_polls = 0
    while len(seen) < max_messages:
        received = target.dead_letters.receive(wait_seconds=0 if target.local else 2, visibility_timeout=120)
        messages = [m for m in received if m["MessageId"] not in seen]
        if not messages:
            empty_polls += 1
            if target.local or empty_polls >= 2:
                break
            continue
        empty_polls = 0
        for message in messages:
            seen.add(message["MessageId"])
            state = _parked_state(message.get("Body", ""))
            if state is None:
                report.unreadable += 1
                leave.append(message["ReceiptHandle"])
                continue
            request_id = state["request"]["request_id"]
            if dry_run:
                report.recorded.append(request_id)
                continue
            try:
                already = store.exists(request_id, sort_key({"stage": state.get("stage")}))
                auditor.handle(state)
            except Exception:  # noqa: BLE001 - leave the message in the queue for the next run
                report.failed.append(request_id)
                leave.append(message["ReceiptHandle"])
                continue
            (report.duplicates if already else report.recorded).append(request_id)
            target.dead_letters.delete(message["ReceiptHandle"])
    for handle in leave:
        target.dead_letters.release(handle)
    return report


def cmd_replay(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    report = replay(target, max_messages=args.max, dry_run=args.dry_run)
    if args.format == "json":
        sys.stdout.write(json.dumps(asdict(report), indent=2) + "\n")
    else:
        verb = "would replay" if args.dry_run else "recorded"
        print(
            f"{verb}: {len(report.recorded)}; already recorded (deleted): {len(report.duplicates)}; "
            f"failed (left in the queue): {len(report.failed)}; "
            f"unreadable (left in the queue): {report.unreadable}"
        )
        for rid in report.recorded:
            print(f"  {verb} {_clean(rid, 80)}")
        for rid in report.failed:
            print(f"  failed {_clean(rid, 80)}")
    return EXIT_OK if not report.failed and not report.unreadable else EXIT_FINDINGS


# ------------------------------------------------------------------------------------------------------
# argparse
# ------------------------------------------------------------------------------------------------------
def _target_options(parser: argparse.ArgumentParser, *, nested: bool) -> None:
    """``--stack``/``--region`` on ``audit`` and on its subcommands (SUPPRESS keeps an earlier value)."""
    default: Any = argparse.SUPPRESS if nested else None
    parser.add_argument("--stack", default=default, help="a deployed stack's name (default: the local stack)")
    parser.add_argument("--region", default=default, help="the deployed stack's region (default: AWS config)")


def register(sub: Any) -> None:
    """Add ``audit`` (query), ``audit verify`` and ``audit replay`` to the ``mcp-gateway`` parser."""
    audit = sub.add_parser(
        "audit",
        help="query, verify and replay the audit trail",
        description="Query the audit trail, e.g. all S3 access by alice this week: "
        "mcp-gateway audit --user alice@example.com --service s3 --since 7d",
    )
    _target_options(audit, nested=False)
    audit.add_argument("--user", help="user e-mail, exactly as in the IdP token")
    audit.add_argument("--since", default=None, help=f"7d, 24h, 30m, 2w, a date, ISO time (default {DEFAULT_SINCE})")
    audit.add_argument("--until", default=None, help="same forms as --since (default now)")
    audit.add_argument("--service", help="e.g. s3, logs, cloudwatch, gateway (authentication)")
    audit.add_argument("--action", help="canonical IAM action, e.g. s3:GetObject")
    audit.add_argument("--decision", type=str.upper, choices=["ALLOW", "DENY", "REVIEW"])
    audit.add_argument("--status", type=str.lower, choices=["ok", "error", "denied", "throttled", "pending"])
    prompt = audit.add_mutually_exclusive_group()
    prompt.add_argument("--prompt-hash", help="the prompt HMAC as stored in records (prompt_hmac)")
    prompt.add_argument("--prompt", help="the prompt text; hashed with the stack's HMAC key (never stored)")
    audit.add_argument("--resource", help="a resource ARN, or a glob: 'arn:aws:s3:::acme-app-logs/*'")
    audit.add_argument("--format", choices=["table", "json", "csv"], default="table")
    audit.add_argument("--wide", action="store_true", help="table: one line per record, every cell in full")
    audit.add_argument("--policy", default=None, help="policy with the approvers (default: the repo's)")
    audit.set_defaults(func=_guard(cmd_query))
    audit_sub = audit.add_subparsers(dest="audit_command", required=False)

    verify = audit_sub.add_parser("verify", help="check chain, heads, indexes, orphan intents")
    _target_options(verify, nested=True)
    when = verify.add_mutually_exclusive_group()
    when.add_argument("--day", help="one chain day, YYYY-MM-DD (UTC)")
    when.add_argument("--since", default=None, help="every day from then until today (default: today)")
    verify.add_argument("--until", default=None)
    verify.add_argument("--logs", action="store_true", help="also compare records with their log lines")
    verify.add_argument("--grace", type=float, default=900, help="seconds an intent may await its outcome")
    verify.add_argument("--no-orphans", action="store_true", help="skip the orphan scan (a table scan)")
    verify.add_argument("--format", choices=["table", "json"], default="table")
    verify.set_defaults(func=_guard(cmd_verify))

    rep = audit_sub.add_parser("replay", help="drain the audit dead-letter queue (idempotent by request id)")
    _target_options(rep, nested=True)
    rep.add_argument("--max", type=int, default=10_000, help="at most this many messages")
    rep.add_argument("--dry-run", action="store_true", help="list parked request ids, change nothing")
    rep.add_argument("--format", choices=["table", "json"], default="table")
    rep.set_defaults(func=_guard(cmd_replay))


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

        try:
            return func(args)
        except AuditCliError as exc:
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_USAGE
        except NoRegionError:  # every CLI error is one line with exit code 2, never a traceback
            print("error: --stack needs a region: pass --region REGION or set AWS_REGION", file=sys.stderr)
            return EXIT_USAGE
        except (BotoCoreError, ClientError) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
            print(f"error: AWS refused the request ({code})", file=sys.stderr)
            return EXIT_USAGE

    return run
