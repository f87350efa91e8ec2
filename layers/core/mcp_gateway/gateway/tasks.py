"""MCP tasks on the gateway: a ``tools/call`` that needs review answers with a task when the client asked for
one (``domain.tasks.wants_task``), and ``tasks/get``, ``tasks/result`` (2025-11-25) and ``tasks/cancel`` report
on or stop it.

Installed on the lowlevel ``Server`` by ``install``: a server middleware wraps ``tools/call`` (the normal handler
runs first; only its *pending* answer becomes a task, so every other outcome is exactly today's), three request
handlers serve the task methods, and the capabilities advertise task support (2025-11-25 ``tasks``, 2026-07-28
the ``io.modelcontextprotocol/tasks`` extension). Every task request is authenticated by the edge like any MCP
request and is bound to the requester's ``sub`` (an approval outlives a 15-minute token); for anyone else a task
is "not found" (-32602), the same answer as for an unknown id.

``tasks/cancel`` by the requester: the approval item PENDING -> CANCELLED (a late click is then refused), the
task item cancelled, the approval workflow's execution stopped (StopExecution), the Slack message updated in
place and an audit record written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
)

from ..adapters.executions import ApprovalExecutions
from ..adapters.task_store import TaskStore
from ..domain.contracts import AuditRecord
from ..domain.errors import ReasonCode
from ..domain.models import Principal
from ..domain.slack import ApprovalView, build_decided_message
from ..domain.tasks import (
    MODERN_TASKS_VERSIONS,
    TASK_FAILED_CODE,
    TASK_NOT_FOUND_MESSAGE,
    TASKS_EXTENSION,
    TaskRecord,
    TaskState,
    create_result,
    get_result,
    new_record,
    new_task_id,
    task_state,
    waiting_message,
    wants_task,
    wire_task,
)
from ..observability import logger

SlackUpdate = Callable[[str, str, dict[str, Any]], None]  # (channel, ts, message) -> chat.update
AuditSink = Callable[[dict[str, Any]], Any]
ToolResult = Callable[[dict[str, Any]], types.CallToolResult]

TASK_CAPABILITY = types.ServerTasksCapability(
    cancel=types.TasksCancelCapability(),
    requests=types.ServerTasksRequestsCapability(tools=types.TasksToolsCapability(call=types.TasksCallCapability())),
)


def _principal(ctx: Any) -> Principal | None:
    state = getattr(getattr(ctx, "request", None), "state", None)
    principal = getattr(state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _pending(result: Any) -> dict[str, Any] | None:
    """The gateway's pending answer inside a serialized ``tools/call`` result, or None."""
    if not isinstance(result, Mapping):
        return None
    structured = result.get("structuredContent")
    if not isinstance(structured, Mapping) or structured.get("status") != "pending" or result.get("isError"):
        return None
    return dict(structured)


def _unset(value: Any) -> str:
    return "" if value in (None, "-") else str(value)


def view_from_item(item: Mapping[str, Any], channel: str) -> ApprovalView:
    """What the approver sees, rebuilt from a decoded approvals item (for chat.update)."""
    return ApprovalView(
        request_id=str(item.get("pk", "")),
        request_hash=str(item.get("request_hash", "")),
        requester_email=str(item.get("requester", "")),
        action=str(item.get("action", "")),
        resources=tuple(json.loads(str(item.get("resources_json") or "[]"))),
        parameters_json=str(item.get("parameters_json") or "{}"),
        rule_id=str(item.get("rule_id", "")),
        reason=str(item.get("reason", "")),
        trigger=_unset(item.get("trigger")),
        tool=_unset(item.get("tool")),
        expires_at=float(item.get("approval_expires_at") or 0),
        channel=str(item.get("slack_channel") or channel),
    )


class TaskService:
    """Creates, reports on and cancels approval tasks. Stateless: every answer is read from DynamoDB."""

    def __init__(
        self,
        store: TaskStore,
        executions: ApprovalExecutions,
        *,
        channel: Callable[[], str],
        slack_update: SlackUpdate | None,
        audit: AuditSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.executions = executions
        self.channel = channel
        self.slack_update = slack_update
        self.audit = audit
        self.clock = clock
        self.to_call_result: ToolResult | None = None

    # --- creation ---------------------------------------------------------------------------------------
    def create(self, principal: Principal, tool: str, pending: dict[str, Any]) -> tuple[str, TaskRecord]:
        now = self.clock()
        try:
            channel = self.channel()
        except Exception:  # noqa: BLE001 - the channel name is only shown; the task works without it
            channel = ""
        expires_at = float((pending.get("approval") or {}).get("expires_at") or now)
        task_id = new_task_id()
        record = new_record(
            task_id,
            request_id=str(pending["request_id"]),
            sub=principal.sub,
            requester=principal.email,
            tool=tool,
            channel=channel,
            now=now,
            approval_expires_at=expires_at,
        )
        self.store.put(record)  # durable (a consistent write) before the handle is returned
        return task_id, record

    # --- reads ----------------------------------------------------------------------------------------------
    def load(self, principal: Principal, task_id: str) -> tuple[TaskRecord, TaskState]:
        """The caller's own task and its state; anyone else's (or an unknown id) is not found."""
        record = self.store.get(task_id) if isinstance(task_id, str) and 0 < len(task_id) <= 128 else None
        if record is None or record.sub != principal.sub:
            raise MCPError(code=INVALID_PARAMS, message=TASK_NOT_FOUND_MESSAGE)
        approval = self.store.approval(record.request_id)
        result = self.store.result(record.request_id) if approval and approval.get("status") == "APPROVED" else None
        return record, task_state(record, approval, result, self.clock())

    def tool_result(self, state: TaskState) -> dict[str, Any] | None:
        if state.response is None or self.to_call_result is None:
            return None
        result = self.to_call_result(state.response)
        dumped: dict[str, Any] = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return dumped

    # --- cancellation ------------------------------------------------------------------------------------------
    def cancel(self, principal: Principal, task_id: str) -> tuple[TaskRecord, TaskState]:
        record, state = self.load(principal, task_id)
        if state.status != "working":
            return record, state  # already terminal: nothing to stop
        now = self.clock()
        approval = self.store.approval(record.request_id)
        if approval is not None and not self.store.cancel_approval(record.request_id, record.requester, now):
            return self.load(principal, task_id)  # a decision won the race: report it
        self.store.mark_cancelled(task_id, now)
        stopped = self.executions.stop(record.request_id, f"cancelled by the requester ({principal.email})")
        self._update_message(record, now)
        self._audit_cancel(principal, record, now, stopped)
        return self.load(principal, task_id)

    def _update_message(self, record: TaskRecord, now: float) -> None:
        item = self.store.approval(record.request_id)
        if self.slack_update is None or item is None:
            return
        ts = str(item.get("slack_ts") or "")
        if not ts or ts == "-":
            return
        try:
            view = view_from_item(item, record.channel or "-")
            message = build_decided_message(view, "cancelled", record.requester, now)
            self.slack_update(view.channel, ts, message)
        except Exception as exc:  # noqa: BLE001 - the cancellation stands; the message stays as it was
            logger.error("chat.update after cancel failed", extra={"error": type(exc).__name__})

    def _audit_cancel(self, principal: Principal, record: TaskRecord, now: float, stopped: bool) -> None:
        base = AuditRecord.callback(
            request_id=f"cancel-{record.request_id}",
            reason=ReasonCode.APPROVAL_CANCELLED,
            accepted=True,
            now=now,
            target_request_id=record.request_id,
            decision="CANCELLED",
        )
        audited = base.model_copy(
            update={
                "user_email": principal.email,
                "groups": list(principal.groups),
                "token_id": principal.token_id,
                "tool": record.tool,
                "service": "mcp",
                "action": "gateway:CancelTask",
                "rule_id": "approval.cancelled",
                "approver": principal.email,
                "workflow_error": "" if stopped else "execution-not-running",
            }
        )
        try:
            self.audit(audited.model_dump(mode="json"))
        except Exception:  # noqa: BLE001 - the cancellation already happened; record the failure in the logs
            logger.error("cancel audit write failed", extra={"request_id": record.request_id})


# --- the MCP surface -----------------------------------------------------------------------------------------
def _require(ctx: Any) -> Principal:
    principal = _principal(ctx)
    if principal is None:  # the edge authenticates first; a second, independent guard
        raise MCPError(code=INVALID_REQUEST, message="not authenticated")
    return principal


def _check_modern(ctx: Any, task_id: str) -> None:
    """2026-07-28: the client must have declared the extension, and ``Mcp-Name`` must carry the task id."""
    if ctx.protocol_version not in MODERN_TASKS_VERSIONS:
        return
    caps = (ctx.meta or {}).get("io.modelcontextprotocol/clientCapabilities")
    extensions = caps.get("extensions") if isinstance(caps, Mapping) else None
    if not (isinstance(extensions, Mapping) and TASKS_EXTENSION in extensions):
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message="this method needs the io.modelcontextprotocol/tasks extension",
            data={"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
        )
    headers = getattr(getattr(ctx, "request", None), "headers", None)
    if headers is not None and headers.get("mcp-name") != task_id:
        raise MCPError(code=HEADER_MISMATCH, message="mcp-name header does not match the request's taskId")


def install(server: Server[Any], service: TaskService, to_call_result: ToolResult) -> None:
    """Wire ``service`` into ``server``: the tools/call middleware, the task methods and the capabilities."""
    service.to_call_result = to_call_result

    async def tools_call_middleware(ctx: Any, call_next: Any) -> Any:
        if ctx.method != "tools/call" or not wants_task(ctx.protocol_version, ctx.params, ctx.meta):
            return await call_next(ctx)
        result = await call_next(ctx)
        pending = _pending(result)
        principal = _principal(ctx)
        if pending is None or principal is None:
            return result  # only a call that waits for a human becomes a task
        tool = str((ctx.params or {}).get("name", ""))
        task_id, record = await anyio.to_thread.run_sync(service.create, principal, tool, pending)
        state = TaskState(
            status="working",
            status_message=waiting_message(record.channel, record.request_id),
            updated_at=record.created_at,
        )
        logger.info("approval task created", extra={"request_id": record.request_id, "tool": tool})
        out = create_result(task_id, record, state, ctx.protocol_version)
        if ctx.protocol_version in MODERN_TASKS_VERSIONS:
            out["_meta"] = {"io.modelcontextprotocol/serverInfo": server.server_info_stamp}
        return out

    async def on_get(ctx: Any, params: types.GetTaskRequestParams) -> dict[str, Any]:
        principal = _require(ctx)
        _check_modern(ctx, params.task_id)
        record, state = await anyio.to_thread.run_sync(service.load, principal, params.task_id)
        return get_result(params.task_id, record, state, ctx.protocol_version, service.tool_result(state))

    async def on_result(ctx: Any, params: types.GetTaskPayloadRequestParams) -> dict[str, Any]:
        if ctx.protocol_version in MODERN_TASKS_VERSIONS:  # 2026-07-28 removed it: the completed task carries it
            raise MCPError(code=METHOD_NOT_FOUND, message="Method not found")
        principal = _require(ctx)
        record, state = await anyio.to_thread.run_sync(service.load, principal, params.task_id)
        related = {"io.modelcontextprotocol/related-task": {"taskId": params.task_id}}
        if state.status == "completed":
            return {**(service.tool_result(state) or {}), "_meta": related}
        if state.status in ("failed", "cancelled"):
            reason = state.reason or ReasonCode.APPROVAL_CANCELLED
            raise MCPError(
                code=TASK_FAILED_CODE,
                message=state.status_message,
                data={"reason": reason.value, "request_id": record.request_id},
            )
        # A Lambda cannot hold the request open for a human: the caller polls tasks/get (pollInterval).
        raise MCPError(
            code=INVALID_REQUEST, message="task is still working; poll tasks/get", data={"status": state.status}
        )

    async def on_cancel(ctx: Any, params: types.CancelTaskRequestParams) -> dict[str, Any]:
        principal = _require(ctx)
        _check_modern(ctx, params.task_id)
        record, state = await anyio.to_thread.run_sync(service.cancel, principal, params.task_id)
        if ctx.protocol_version in MODERN_TASKS_VERSIONS:
            return {"resultType": "complete"}
        if state.status != "cancelled":
            raise MCPError(
                code=INVALID_PARAMS, message=f"task is already {state.status}", data={"status": state.status}
            )
        return wire_task(params.task_id, record, state, ctx.protocol_version) | {"taskId": params.task_id}

    async def on_update(ctx: Any, params: types.GetTaskRequestParams) -> dict[str, Any]:
        """2026-07-28 ``tasks/update`` (input for a task that asked for it): a gateway task waits for an approver,
        never for the caller's input, so a declaring client's update is refused like an unknown task's."""
        _require(ctx)
        _check_modern(ctx, params.task_id)
        if ctx.protocol_version not in MODERN_TASKS_VERSIONS:
            raise MCPError(code=METHOD_NOT_FOUND, message="Method not found")
        raise MCPError(code=INVALID_PARAMS, message="this task takes no input", data={"taskId": params.task_id})

    server.middleware.append(tools_call_middleware)
    server.add_request_handler("tasks/update", types.GetTaskRequestParams, on_update)
    server.add_request_handler("tasks/get", types.GetTaskRequestParams, on_get)
    server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, on_result)
    server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, on_cancel)
    server.extensions[TASKS_EXTENSION] = {}
    original = server.get_capabilities

    def get_capabilities(*args: Any, **kwargs: Any) -> types.ServerCapabilities:
        capabilities = original(*args, **kwargs)
        version = kwargs.get("protocol_version")
        if version in MODERN_TASKS_VERSIONS:
            return capabilities
        return capabilities.model_copy(update={"tasks": TASK_CAPABILITY})

    server.get_capabilities = get_capabilities  # type: ignore[method-assign]
