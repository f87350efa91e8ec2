"""Audit records and the workflow's final response, built from the workflow state. Pure.

The same ``outcome_record`` goes to the DynamoDB audit table (hash-chained) and, as one JSON line, to the
audit log group. It never holds the prompt (only its HMAC), a token (only the token id), or raw
parameters (only the sanitized copy the validator made).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .errors import ReasonCode

STATUS_BY_REASON = {
    ReasonCode.THROTTLED.value: "throttled",
    ReasonCode.DATA_BUDGET_EXCEEDED.value: "throttled",
    ReasonCode.REVIEW_REQUIRED.value: "pending",
}

RECORD_VERSION = 1


def _status(decision: dict[str, Any], execution: dict[str, Any] | None) -> str:
    outcome = decision.get("outcome")
    reason = str(decision.get("reason", ""))
    if outcome == "DENY":
        return STATUS_BY_REASON.get(reason, "denied")
    if outcome == "REVIEW":
        return "pending"
    if execution is None:
        return "error"
    return "ok" if execution.get("status") == "ok" else "error"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outcome_record(state: dict[str, Any], now: float) -> dict[str, Any]:
    """One complete outcome record for any path through the workflow (allowed, denied, throttled, ...)."""
    request = state.get("request") or {}
    principal = request.get("principal") or {}
    context = request.get("context") or {}
    decision = state.get("decision") or {}
    execution = (state.get("execution") or {}).get("result")
    timings = dict(state.get("timings") or {})
    requested_at = float(request.get("requested_at") or now)
    timings["total_ms"] = round(max(0.0, now - requested_at) * 1000, 1)
    if execution and "duration_ms" in execution:
        timings["execute_ms"] = execution["duration_ms"]
    resources = list(request.get("resources") or [])
    error = state.get("error") or {}
    approval = state.get("approval") or {}
    record: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "kind": "outcome",
        "request_id": request.get("request_id", "unknown"),
        "ts": _iso(now),
        "epoch_ms": int(now * 1000),
        "requested_at": _iso(requested_at),
        "user_email": principal.get("email", "unknown"),
        "groups": list(principal.get("groups") or []),
        "token_id": principal.get("token_id", ""),
        "source_ip": context.get("source_ip", ""),
        "user_agent": context.get("user_agent", ""),
        "tool": request.get("tool", ""),
        "service": request.get("service", ""),
        "action": request.get("action", ""),
        "resources": resources,
        "resource": resources[0] if resources else "",
        "decision": decision.get("outcome", "DENY"),
        "reason": decision.get("reason", ReasonCode.INTERNAL_ERROR.value),
        "rule_id": decision.get("rule_id", ""),
        "tier": decision.get("tier"),
        "policy_version": decision.get("policy_version", ""),
        "prompt_hmac": request.get("prompt_hmac", ""),
        "parameters": request.get("parameters_sanitized", {}),
        "status": _status(decision, execution),
        "result_reason": (execution or {}).get("reason", ""),
        "bytes_returned": int((execution or {}).get("bytes_returned", 0)),
        "redactions": dict((execution or {}).get("redactions") or {}),
        "approval_id": approval.get("approval_id", ""),
        "approver": approval.get("approver", ""),
        "latency_ms": timings,
        "workflow_error": str(error.get("Error", ""))[:200] if error else "",
    }
    if state.get("stage") == "approval":  # the approval workflow's own outcome (stored as sk "outcome#approval")
        record["stage"] = "approval"
    if state.get("audit_error") is not None:  # parked in the dead-letter queue, recorded by `audit replay`
        record["delivery"] = "dead-letter-replay"
    return record


def response(state: dict[str, Any], record: dict[str, Any], *, audit: str = "recorded") -> dict[str, Any]:
    """What the gateway turns into the MCP tool result. Holds the (already redacted) result, never raw data."""
    decision = state.get("decision") or {}
    execution = (state.get("execution") or {}).get("result") or {}
    out: dict[str, Any] = {
        "request_id": record["request_id"],
        "status": record["status"],
        "decision": {
            "outcome": decision.get("outcome", "DENY"),
            "reason": decision.get("reason", ReasonCode.INTERNAL_ERROR.value),
            "rule_id": decision.get("rule_id", ""),
            "hint": decision.get("hint", ""),
            "message": decision.get("message", ""),
            "tier": decision.get("tier"),
            "limits": decision.get("limits") or {},
        },
        "audit": audit,
    }
    if record["status"] == "pending":
        out["approval"] = {
            "expires_at": (state.get("approval") or {}).get("expires_at"),
            "request_hash": (state.get("approval") or {}).get("request_hash"),
        }
    if execution:
        out["result"] = execution.get("data")
        out["result_reason"] = execution.get("reason", "")
        out["result_message"] = execution.get("message", "")
        out["redactions"] = execution.get("redactions") or {}
        out["truncated"] = bool(execution.get("truncated", False))
        if execution.get("continuation"):
            out["continuation"] = execution["continuation"]
    return out


def auth_failure_record(info: dict[str, Any], request_id: str, now: float) -> dict[str, Any]:
    """Outcome record of a rejected authentication: it never reached the workflow, and holds no token."""
    return {
        "record_version": RECORD_VERSION,
        "kind": "outcome",
        "request_id": request_id,
        "ts": _iso(now),
        "epoch_ms": int(now * 1000),
        "requested_at": _iso(now),
        "user_email": "unauthenticated",
        "groups": [],
        "token_id": "",
        "token_fingerprint": str(info.get("token_fingerprint", ""))[:64],
        "source_ip": str(info.get("source_ip", ""))[:64],
        "user_agent": str(info.get("user_agent", ""))[:256],
        "tool": "",
        "service": "gateway",
        "action": f"gateway:Authenticate{'Token' if info.get('endpoint') == '/oauth/token' else 'Mcp'}",
        "resources": [str(info.get("endpoint", ""))[:64]],
        "resource": str(info.get("endpoint", ""))[:64],
        "decision": "DENY",
        "reason": str(info.get("reason", ReasonCode.AUTH_INVALID.value)),
        "rule_id": "auth",
        "tier": None,
        "policy_version": "",
        "prompt_hmac": "",
        "parameters": {},
        "status": "denied",
        "result_reason": "",
        "bytes_returned": 0,
        "redactions": {},
        "approval_id": "",
        "approver": "",
        "latency_ms": {},
        "workflow_error": "",
    }
