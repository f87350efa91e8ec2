"""`mcp-gateway approvals list|show` against the local stack: a flagged call's request is listed as pending with
what the approver is shown, and after an approval through a signed Slack click it reads approved, with the
approver and the time of the decision."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from approval_support import APPROVER_EMAIL, FLAGGING_INTENT, WorkflowObserver, approval_item, observing
from conftest import unique_email
from mcp_gateway_local import cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def observer(stack: Any) -> Iterator[WorkflowObserver]:
    with observing(stack) as obs:
        yield obs


def run_cli(stack: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["--state-dir", str(stack.state_dir), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def flagged_request(session_factory: Any, observer: WorkflowObserver, who: str) -> tuple[str, str]:
    requester = session_factory(unique_email(who))
    async with requester.client() as client:
        result = await client.call_tool(
            "get_object", {"bucket": "acme-app-logs", "key": "README.txt", "intent": FLAGGING_INTENT}
        )
    answer = result.structured_content or json.loads(result.content[0].text)
    assert answer["status"] == "pending"
    rid = str(answer["request_id"])
    observer.wait_notified(rid)
    return rid, requester.email


async def test_approvals_list_and_show_follow_a_request_from_pending_to_approved_with_its_approver(
    stack: Any, session_factory: Any, observer: WorkflowObserver, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.time()
    rid, requester = await flagged_request(session_factory, observer, "ivy")

    code, out, _ = run_cli(stack, capsys, "approvals", "list", "--state", "pending", "--format", "json")
    assert code == 0
    listed = {row["request_id"]: row for row in json.loads(out)}
    assert rid in listed
    row = listed[rid]
    assert (row["requester"], row["tool"], row["action"], row["state"]) == (
        requester,
        "get_object",
        "s3:GetObject",
        "PENDING",
    )
    assert row["rule_id"] and row["rule_id"] != "-"
    assert row["decided_by"] is None
    assert row["expires_at"] >= started + 60
    assert row["expires_at_utc"].endswith(" UTC") and row["expires_relative"].startswith("in ")

    code, table, _ = run_cli(stack, capsys, "approvals", "list", "--state", "pending")
    assert code == 0
    header, *rows = table.splitlines()
    for column in ("REQUEST ID", "REQUESTER", "TOOL", "ACTION", "RULE", "STATE", "EXPIRY", "DECIDED BY"):
        assert column in header
    line = next(r for r in rows if r.startswith(rid))
    assert requester in line and "PENDING" in line and " UTC (in " in line

    code, out, _ = run_cli(stack, capsys, "approvals", "show", rid, "--format", "json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["request_id"], shown["requester"], shown["tool"], shown["action"], shown["state"]) == (
        rid,
        requester,
        "get_object",
        "s3:GetObject",
        "PENDING",
    )
    assert shown["resources"] == ["arn:aws:s3:::acme-app-logs/README.txt"]
    stored = approval_item(stack, rid)
    assert shown["parameters"] == json.loads(stored["parameters_json"]["S"]) != {}
    assert "acme-app-logs" in json.dumps(shown["parameters"])
    assert shown["reason"] == stored["reason"]["S"] and shown["matched"] == stored["trigger"]["S"]
    assert shown["rule_id"] == row["rule_id"]
    assert shown["matched"]
    assert shown["expires_at"] == row["expires_at"]
    assert (shown["decided_by"], shown["decided_at"]) == (None, None)

    code, text, _ = run_cli(stack, capsys, "approvals", "show", rid)
    assert code == 0
    for label in ("Requested by:", "Tool:", "Action:", "Resources (1):", "Parameters (sanitised):", "Rule:"):
        assert label in text
    assert "Matched:" in text and "Expires:" in text and "State:        PENDING" in text

    assert cli.main(["--state-dir", str(stack.state_dir), "approve", rid, "--as", APPROVER_EMAIL]) == 0
    observer.wait_finished(rid)

    code, out, _ = run_cli(stack, capsys, "approvals", "show", rid, "--format", "json")
    assert code == 0
    decided = json.loads(out)
    assert (decided["state"], decided["decided_by"]) == ("APPROVED", APPROVER_EMAIL)
    assert decided["decided_at"] >= int(started) and decided["decided_at_utc"].endswith(" UTC")

    code, out, _ = run_cli(stack, capsys, "approvals", "list", "--format", "json", "--since", "1h")
    assert code == 0
    after = {r["request_id"]: r for r in json.loads(out)}
    assert (after[rid]["state"], after[rid]["decided_by"]) == ("APPROVED", APPROVER_EMAIL)
    code, out, _ = run_cli(stack, capsys, "approvals", "list", "--state", "pending", "--format", "json")
    assert rid not in {r["request_id"] for r in json.loads(out)}


def test_approvals_show_of_an_unknown_request_is_one_line_with_exit_code_2(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(stack, capsys, "approvals", "show", "req-does-not-exist")
    assert code == 2
    assert out == "" and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(stack, capsys, "approvals", "show", "nonce#abc")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_approvals_list_with_an_unreadable_since_is_one_line_with_exit_code_2(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(stack, capsys, "approvals", "list", "--since", "last tuesday")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_approvals_list_with_stack_and_no_region_is_one_line_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    capsys.readouterr()
    assert cli.main(["approvals", "list", "--stack", "mcp-gateway-prod"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
