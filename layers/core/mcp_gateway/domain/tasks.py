"""MCP tasks for calls that wait for a human (pure).

A ``tools/call`` that needs review answers with a task handle when the client asked for one: the 2025-11-25
``params.task`` augmentation, or the 2026-07-28 ``io.modelcontextprotocol/tasks`` extension in the request's
client capabilities. The task is a thin, durable view over the approval: its own item in the approvals table
(``task_item_key``: the SHA-256 of the unguessable task id, bound to the requester's ``sub``) plus the approval
item and the stored result, from which ``task_state`` derives what ``tasks/get`` reports. Nothing lives in
memory: the gateway is rebuilt per invocation.

Wire shapes per version: ``wire_task`` (the Task object), ``create_result`` (the answer to ``tools/call``) and
``get_result`` (``tasks/get``). A denied, expired or failed approval is a ``failed`` task whose error carries the
gateway's reason code in ``data.reason``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from .errors import ReasonCode
from .models import StrictModel

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
LEGACY_TASKS_VERSION = "2025-11-25"
MODERN_TASKS_VERSIONS = frozenset({"2026-07-28"})
TASK_ID_PREFIX = "task-"
TASK_KEY_PREFIX = "task#"
POLL_INTERVAL_MS = 2_000
RESULT_RETENTION_SECONDS = 86_400  # the results table keeps an approved request's result this long
TASK_FAILED_CODE = -32_000  # implementation-defined JSON-RPC server error: the approval ended without a result
TASK_NOT_FOUND_MESSAGE = "Failed to retrieve task: Task not found"

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]


def new_task_id() -> str:
    """An unguessable task id (192 random bits), distinct from the request id shown to approvers."""
    return TASK_ID_PREFIX + secrets.token_urlsafe(24)


def task_item_key(task_id: str) -> str:
    """The approvals-table key of a task: a digest, so a table read never yields a usable handle."""
    return TASK_KEY_PREFIX + hashlib.sha256(task_id.encode()).hexdigest()


def wants_task(protocol_version: str, params: Mapping[str, Any] | None, meta: Mapping[str, Any] | None) -> bool:
    """Did this ``tools/call`` ask for a task? 2025-11-25: ``params.task``; 2026-07-28: the tasks extension in
    the per-request client capabilities."""
    if protocol_version in MODERN_TASKS_VERSIONS:
        caps = (meta or {}).get("io.modelcontextprotocol/clientCapabilities")
        extensions = caps.get("extensions") if isinstance(caps, Mapping) else None
        return isinstance(extensions, Mapping) and TASKS_EXTENSION in extensions
    if protocol_version == LEGACY_TASKS_VERSION:
        return isinstance((params or {}).get("task"), Mapping)
    return False


def channel_label(channel: str) -> str:
    name = channel.strip().lstrip("#")
    return f"#{name}" if name else "Slack"


def waiting_message(channel: str, request_id: str) -> str:
    return f"waiting for approval in {channel_label(channel)} (request {request_id})"


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class TaskRecord(StrictModel):
    """A task as stored (one approvals-table item)."""

    task_id_hash: str = Field(min_length=64, max_length=64)
    request_id: str = Field(min_length=1, max_length=80)
    sub: str = Field(min_length=1, max_length=256)
    requester: str = Field(max_length=320)
    tool: str = Field(max_length=64)
    channel: str = Field(max_length=256)
    created_at: float = Field(ge=0)
    approval_expires_at: float = Field(ge=0)
    ttl_ms: int = Field(ge=0)
    poll_interval_ms: int = Field(ge=0)
    status: Literal["working", "cancelled"] = "working"
    updated_at: float = Field(ge=0)


def new_record(
    task_id: str,
    *,
    request_id: str,
    sub: str,
    requester: str,
    tool: str,
    channel: str,
    now: float,
    approval_expires_at: float,
) -> TaskRecord:
    """The TTL covers the approval window plus the time the result stays readable (never shorter than expiry)."""
    ttl_seconds = max(0.0, approval_expires_at - now) + RESULT_RETENTION_SECONDS
    return TaskRecord(
        task_id_hash=task_item_key(task_id)[len(TASK_KEY_PREFIX) :],
        request_id=request_id,
        sub=sub,
        requester=requester,
        tool=tool,
        channel=channel,
        created_at=now,
        approval_expires_at=approval_expires_at,
        ttl_ms=int(ttl_seconds * 1000),
        poll_interval_ms=POLL_INTERVAL_MS,
        updated_at=now,
    )


class TaskState(StrictModel):
    """What ``tasks/get`` reports: the status, a human message, and the final result or error."""

    status: TaskStatus
    status_message: str
    updated_at: float
    response: dict[str, Any] | None = None  # the workflow-shaped answer of the executed tool (completed)
    reason: ReasonCode | None = None  # failed: why (APPROVAL_DENIED, APPROVAL_EXPIRED, ...)


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return value if isinstance(value, str) else ""


def _number(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name)
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def stored_response(request_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """The stored (redacted) result of an approved execution, in the shape the request workflow answers with."""
    status = str(result.get("status", "error"))
    out: dict[str, Any] = {"request_id": request_id, "status": status if status in ("ok", "error") else "error"}
    if result.get("data") is not None:
        out["result"] = result.get("data")
    if result.get("redactions"):
        out["redactions"] = result.get("redactions")
    if result.get("truncated"):
        out["truncated"] = bool(result.get("truncated"))
    if result.get("reason"):
        out["result_reason"] = str(result.get("reason"))
    if result.get("message"):
        out["result_message"] = str(result.get("message"))
    return out


def task_state(
    task: TaskRecord,
    approval: Mapping[str, Any] | None,
    result: Mapping[str, Any] | None,
    now: float,
) -> TaskState:
    """The task's status from the approval item (``status``, ``decided_by``, ``slack_channel``) and the
    stored result (``result`` already decoded from ``result_json``)."""
    rid = task.request_id
    if task.status == "cancelled":
        return TaskState(
            status="cancelled", status_message=f"cancelled by the requester (request {rid})", updated_at=task.updated_at
        )
    if approval is None:
        return TaskState(
            status="working", status_message=waiting_message(task.channel, rid), updated_at=task.updated_at
        )
    status = _text(approval, "status")
    decided_at = _number(approval, "decided_at") or task.updated_at
    by = _text(approval, "decided_by") or "an approver"
    expires_at = _number(approval, "approval_expires_at") or task.approval_expires_at
    if status == "PENDING":
        if now >= expires_at:
            return TaskState(
                status="failed",
                status_message=f"approval expired (request {rid})",
                updated_at=expires_at,
                reason=ReasonCode.APPROVAL_EXPIRED,
            )
        channel = task.channel or _text(approval, "slack_channel")
        return TaskState(status="working", status_message=waiting_message(channel, rid), updated_at=task.updated_at)
    if status == "APPROVED":
        if result is None:
            return TaskState(
                status="working", status_message=f"approved by {by}; running (request {rid})", updated_at=decided_at
            )
        return TaskState(
            status="completed",
            status_message=f"approved by {by}; done (request {rid})",
            updated_at=decided_at,
            response=stored_response(rid, result),
        )
    if status == "DENIED":
        return TaskState(
            status="failed",
            status_message=f"denied by {by} (request {rid})",
            updated_at=decided_at,
            reason=ReasonCode.APPROVAL_DENIED,
        )
    if status == "CANCELLED":
        return TaskState(
            status="cancelled", status_message=f"cancelled by the requester (request {rid})", updated_at=decided_at
        )
    return TaskState(
        status="failed",
        status_message=f"approval expired (request {rid})",
        updated_at=decided_at,
        reason=ReasonCode.APPROVAL_EXPIRED,
    )


def wire_task(task_id: str, task: TaskRecord, state: TaskState, version: str) -> dict[str, Any]:
    """The Task object: ``ttl``/``pollInterval`` (2025-11-25) or ``ttlMs``/``pollIntervalMs`` (2026-07-28)."""
    modern = version in MODERN_TASKS_VERSIONS
    return {
        "taskId": task_id,
        "status": state.status,
        "statusMessage": state.status_message,
        "createdAt": iso(task.created_at),
        "lastUpdatedAt": iso(max(state.updated_at, task.created_at)),
        ("ttlMs" if modern else "ttl"): task.ttl_ms,
        ("pollIntervalMs" if modern else "pollInterval"): task.poll_interval_ms,
    }


def task_error(state: TaskState, request_id: str) -> dict[str, Any]:
    """The JSON-RPC error of a failed task: the reason code in ``data.reason``."""
    reason = (state.reason or ReasonCode.APPROVAL_DENIED).value
    return {
        "code": TASK_FAILED_CODE,
        "message": state.status_message,
        "data": {"reason": reason, "request_id": request_id},
    }


def create_result(task_id: str, task: TaskRecord, state: TaskState, version: str) -> dict[str, Any]:
    body = wire_task(task_id, task, state, version)
    if version in MODERN_TASKS_VERSIONS:
        return {"resultType": "task", **body}
    return {"task": body}


def get_result(
    task_id: str, task: TaskRecord, state: TaskState, version: str, tool_result: dict[str, Any] | None
) -> dict[str, Any]:
    """``tasks/get``: the Task; on 2026-07-28 a completed task carries ``result`` and a failed one ``error``."""
    body = wire_task(task_id, task, state, version)
    if version not in MODERN_TASKS_VERSIONS:
        return body
    out: dict[str, Any] = {"resultType": "complete", **body}
    if state.status == "completed" and tool_result is not None:
        out["result"] = tool_result
    if state.status == "failed":
        out["error"] = task_error(state, task.request_id)
    return out
