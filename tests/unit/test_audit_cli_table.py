"""The auditor's table (issue 18): readable at 120 columns without cutting resources, the reason true to the
record, approvers shown by e-mail."""

from __future__ import annotations

from typing import Any

from mcp_gateway_local.audit_cli import Row, render
from mcp_gateway_local.audit_table import approver_emails
from mcp_gateway_local.template import ROOT

LOG_GROUP = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/acme-payments-service-production-reconciler-v2"


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": "2026-11-30T10:00:00.000Z",
        "request_id": "6f1c2a4e-0b7d-4f59-9a53-2d1e3c4b5a69",
        "user_email": "alice.longname@engineering.example.com",
        "decision": "ALLOW",
        "status": "ok",
        "reason": "ALLOWED",
        "result_reason": "",
        "action": "logs:FilterLogEvents",
        "resource": LOG_GROUP,
        "resources": [LOG_GROUP],
        "bytes_returned": 1234,
        "approver": "",
    }
    return {**base, **changes}


def unwrapped(table: str) -> str:
    """The table's text with the wrapping undone (continuation lines joined)."""
    return "".join(line.strip() for line in table.splitlines())


def test_the_table_fits_120_columns_and_shows_a_long_log_group_name_in_full() -> None:
    table = render([Row(record())], "table")
    assert max(len(line) for line in table.splitlines()) <= 120
    assert LOG_GROUP in unwrapped(table)
    assert "…" not in table


def test_the_wide_table_puts_each_record_on_one_line_with_every_resource_in_full() -> None:
    table = render([Row(record()), Row(record(request_id="r2"))], "table", wide=True)
    lines = table.splitlines()
    assert len(lines) == 3
    assert all(LOG_GROUP in line for line in lines[1:])


def test_a_failed_call_is_shown_with_the_executions_reason_never_allowed() -> None:
    failed = record(status="error", reason="ALLOWED", result_reason="NOT_FOUND")
    for wide in (False, True):
        table = render([Row(failed)], "table", wide=wide)
        first_row = table.splitlines()[2 if not wide else 1]
        assert "NOT_FOUND" in first_row and "ALLOWED" not in first_row
        assert "error" in first_row


def test_a_successful_call_keeps_its_decision_reason() -> None:
    assert "ALLOWED" in render([Row(record())], "table").splitlines()[2]


def test_a_refused_approver_click_shows_the_approvers_e_mail_not_a_slack_id() -> None:
    approvers = approver_emails(ROOT / "policy" / "gateway-policy.yaml")
    slack_id, email = next(iter(approvers.items()))
    click = record(
        user_email=f"slack:{slack_id}",
        approver=slack_id,
        service="slack",
        action="gateway:ApprovalCallback",
        decision="DENY",
        status="denied",
        reason="SELF_APPROVAL",
        resources=["req-1"],
        resource="req-1",
    )
    for wide in (False, True):
        table = render([Row(click)], "table", wide=wide, approvers=approvers)
        assert email in table
        assert slack_id not in table


def test_an_unmapped_slack_id_stays_visibly_a_slack_id() -> None:
    click = record(user_email="slack:U0NOBODY", approver="U0NOBODY")
    table = render([Row(click)], "table", approvers={"U0APPROVER1": "carol@example.com"})
    assert "slack:U0NOBODY (unmapped)" in unwrapped(table)
