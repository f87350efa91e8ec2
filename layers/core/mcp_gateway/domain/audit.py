"""Audit records and the workflow's final response, built from the workflow state. Pure.

The record and the response are the contracts ``AuditRecord`` and ``AuditResponse``
(``domain/contracts.py``), with one constructor per outcome kind. The functions here are the dict-shaped
entry points used by the gateway's workflow runner and its authentication audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .contracts import RECORD_VERSION, STATUS_BY_REASON, AuditRecord, AuditResponse, WorkflowState

__all__ = ["RECORD_VERSION", "STATUS_BY_REASON", "auth_failure_record", "outcome_record", "response"]


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
