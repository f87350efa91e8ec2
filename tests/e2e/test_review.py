"""`mcp-gateway review --since 30d` on the local stack after a scripted month of traffic (issue 18, Done when 5).

The month is written through the real ``AuditStore`` adapter into the local stack's moto (hash-chained records,
one log line each), in a month no other test writes to; the review's clock is injected at the month's end."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp_gateway.adapters.audit_store import AuditStore
from mcp_gateway.domain.contracts import AuditRecord
from mcp_gateway_local import review_cli
from mcp_gateway_local.cli import main

pytestmark = pytest.mark.e2e

MONTH_START = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
REVIEW_AT = dt.datetime(2024, 3, 1, tzinfo=dt.UTC).timestamp()  # the injected clock: --since 30d is February
USED = {"s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets", "logs:FilterLogEvents", "s3:PutObject"}


def record(at: float, user: str, action: str, *, decision: str = "ALLOW", status: str = "ok",
           reason: str = "ALLOWED", rule_id: str = "allow", tier: str | None = "read",
           resource: str = "arn:aws:s3:::acme-app-logs/app.log", **extra: Any) -> dict[str, Any]:  # fmt: skip
    ts = dt.datetime.fromtimestamp(at, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    values: dict[str, Any] = {
        "request_id": str(uuid.uuid4()), "ts": ts, "epoch_ms": int(at * 1000), "requested_at": ts,
        "user_email": user, "groups": ["developers"], "token_id": "tok", "source_ip": "127.0.0.1",
        "user_agent": "test", "tool": "call_aws", "service": action.split(":", maxsplit=1)[0], "action": action,
        "resources": [resource], "resource": resource, "decision": decision, "reason": reason,
        "rule_id": rule_id, "tier": tier, "policy_version": "test", "prompt_hmac": "0" * 64,
        "parameters": {"Key": "app.log"}, "status": status, "result_reason": "", "bytes_returned": 10,
        "redactions": {}, "approval_id": "", "approver": "", "latency_ms": {"total_ms": 5},
        "workflow_error": "",
    }  # fmt: skip
    values.update(extra)
    return AuditRecord(**values).model_dump(mode="json")


def scripted_month() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for day in range(29):
        base = (MONTH_START + dt.timedelta(days=day, hours=9)).timestamp()
        out += [record(base + i * 60, "alice@example.com", "s3:GetObject") for i in range(3)]
        out.append(
            record(
                base + 600,
                "bob@example.com",
                "logs:FilterLogEvents",
                resource="arn:aws:logs:us-east-1:123456789012:log-group:/acme/api",
            )
        )
        if day % 7 == 0:
            out.append(
                record(
                    base + 700, "bob@example.com", "s3:ListBucket", tier="list", resource="arn:aws:s3:::acme-app-logs"
                )
            )
        if day % 4 == 0:  # the most-blocked rule: 8 deletes
            out.append(
                record(
                    base + 800,
                    "mallory@example.com",
                    "s3:DeleteObject",
                    decision="DENY",
                    status="denied",
                    reason="EXPLICIT_DENY",
                    rule_id="deny.delete",
                    tier="write",
                )
            )
    for day in (3, 17, 25):  # 3 writes sent to review, one approved after 2 minutes, one expired
        at = (MONTH_START + dt.timedelta(days=day, hours=14)).timestamp()
        out.append(
            record(
                at,
                "alice@example.com",
                "s3:PutObject",
                decision="REVIEW",
                status="pending",
                reason="REVIEW_REQUIRED",
                rule_id="review.action-class",
                tier="write",
            )
        )
    requested = (MONTH_START + dt.timedelta(days=3, hours=14)).timestamp()
    out.append(
        record(
            requested + 120,
            "alice@example.com",
            "s3:PutObject",
            stage="approval",
            tier="write",
            requested_at=out[-3]["ts"],
            approver="carol@example.com",
        )
    )
    out.append(
        record(
            requested + 900,
            "alice@example.com",
            "s3:PutObject",
            stage="approval",
            decision="DENY",
            status="denied",
            reason="APPROVAL_EXPIRED",
            tier="write",
            requested_at=out[-2]["ts"],
        )
    )
    for i in range(2):
        out.append(
            record(
                (MONTH_START + dt.timedelta(days=10)).timestamp() + i,
                "eve@example.com",
                "iam:ListUsers",
                decision="DENY",
                status="denied",
                reason="EXPLICIT_DENY",
                rule_id="deny.iam",
                tier="list",
            )
        )
    at = (MONTH_START + dt.timedelta(days=12)).timestamp()
    out += [record(at + i, "bob@example.com", "s3:ListAllMyBuckets", tier="list", resource="*") for i in range(3)]
    out += [
        record(
            at + 10 + i,
            "bob@example.com",
            "s3:ListAllMyBuckets",
            decision="DENY",
            status="throttled",
            reason="THROTTLED",
            rule_id="ratelimit.list",
            tier="list",
            resource="*",
        )
        for i in range(2)
    ]
    return out


@pytest.fixture(scope="module")
def month(stack: Any) -> list[dict[str, Any]]:
    store = AuditStore(
        stack.client("dynamodb"), stack.client("logs"), stack.physical("AuditTable"), stack.physical("AuditLogGroup")
    )
    records = scripted_month()
    for r in records:
        store.append(r)
    return records


def review(stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> str:
    monkeypatch.setattr(review_cli, "clock", lambda: REVIEW_AT)
    capsys.readouterr()
    code = main(["--state-dir", str(stack.state_dir), "review", "--since", "30d", "--policy", stack.policy_path,
                 *argv])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    return out


def test_the_review_of_a_scripted_month_names_the_never_used_allowed_actions_and_the_most_blocked_rule(
    stack: Any, month: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = json.loads(review(stack, capsys, monkeypatch, "--format", "json"))
    policy = yaml.safe_load(Path(stack.policy_path).read_text())
    allowed = {r["action"] for r in policy["allow"]} | {
        r["action"] for g in (policy.get("groups") or {}).values() for r in (g or {}).get("allow") or []
    }
    unused = {u["action"] for u in report["unused_allowed_actions"]}
    assert unused == allowed - USED
    assert {"cloudwatch:DescribeAlarms", "logs:StartQuery"} <= unused
    alarms = next(u for u in report["unused_allowed_actions"] if u["action"] == "cloudwatch:DescribeAlarms")
    assert yaml.safe_load(alarms["delete"])[0]["action"] == "cloudwatch:DescribeAlarms"
    assert (
        Path(stack.policy_path)
        .read_text()
        .splitlines()[alarms["line"] - 1]
        .strip()
        .endswith("cloudwatch:DescribeAlarms")
    )
    most_blocked = report["blocked_by_rule"][0]
    assert (most_blocked["rule_id"], most_blocked["requests"]) == ("deny.delete", 8)
    assert [g["rule_id"] for g in report["blocked_by_rule"]] == ["deny.delete", "review.action-class", "deny.iam"]
    assert report["requests"] == len([r for r in month if not r.get("stage")])
    assert report["actions"][0] == {"action": "s3:GetObject", "requests": 87, "users": 1}
    assert report["users"][0]["user"] == "alice@example.com"
    tiers = {t["tier"]: t for t in report["throttles"]}
    assert (tiers["list"]["throttled"], tiers["list"]["limit"]) == (2, policy["rate_limits"]["tiers"]["list"]["limit"])
    approvals = report["approvals"]
    assert (approvals["sent_to_review"], approvals["approved"], approvals["expired"]) == (3, 1, 1)
    assert approvals["seconds_to_decision"]["median"] is not None
    assert [d["day"] for d in report["per_day"]][:2] == ["2024-01-31", "2024-02-01"]  # every day, empty ones too
    assert report["per_day"][-1]["day"] == "2024-03-01"


def test_the_review_table_fits_120_columns_and_the_markdown_report_has_a_requests_per_day_chart(
    stack: Any, month: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = review(stack, capsys, monkeypatch)
    assert max(len(line) for line in table.splitlines()) <= 120
    assert "cloudwatch:DescribeAlarms" in table and "deny.delete: 8 request(s)" in table
    markdown = review(stack, capsys, monkeypatch, "--format", "markdown")
    assert "## Requests per day by decision" in markdown
    feb_first = next(line for line in markdown.splitlines() if line.startswith("2024-02-01 "))
    assert feb_first.endswith(" 5/0/1") and "#" in feb_first and "x" in feb_first
