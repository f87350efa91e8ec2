"""get_request_status for a call that needed no approval (issue 20): an allowed call answered "in progress /
unknown, look it up with get_request_status" has no approvals item, so its truth is the audit trail: the
workflow's own outcome, else the gateway's record while the workflow has none. Only the requester reads it."""

from __future__ import annotations

from typing import Any

from mcp_gateway.gateway.tool_request_status import RequestStatusTool

ME = "ana@example.com"
RID = "req-" + "a" * 32


class NoApprovals:
    def approval(self, request_id: str) -> dict[str, Any] | None:
        return None

    def result(self, request_id: str) -> dict[str, Any] | None:
        return None


def _tool(records: dict[str, dict[str, Any]]) -> RequestStatusTool:
    return RequestStatusTool(NoApprovals(), outcomes=lambda rid, sk: records.get(sk) if rid == RID else None)


def _record(status: str, decision: str, reason: str, *, email: str = ME, result_reason: str = "") -> dict[str, Any]:
    return {
        "request_id": RID,
        "user_email": email,
        "status": status,
        "decision": decision,
        "reason": reason,
        "result_reason": result_reason,
        "redactions": {},
    }


def test_a_call_with_only_the_gateways_in_progress_record_is_in_progress_and_not_executed() -> None:
    gateway = _record("pending", "REVIEW", "REQUEST_IN_PROGRESS", result_reason="REQUEST_IN_PROGRESS")
    assert _tool({"outcome#gateway": gateway}).status(ME, RID) == {
        "request_id": RID,
        "status": "in_progress",
        "executed": False,
    }


def test_the_workflows_ok_outcome_is_done_and_executed_even_beside_the_gateways_in_progress_record() -> None:
    records = {
        "outcome": _record("ok", "ALLOW", "ALLOWLISTED"),
        "outcome#gateway": _record("pending", "REVIEW", "REQUEST_IN_PROGRESS"),
    }
    out = _tool(records).status(ME.upper(), RID)
    assert out is not None
    assert (out["status"], out["executed"], out["result_status"]) == ("done", True, "ok")
    assert out["result_reason"] == "ALLOWLISTED"


def test_a_throttled_or_denied_outcome_is_denied_and_not_executed_with_its_reason() -> None:
    for status, reason in (("throttled", "RATE_LIMITED"), ("denied", "EXPLICIT_DENY")):
        out = _tool({"outcome": _record(status, "DENY", reason)}).status(ME, RID)
        assert out is not None
        assert (out["status"], out["executed"], out["result_status"], out["result_reason"]) == (
            "denied",
            False,
            status,
            reason,
        )


def test_a_start_that_provably_did_not_happen_is_denied_with_the_workflow_error() -> None:
    gateway = _record("denied", "DENY", "WORKFLOW_ERROR", result_reason="WORKFLOW_ERROR")
    out = _tool({"outcome#gateway": gateway}).status(ME, RID)
    assert out is not None
    assert (out["status"], out["executed"], out["result_reason"]) == ("denied", False, "WORKFLOW_ERROR")


def test_a_review_outcome_whose_approvals_item_is_not_readable_yet_is_pending() -> None:
    out = _tool({"outcome": _record("pending", "REVIEW", "APPROVAL_REQUIRED")}).status(ME, RID)
    assert out == {"request_id": RID, "status": "pending", "executed": False}


def test_another_users_request_and_an_unknown_id_are_both_unknown() -> None:
    records = {"outcome": _record("ok", "ALLOW", "ALLOWLISTED", email="bob@example.com")}
    assert _tool(records).status(ME, RID) is None
    assert _tool({}).status(ME, RID) is None
    assert _tool(records).status(ME, "req-" + "b" * 32) is None


def test_without_an_outcome_lookup_only_flagged_requests_are_known() -> None:
    assert RequestStatusTool(NoApprovals()).status(ME, RID) is None
