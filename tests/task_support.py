"""A tasks-capable MCP client on the official SDK: the 2026-07-28 ``io.modelcontextprotocol/tasks`` extension
(a ``ResultClaim`` for ``resultType: "task"`` whose resolver polls ``tasks/get``), the task requests with their
``Mcp-Name`` header, and the 2025-11-25 task-augmented ``tools/call`` (the SDK client has no task support on
that version: the augmented request goes through the session's own dispatcher with the negotiated headers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TERMINAL = ("completed", "failed", "cancelled")


class TaskIdParams(types.RequestParams):
    task_id: str


class GetTask(types.Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams
    name_param = "taskId"


class CancelTask(types.Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskIdParams
    name_param = "taskId"


class TaskResultRequest(types.Request[TaskIdParams, Literal["tasks/result"]]):
    method: Literal["tasks/result"] = "tasks/result"
    params: TaskIdParams
    name_param = "taskId"


class TaskHandle(types.Result):
    """``CreateTaskResult`` of the 2026-07-28 tasks extension."""

    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class AnyResult(types.Result):
    """Any result, every wire field kept (task objects carry fields the SDK does not model)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


async def get_task(client: Client, task_id: str) -> dict[str, Any]:
    result = await client.session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), AnyResult)
    return result.model_dump(by_alias=True, exclude_none=True)


async def cancel_task(client: Client, task_id: str) -> dict[str, Any]:
    result = await client.session.send_request(CancelTask(params=TaskIdParams(task_id=task_id)), AnyResult)
    return result.model_dump(by_alias=True, exclude_none=True)


async def task_result(client: Client, task_id: str) -> dict[str, Any]:
    result = await client.session.send_request(TaskResultRequest(params=TaskIdParams(task_id=task_id)), AnyResult)
    return result.model_dump(by_alias=True, exclude_none=True)


async def _resolve(handle: TaskHandle, ctx: ClaimContext) -> types.CallToolResult:
    """Poll tasks/get at the server's interval until the task ends; a completed task's result is the answer."""
    while True:
        got = await ctx.session.send_request(GetTask(params=TaskIdParams(task_id=handle.task_id)), AnyResult)
        task = got.model_dump(by_alias=True, exclude_none=True)
        if task["status"] == "completed":
            return types.CallToolResult.model_validate(task["result"])
        if task["status"] in TERMINAL:
            raise RuntimeError(f"task {task['status']}: {task.get('error')}")
        await anyio.sleep((handle.poll_interval_ms or 1000) / 1000)


class TasksExtension(ClientExtension):
    identifier = TASKS_EXTENSION

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=TaskHandle, resolve=_resolve)]


async def call_with_task(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tools/call that accepts a task: the 2026-07-28 handle, or the 2025-11-25 ``task`` of CreateTaskResult
    (returned as one dict with ``taskId`` and ``status``); a plain CallToolResult comes back as its dump."""
    if client.protocol_version == "2026-07-28":
        result = await client.session.call_tool(name, arguments, allow_claimed=True)
        return result.model_dump(by_alias=True, exclude_none=True)
    params = {"name": name, "arguments": arguments, "task": {"ttl": 3_600_000}}
    opts: dict[str, Any] = {"headers": {"mcp-protocol-version": client.protocol_version}}
    raw = await client.session._dispatcher.send_raw_request("tools/call", params, opts)  # type: ignore[arg-type]
    return dict(raw.get("task") or raw)


@asynccontextmanager
async def connect(url: str, token: str, version: str, *, tasks: bool = True) -> AsyncIterator[Client]:
    """A client pinned to ``version`` (2025-11-25: the initialize handshake; 2026-07-28: the modern envelope)."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    mode = "legacy" if version == "2025-11-25" else version
    extensions = [TasksExtension()] if tasks and version != "2025-11-25" else None
    async with Client(streamable_http_client(url, http_client=http), mode=mode, extensions=extensions) as client:
        assert client.protocol_version == version
        yield client
