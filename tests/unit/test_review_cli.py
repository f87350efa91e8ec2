"""`mcp-gateway review` without a stack (issue 18): the report from records and the policy (pure), and every CLI
error as one line with exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp_gateway_local import cli
from mcp_gateway_local.review_cli import build_report, render_markdown, render_table

POLICY_TEXT = """\
allow:
  - action: s3:GetObject
    resources: ["arn:aws:s3:::logs/*"]
  - action: cloudwatch:DescribeAlarms   # never used
    resources: ["*"]
groups:
  sre:
    allow:
      - action: s3:PutObject
        resources: ["arn:aws:s3:::scratch/*"]
rate_limits:
  tiers:
    read: {limit: 2, window_seconds: 60}
"""
DAY = 1_772_323_200.0  # 2026-03-01T00:00:00Z


def rec(at: float, action: str, decision: str = "ALLOW", status: str = "ok", **extra: Any) -> dict[str, Any]:
    return {
        "request_id": f"r{at}",
        "ts": f"2026-03-01T00:00:{int(at - DAY):02d}.000Z",
        "epoch_ms": int(at * 1000),
        "requested_at": f"2026-03-01T00:00:{int(at - DAY):02d}.000Z",
        "user_email": "alice@example.com",
        "service": action.split(":", 1)[0],
        "action": action,
        "resource": "arn:aws:s3:::logs/a",
        "decision": decision,
        "status": status,
        "reason": extra.pop("reason", "ALLOWED"),
        "rule_id": extra.pop("rule_id", "allow"),
        "tier": extra.pop("tier", "read"),
        "parameters": {"Key": "a"},
        **extra,
    }


def report(records: list[dict[str, Any]]) -> dict[str, Any]:
    return build_report(records, yaml.safe_load(POLICY_TEXT), POLICY_TEXT.splitlines(), DAY - 86_400, DAY + 3600)


def test_allowed_actions_without_a_request_are_named_with_the_rule_and_its_line_to_delete() -> None:
    out = report([rec(DAY + 1, "s3:GetObject"), rec(DAY + 2, "s3:PutObject", "REVIEW", "pending")])
    assert [(u["action"], u["where"], u["line"]) for u in out["unused_allowed_actions"]] == [
        ("cloudwatch:DescribeAlarms", "allow", 4)
    ]
    assert "cloudwatch:DescribeAlarms" in out["unused_allowed_actions"][0]["delete"]


def test_blocked_requests_are_grouped_by_rule_most_blocked_first_and_throttles_are_not_blocks() -> None:
    records = [
        rec(DAY + 1, "s3:DeleteObject", "DENY", "denied", reason="EXPLICIT_DENY", rule_id="deny.delete"),
        rec(DAY + 2, "s3:DeleteObject", "DENY", "denied", reason="EXPLICIT_DENY", rule_id="deny.delete"),
        rec(DAY + 3, "iam:ListUsers", "DENY", "denied", reason="EXPLICIT_DENY", rule_id="deny.iam"),
        rec(DAY + 4, "s3:GetObject", "DENY", "throttled", reason="THROTTLED", rule_id="ratelimit.read"),
    ]
    out = report(records)
    assert [(g["rule_id"], g["requests"]) for g in out["blocked_by_rule"]] == [("deny.delete", 2), ("deny.iam", 1)]
    read = next(t for t in out["throttles"] if t["tier"] == "read")
    assert (read["throttled"], read["limit"]) == (1, 2)


def test_the_peak_per_user_and_window_is_measured_against_the_tiers_limit() -> None:
    out = report([rec(DAY + i, "s3:GetObject") for i in range(3)] + [rec(DAY + 200, "s3:GetObject")])
    read = next(t for t in out["throttles"] if t["tier"] == "read")
    assert (read["peak_per_user_window"], read["peak_of_limit"]) == (3, 1.5)


def test_approvals_report_the_time_to_decision_and_the_expiries() -> None:
    asked = rec(DAY + 1, "s3:PutObject", "REVIEW", "pending", reason="REVIEW_REQUIRED")
    decided = rec(DAY + 31, "s3:PutObject", stage="approval", requested_at=asked["ts"])
    expired = rec(DAY + 50, "s3:PutObject", "DENY", "denied", stage="approval", reason="APPROVAL_EXPIRED")
    approvals = report([asked, decided, expired])["approvals"]
    assert (approvals["sent_to_review"], approvals["approved"], approvals["expired"]) == (1, 1, 1)
    assert approvals["seconds_to_decision"]["max"] == 30.0


def test_the_table_fits_120_columns_and_the_markdown_has_a_bar_per_day() -> None:
    out = report([rec(DAY + 1, "s3:GetObject", user_email="a-very-long-user-name-" * 6 + "@example.com")])
    assert max(len(line) for line in render_table(out).splitlines()) <= 120
    markdown = render_markdown(out)
    assert "2026-02-28  0/0/0" in markdown, "a day without requests has an empty bar"
    assert "2026-03-01 " + "#" * 50 + " 1/0/0" in markdown, "the busiest day has the full bar"


def test_review_without_a_local_stack_is_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--state-dir", str(tmp_path), "review", "--since", "30d"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")


def test_review_with_an_unreadable_time_or_policy_is_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["--since", "last month"], ["--policy", str(tmp_path / "missing.yaml")]):
        code = cli.main(["--state-dir", str(tmp_path), "review", *argv])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
