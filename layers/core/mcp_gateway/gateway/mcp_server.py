"""The MCP server: tools from the registry (``mcp_gateway.tools``), each AWS tool call run through the request
workflow, each gateway-local tool answered by the handler the wiring injected.

Built once per instance (the tool list and schemas); the Starlette app is built per invocation, as the
streamable-HTTP session manager can only run once. The verified principal reaches tool calls through the
ASGI scope state, set by the HTTP edge after authentication.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from pydantic import ValidationError

from ..adapters.service_model import ServiceModelError
from ..domain.errors import GatewayError, ReasonCode
from ..domain.models import CallContext, Principal
from ..domain.redaction import RedactionConfig, Redactor
from ..observability import bound, logger
from ..tools import REGISTRY, Tool
from .requests import build_request, new_request_id
from .tasks import TaskService
from .tasks import install as install_tasks

__all__ = [
    "build_server",
    "call_tool_handler",
    "error_result",
    "new_request_id",
    "output_schema",
    "to_call_result",
    "tool_definition",
]

Runner = Callable[[dict[str, Any]], dict[str, Any]]

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "pending", "denied", "throttled", "error"]},
        "result": {"description": "the tool's data, redacted"},
        "redactions": {"type": "object", "additionalProperties": {"type": "integer"}},
        "truncated": {"type": "boolean"},
        "continuation": {
            "type": "object",
            "description": "arguments that continue from where this page stopped",
        },
        "result_reason": {"type": "string"},
        "result_message": {"type": "string"},
        "decision": {"type": "object"},
        "approval": {"type": "object"},
        "audit": {"type": "string"},
    },
    "required": ["request_id", "status"],
}


def output_schema(spec: Tool) -> dict[str, Any]:
    """The envelope, with ``result`` typed by the tool's output model. It is absent while pending approval,
    never null: :func:`to_call_result` drops the envelope's None values, so the type stays one object."""
    result = {**spec.result_schema, "description": "the tool's data, redacted"}
    return {**OUTPUT_SCHEMA, "properties": {**OUTPUT_SCHEMA["properties"], "result": result}}


def tool_definition(spec: Tool) -> types.Tool:
    schema = spec.input_model.model_json_schema()
    schema["additionalProperties"] = False
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=schema,
        output_schema=output_schema(spec),
        # 2025-11-25: a call may be task-augmented (it becomes a task only when it waits for a human).
        execution=types.ToolExecution(task_support="optional"),
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=spec.annotations.read_only,
            destructive_hint=spec.annotations.destructive,
            idempotent_hint=spec.annotations.idempotent,
            open_world_hint=spec.annotations.open_world,
        ),
    )


# Argument names the caller invented (unknown fields) are echoed only when they look like a name (letters,
# '_' or '-'; e.g. a typo like "Prefixx"): an agent can put a secret there, and secrets carry digits or symbols.
_UNEXPECTED_TYPES = frozenset({"extra_forbidden", "unknown_parameter"})
_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z_-]{0,63}")
_ERROR_REDACTOR = Redactor(RedactionConfig(pii_classes=frozenset()))


def _safe_errors(errors: Any) -> Any:
    if not isinstance(errors, list):
        return errors
    out = []
    for e in errors:
        if isinstance(e, dict) and e.get("type") in _UNEXPECTED_TYPES:
            parent, _, name = str(e.get("field", "")).rpartition(".")
            name = name if _NAME_LIKE.fullmatch(name) else "<unexpected>"
            out.append({**e, "field": f"{parent}.{name}" if parent else name})
        else:
            out.append(e)
    return out


#: What a schema error may add from pydantic's context: the schema's own values (allowed values, pattern,
#: bounds), never the caller's input.
_SCHEMA_CONTEXT = {
    "expected": "allowed",
    "pattern": "pattern",
    "ge": "min",
    "gt": "greater_than",
    "le": "max",
    "lt": "less_than",
    "min_length": "min_length",
    "max_length": "max_length",
    "multiple_of": "multiple_of",
}
_NO_CONTEXT_TYPES = frozenset({"value_error", "assertion_error"})  # validators' own messages may quote input


def schema_errors(exc: ValidationError, limit: int = 10) -> list[dict[str, Any]]:
    """Pydantic's errors as the agent sees them: the field, the error type and what the schema allows (the
    allowed values, the pattern, the bounds), never the rejected input or a name the caller invented."""
    out: list[dict[str, Any]] = []
    for e in exc.errors(include_input=False, include_url=False)[:limit]:
        item: dict[str, Any] = {"field": ".".join(str(p) for p in e["loc"]), "type": e["type"]}
        context = e.get("ctx") or {}
        if e["type"] not in _NO_CONTEXT_TYPES:
            for key, name in _SCHEMA_CONTEXT.items():
                value = context.get(key)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    item[name] = value if not isinstance(value, str) else value[:512]
        out.append(item)
    return out


def error_result(reason: ReasonCode | str, message: str, **extra: Any) -> types.CallToolResult:
    """An error the agent sees: a reason code, a message and details, never a secret the caller sent."""
    code = reason.value if isinstance(reason, ReasonCode) else reason
    if "errors" in extra:
        extra["errors"], _ = _ERROR_REDACTOR.redact_value(_safe_errors(extra["errors"]), pii=False)
    message = _ERROR_REDACTOR.redact_text(message, pii=False).text
    payload = {"error": {"reason": code, "message": message, **extra}}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(payload, ensure_ascii=False))],
        is_error=True,
    )


def to_call_result(response: dict[str, Any]) -> types.CallToolResult:
    status = response.get("status")
    decision = response.get("decision") or {}
    if status in ("ok", "pending"):
        structured = {k: v for k, v in response.items() if v is not None}
        text = json.dumps(structured, default=str, ensure_ascii=False)  # UTF-8 text as is, never \\u-escaped
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content=structured,
            is_error=False,
        )
    reason = decision.get("reason") if status in ("denied", "throttled") else response.get("result_reason")
    return error_result(
        str(reason or decision.get("reason") or ReasonCode.EXECUTION_ERROR.value),
        str(decision.get("message") or response.get("result_message") or status),
        request_id=response.get("request_id"),
        status=status,
        rule_id=decision.get("rule_id", ""),
        hint=decision.get("hint", ""),
        limits=decision.get("limits") or {},
    )


LocalHandler = Callable[[Principal, dict[str, Any]], Awaitable[types.CallToolResult]]


def call_tool_handler(
    run_workflow: Runner,
    *,
    region: str,
    account: str,
    clock: Callable[[], float] = time.time,
    local_tools: dict[str, LocalHandler] | None = None,
) -> Callable[[Any, types.CallToolRequestParams], Awaitable[types.CallToolResult]]:
    """``tools/call``, dispatched through the registry: a gateway-local tool to its injected handler, an
    AWS tool to the request workflow with the canonical request (``requests.build_request``)."""
    extras = dict(local_tools or {})
    unregistered = sorted(set(extras) - set(REGISTRY.local))
    if unregistered:  # every tool is declared in the registry; a handler alone does not make one
        raise ValueError(f"gateway-local tools not in the registry: {unregistered}")

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        principal = _principal(ctx)
        if principal is None:  # the edge authenticates first; this is a second, independent guard
            return error_result(ReasonCode.AUTH_MISSING, "not authenticated")
        arguments = dict(params.arguments or {})
        if params.name in REGISTRY.local:
            local = extras.get(params.name)
            if local is None:  # registered but not wired in this server
                return error_result(ReasonCode.UNKNOWN_TOOL, "unknown tool; tools/list names the tools")
            return await local(principal, arguments)
        try:
            request = build_request(
                params.name,
                arguments,
                principal,
                region=region,
                account=account,
                now=clock(),
                meta=_meta_dict(params),
                context=_call_context(ctx),
            )
        except ValidationError as exc:
            errors = schema_errors(exc)
            return error_result(ReasonCode.INVALID_INPUT, "arguments do not match the tool's schema", errors=errors)
        except ServiceModelError as exc:  # call_aws checked against botocore's service model
            return error_result(ReasonCode.INVALID_INPUT, exc.message, errors=exc.errors)
        except GatewayError as exc:
            if REGISTRY.get(params.name) is None:  # never echo the name: it is the caller's text
                return error_result(ReasonCode.UNKNOWN_TOOL, "unknown tool; tools/list names the tools")
            return error_result(exc.code, exc.message)
        payload = {"request": request.model_dump(mode="json")}
        # the caller's trace (its _meta, else the HTTP header) on the gateway's lines for this call
        with bound(step="gateway", request_id=request.request_id, traceparent=request.context.traceparent):
            response = await anyio.to_thread.run_sync(run_workflow, payload)
            logger.info("tools/call answered", extra={"tool": params.name, "status": response.get("status")})
        return to_call_result(response)

    return on_call_tool


def build_server(
    run_workflow: Runner,
    *,
    region: str,
    account: str,
    clock: Callable[[], float] = time.time,
    extra_tools: dict[str, LocalHandler] | None = None,
    extra_definitions: list[types.Tool] | None = None,
    tasks: TaskService | None = None,
) -> Server[Any]:
    on_call_tool = call_tool_handler(run_workflow, region=region, account=account, clock=clock, local_tools=extra_tools)
    definitions = [tool_definition(s) for s in REGISTRY.tools.values()] + list(extra_definitions or [])

    async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=definitions)

    # The Mcp-Param-* header check of a 2026-07-28 tools/call reads the tool's input schema here; without it the
    # SDK serves a whole tools/list (every definition serialised) on each call to find the same schema. The list
    # is the same for every caller, so this answers exactly what that listing would.
    input_schemas = {definition.name: definition.input_schema for definition in definitions}
    server: Server[Any] = Server(
        "mcp-aws-gateway",
        version="0.1.0",
        instructions=(
            "Read-only AWS debugging tools behind a security gateway. Every call is checked against policy, "
            "rate-limited and audited; state your reason in the `intent` argument. Make one explicit request "
            "per action: chained or looping requests are refused. Results are redacted."
        ),
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        get_tool_input_schema=input_schemas.get,
    )
    if tasks is not None:  # a call that waits for a human answers with an MCP task (gateway/tasks.py)
        install_tasks(server, tasks, to_call_result)
    return server


def _principal(ctx: Any) -> Principal | None:
    request = getattr(ctx, "request", None)
    state = getattr(request, "state", None)
    principal = getattr(state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _call_context(ctx: Any) -> CallContext:
    request = getattr(ctx, "request", None)
    state = getattr(request, "state", None)
    context = getattr(state, "call_context", None)
    return context if isinstance(context, CallContext) else CallContext()


def _meta_dict(params: types.CallToolRequestParams) -> dict[str, Any]:
    meta = getattr(params, "meta", None)
    if meta is None:
        return {}
    if hasattr(meta, "model_dump"):
        dumped = meta.model_dump(by_alias=True)
        return dumped if isinstance(dumped, dict) else {}
    return dict(meta) if isinstance(meta, dict) else {}
