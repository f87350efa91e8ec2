"""The one function that turns a tool call into the canonical ``ActionRequest``.

A real ``tools/call`` (``mcp_server``), ``explain_policy``, ``mcp-gateway policy explain`` and the benchmark
all build their request here, so an explanation is always about the very request a real call would send:
the registry's input model and action mapping, the intent (argument, else the call's ``_meta``), and for
tools that take free-form API parameters (``call_aws``) the botocore service-model check.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ..adapters.service_model import validate_call
from ..domain.models import ActionRequest, CallContext, Principal
from ..domain.tracing import traceparent_of
from ..tools import REGISTRY
from .idempotency import request_id_for


def new_request_id() -> str:
    return f"req-{uuid.uuid4().hex}"


def intent_of(arguments: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments with ``intent`` filled from the call's ``_meta`` (intent, else prompt) when absent."""
    args = dict(arguments)
    meta = meta or {}
    intent = args.get("intent") or meta.get("intent") or meta.get("prompt") or ""
    if isinstance(intent, str) and intent and "intent" not in args:
        args["intent"] = intent
    return args


def build_request(
    tool: str,
    arguments: dict[str, Any],
    principal: Principal,
    *,
    region: str,
    account: str,
    now: float,
    meta: dict[str, Any] | None = None,
    context: CallContext | None = None,
    check_api_model: bool = True,
) -> ActionRequest:
    """The canonical request for ``tool`` called with ``arguments`` by ``principal`` at ``now``.

    Raises ValidationError (arguments), InvalidInputError (unknown tool, bad time) or ServiceModelError (an
    InvalidInputError: call_aws parameters that do not match the AWS API; ``errors`` names the fields).
    ``check_api_model=False`` skips only that last check: for tests that feed the policy engine requests the
    gateway would refuse earlier (defence in depth).
    """
    parsed, action = REGISTRY.resolve(
        tool, intent_of(arguments, meta), region, account, dt.datetime.fromtimestamp(now, tz=dt.UTC)
    )
    spec = REGISTRY.get(tool)
    if check_api_model and spec is not None and spec.check_api_model:
        validate_call(action.service, action.operation, action.api_params)
    return ActionRequest(
        request_id=request_id_for(principal, meta) or new_request_id(),  # _meta.idempotency_key: the same id
        tool=tool,
        service=action.service,
        operation=action.operation,
        action=action.action,
        parameters=action.api_params,
        resources=action.resources,
        intent=parsed.intent,
        principal=principal,
        context=_traced(context or CallContext(), meta),
        requested_at=now,
    )


def _traced(context: CallContext, meta: dict[str, Any] | None) -> CallContext:
    """The call's context with its W3C trace: ``_meta.traceparent`` when valid, else the HTTP header's."""
    trace = traceparent_of(meta, context.traceparent)
    return context if trace == context.traceparent else context.model_copy(update={"traceparent": trace})
