"""The ``get_request_status`` tool: the state of a request and, once a flagged one ran, its (redacted) result.

Reads the approvals table (status) and the results table (what the approval workflow stored for the
requester), through ``ports.RequestStorePort``. A request that needed no approval (an allowed call whose
answer the gateway did not get: "in progress / unknown, look it up with get_request_status", issue 20) has
no approvals item; its truth is the audit trail: the workflow's own outcome (``done`` or ``denied``, with
``result_status``), else the gateway's record of the call while the workflow has none yet (``in_progress``).
Only the requester can read either: for anyone else the answer is the same NOT_FOUND as for an unknown id, so
the tool is no oracle for other users' request ids. Never returns the task token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anyio
import mcp_types as types
from pydantic import Field, ValidationError

from ..domain.audit import GATEWAY_STAGE
from ..domain.errors import ReasonCode
from ..domain.models import Principal, RequestId, StrictModel
from ..domain.ports import RequestStorePort
from .mcp_server import error_result, schema_errors

NAME = "get_request_status"
_STATUS = {"PENDING": "pending", "APPROVED": "approved", "DENIED": "denied", "EXPIRED": "expired"}
#: One stored audit record of a request by sort key (``AuditStore.outcome``), or None.
OutcomeLookup = Callable[[str, str], dict[str, Any] | None]


class RequestStatusInput(StrictModel):
    request_id: RequestId = Field(description="the request_id a pending tool call returned")


OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "approved", "denied", "expired", "in_progress", "done"]},
        "expires_at": {"type": "integer"},
        "decided_at": {"type": "integer"},
        "decided_by": {"type": "string"},
        "executed": {"type": "boolean"},
        "result_status": {"type": "string"},
        "result": {
            "anyOf": [{"type": "object"}, {"type": "null"}],
            "description": "the tool's data, redacted (null when the execution returned none)",
        },
        "result_reason": {"type": "string"},
        "redactions": {"type": "object", "additionalProperties": {"type": "integer"}},
        "truncated": {"type": "boolean"},
    },
    "required": ["request_id", "status", "executed"],
}


def definition() -> types.Tool:
    schema = RequestStatusInput.model_json_schema()
    schema["additionalProperties"] = False
    return types.Tool(
        name=NAME,
        title="Get request status",
        description=(
            "Status of a request that needed human approval: pending, approved, denied or expired, and once "
            "an approved request has run, its redacted result. For a call answered 'in progress' (the gateway "
            "did not learn its outcome): in_progress while it runs, then done (executed, with result_status) "
            "or denied. Only the user who made the request can read it."
        ),
        input_schema=schema,
        output_schema=OUTPUT_SCHEMA,
        annotations=types.ToolAnnotations(
            title="Get request status",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    return value if isinstance(value, str) else ""


def _int(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return int(value)


class RequestStatusTool:
    def __init__(
        self,
        store: RequestStorePort,
        clock: Callable[[], float] = time.time,
        outcomes: OutcomeLookup | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.outcomes = outcomes  # None: only flagged requests are known

    def status(self, email: str, request_id: str) -> dict[str, Any] | None:
        """The status for ``email``'s own request, or None (unknown, or someone else's)."""
        item = self.store.approval(request_id)
        if item is None:
            return self._from_trail(email, request_id)
        if _text(item, "requester").casefold() != email.casefold():
            return None
        status = _STATUS.get(_text(item, "status"), "denied")
        expires_at = _int(item, "approval_expires_at") or 0
        if status == "pending" and self.clock() >= expires_at:
            status = "expired"  # callbacks are refused from now on; the workflow records it shortly
        out: dict[str, Any] = {
            "request_id": request_id,
            "status": status,
            "expires_at": expires_at,
            "executed": False,
        }
        if _int(item, "decided_at") is not None:
            out["decided_at"] = _int(item, "decided_at")
            out["decided_by"] = _text(item, "decided_by")
        if status == "approved":
            stored = self.store.result(request_id)
            if stored is not None and _text(stored, "requester").casefold() == email.casefold():
                result = json.loads(_text(stored, "result_json") or "{}")
                out["executed"] = True
                out["result_status"] = str(result.get("status", ""))
                out["result"] = result.get("data")
                out["result_reason"] = str(result.get("reason", ""))
                out["redactions"] = result.get("redactions") or {}
                out["truncated"] = bool(result.get("truncated", False))
        return out

    def _from_trail(self, email: str, request_id: str) -> dict[str, Any] | None:
        """A request with no approvals item, from the audit trail: the workflow's outcome is authoritative;
        without one, the gateway's own record of the call means it is still in progress (or its outcome is
        not written yet). None when neither is ``email``'s."""
        if self.outcomes is None:
            return None
        record = self.outcomes(request_id, "outcome")
        gateway = None if record is not None else self.outcomes(request_id, f"outcome#{GATEWAY_STAGE}")
        found = record if record is not None else gateway
        if found is None or _text(found, "user_email").casefold() != email.casefold():
            return None
        out: dict[str, Any] = {"request_id": request_id, "executed": False}
        result_status = _text(found, "status")
        if record is None and result_status == "pending":  # the gateway's view: the workflow has no outcome yet
            out["status"] = "in_progress"
            return out
        if result_status == "pending":  # flagged for review, its approvals item not readable yet
            out["status"] = "pending"
            return out
        executed = _text(found, "decision") == "ALLOW" and result_status in ("ok", "error")
        out["status"] = "done" if executed else "denied"
        out["executed"] = executed
        out["result_status"] = result_status
        out["result_reason"] = _text(found, "result_reason") or _text(found, "reason")
        if isinstance(found.get("redactions"), dict):
            out["redactions"] = found["redactions"]
        return out

    async def __call__(self, principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            args = RequestStatusInput.model_validate(arguments)
        except ValidationError as exc:
            errors = schema_errors(exc)
            return error_result(ReasonCode.INVALID_INPUT, "arguments do not match the tool's schema", errors=errors)
        try:
            out = await anyio.to_thread.run_sync(self.status, principal.email, args.request_id)
        except Exception:  # noqa: BLE001 - fail closed without details
            return error_result(ReasonCode.INTERNAL_ERROR, "request status is unavailable")
        if out is None:
            return error_result(ReasonCode.NOT_FOUND, "no such request for this user", request_id=args.request_id)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(out, default=str))],
            structured_content=out,
            is_error=False,
        )
