"""Audit records and the workflow's final response, built from the workflow state. Pure.

The record and the response are the contracts ``AuditRecord`` and ``AuditResponse``
(``domain/contracts.py``), with one constructor per outcome kind. The functions here are the dict-shaped
entry points used by the gateway's workflow runner and its authentication audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .contracts import RECORD_VERSION, STATUS_BY_REASON, AuditRecord, AuditResponse, WorkflowState
from .errors import ReasonCode

__all__ = [
    "AUTHORITATIVE_SORT_KEYS",
    "GATEWAY_STAGE",
    "RECORD_VERSION",
    "STATUS_BY_REASON",
    "auth_failure_record",
    "gateway_outcome_record",
    "in_progress_response",
    "outcome_record",
    "recorded_response",
    "response",
]


def outcome_record(state: Mapping[str, Any], now: float) -> dict[str, Any]:
    """One complete outcome record for any path through the workflow (allowed, denied, throttled, ...)."""
    return AuditRecord.from_state(WorkflowState.read(state), now).model_dump(mode="json")


def response(
    state: Mapping[str, Any],
    record: Mapping[str, Any],
    *,
    audit: Literal["recorded", "deferred", "failed"] = "recorded",
) -> dict[str, Any]:
    """What the gateway turns into the MCP tool result. Holds the (already redacted) result, never raw data."""
    built = AuditResponse.build(WorkflowState.read(state), str(record["request_id"]), record["status"], audit)
    return built.model_dump(mode="json")


def auth_failure_record(info: Mapping[str, Any], request_id: str, now: float) -> dict[str, Any]:
    """Outcome record of a rejected authentication: it never reached the workflow, and holds no token."""
    return AuditRecord.auth_failure(
        request_id=request_id,
        now=now,
        reason=str(info.get("reason", "AUTH_INVALID")),
        endpoint=str(info.get("endpoint", "")),
        token_fingerprint=str(info.get("token_fingerprint", "")),
        source_ip=str(info.get("source_ip", "")),
        user_agent=str(info.get("user_agent", "")),
    ).model_dump(mode="json")


# --- one truth per request (issue 20) -----------------------------------------------------------------------
#: The sort key stage of the gateway's own record about a request: never the workflow's outcome (``outcome``),
#: so a gateway-side failure (a timeout, a start error) can never mask or pre-empt what the workflow recorded.
GATEWAY_STAGE = "gateway"
AUTHORITATIVE_SORT_KEYS = ("outcome", "outcome#approval")
IN_PROGRESS_MESSAGE = (
    "the gateway could not learn this request's outcome (it may still be running, or have finished): look it "
    "up with get_request_status and this request_id; do not send the call again under a new id"
)


def gateway_outcome_record(
    request: Mapping[str, Any], now: float, *, rule_id: str, started: bool | None
) -> dict[str, Any]:
    """The gateway's record of a request whose workflow answer it did not get. ``started``: False when the
    start provably did not happen (nothing ran: a DENY), None when unknown (it may have run: no decision)."""
    req = {k: v for k, v in request.items() if k != "intent"}
    reason = ReasonCode.WORKFLOW_ERROR.value if started is False else ReasonCode.REQUEST_IN_PROGRESS.value
    state = {
        "request": req,
        "decision": {"outcome": "DENY", "reason": ReasonCode.WORKFLOW_ERROR.value, "rule_id": rule_id},
    }
    record = outcome_record(state, now)
    record["stage"] = GATEWAY_STAGE
    record["result_reason"] = reason
    if started is not False:  # nothing was decided here: the workflow's own record (if any) is the truth
        record["decision"] = "REVIEW"
        record["reason"] = ReasonCode.REQUEST_IN_PROGRESS.value
        record["status"] = "pending"
    return record


def in_progress_response(request_id: str, rule_id: str, audit: Literal["recorded", "failed"]) -> dict[str, Any]:
    """The agent's answer when the outcome is unknown: in progress / unknown, never a false DENY."""
    return {
        "request_id": request_id,
        "status": "pending",
        "decision": {
            "outcome": "REVIEW",
            "reason": ReasonCode.REQUEST_IN_PROGRESS.value,
            "rule_id": rule_id,
            "hint": "call get_request_status with this request_id",
            "message": IN_PROGRESS_MESSAGE,
            "tier": None,
            "limits": {},
        },
        "audit": audit,
        "result_reason": ReasonCode.REQUEST_IN_PROGRESS.value,
        "result_message": IN_PROGRESS_MESSAGE,
    }


def recorded_response(record: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to a second start of a request id: the first execution's recorded outcome (its data is not
    sent again; the decision, status and reasons are exactly what was recorded)."""
    status = str(record.get("status") or "error")
    message = "this request id already ran; this is its recorded outcome (the result is not sent twice)"
    return {
        "request_id": str(record.get("request_id", "")),
        "status": status,
        "decision": {
            "outcome": str(record.get("decision") or "DENY"),
            "reason": str(record.get("reason") or ReasonCode.DUPLICATE_REQUEST.value),
            "rule_id": str(record.get("rule_id") or ""),
            "hint": "",
            "message": message if status in ("denied", "throttled") else "",
            "tier": record.get("tier"),
            "limits": {},
        },
        "audit": "recorded",
        "result_reason": str(record.get("result_reason") or "") or ReasonCode.DUPLICATE_REQUEST.value,
        "result_message": message,
        "redactions": dict(record.get("redactions") or {}),
    }


def edge_rejection_record(
    info: Mapping[str, Any], request_id: str, now: float, *, principal_email: str = "", groups: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A request the bounded edge refused (method, sizes, Host, Origin, strict JSON, admission): it never
    reached the workflow. Named by the principal when it was authenticated."""
    record = auth_failure_record(info, request_id, now)
    record["action"] = "gateway:EdgeLimits"
    record["rule_id"] = "edge." + str(info.get("rule", "limits"))[:64]
    record["status"] = "throttled" if info.get("status") == 429 else "denied"
    if principal_email:
        record["user_email"] = principal_email[:320]
        record["groups"] = list(groups)[:64]
    return record
