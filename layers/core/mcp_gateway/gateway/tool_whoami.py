"""The ``whoami`` tool: who the gateway thinks the caller is, and how much of each quota is left right now.

Identity and groups come from the verified session token. Quotas are the policy's limits for the caller's
groups, and the use so far is read from the caller's own counter items in the rate-limit table (the same
keys the workflow's conditional updates write). The plan is ``domain/quota.py``, shared with ``mcp-gateway
quota``; the counters come through ``ports.QuotaStorePort``. It reads nothing else: no other user's counters,
no AWS data, and it starts no workflow. If the counters cannot be read, the limits are still returned with
``used: null`` and ``quota_status: "unavailable"`` (the workflow itself then fails closed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from pydantic import ValidationError

from ..domain import quota
from ..domain.catalog import ToolInput
from ..domain.errors import ReasonCode
from ..domain.models import Principal
from ..domain.policy import Policy
from ..domain.ports import QuotaStorePort
from .mcp_server import error_result

NAME = "whoami"


class WhoAmIInput(ToolInput):
    pass


_QUOTA = {
    "type": "object",
    "properties": {
        "scope": {"type": "string", "description": "a rate tier (read, list, write), all, bytes or objects"},
        "limit": {"type": "integer"},
        "used": {
            "anyOf": [{"type": "integer"}, {"type": "null"}],
            "description": "null when the counters could not be read",
        },
        "remaining": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "window_seconds": {"type": "integer"},
        "resets_in_seconds": {"type": "integer"},
    },
    "required": ["scope", "limit", "used", "remaining", "window_seconds", "resets_in_seconds"],
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "groups": {"type": "array", "items": {"type": "string"}},
        "token_id": {"type": "string"},
        "session_expires_at": {"type": "integer"},
        "session_expires_in_seconds": {"type": "integer"},
        "policy_version": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "sees_pii": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
        "quota_status": {"type": "string", "enum": ["ok", "unavailable"]},
        "rate_limits": {"type": "array", "items": _QUOTA},
        "data_budgets": {"type": "array", "items": _QUOTA},
        "data_limits": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "required": ["email", "groups", "quota_status", "rate_limits", "data_budgets"],
}


def definition() -> types.Tool:
    schema = WhoAmIInput.model_json_schema()
    schema["additionalProperties"] = False
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return types.Tool(
        name=NAME,
        title="Who am I",
        description=(
            "Your identity as the gateway sees it (e-mail, groups, session expiry) and your remaining quotas "
            "right now: requests per rate tier and overall, bytes returned today, objects read per window. "
            "Use it to understand a THROTTLED or DATA_BUDGET_EXCEEDED answer. Starts no AWS call."
        ),
        input_schema=schema,
        output_schema=OUTPUT_SCHEMA,
        annotations=types.ToolAnnotations(
            title="Who am I",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )


class WhoAmITool:
    def __init__(
        self,
        quotas: QuotaStorePort | None,
        load_policy: Callable[[], Policy],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.quotas = quotas  # None: no rate-limit table configured, quotas shown as unavailable
        self.load_policy = load_policy
        self.clock = clock
        self._policy: Policy | None = None

    def _policy_or_none(self) -> Policy | None:
        if self._policy is None:
            try:
                self._policy = self.load_policy()
            except Exception:  # noqa: BLE001 - no policy: identity only, quotas unknown
                return None
        return self._policy

    def describe(self, principal: Principal) -> dict[str, Any]:
        now = self.clock()
        groups = list(principal.groups)
        policy = self._policy_or_none()
        out: dict[str, Any] = {
            "email": principal.email,
            "groups": groups,
            "token_id": principal.token_id,
            "session_expires_at": principal.expires_at,
            "session_expires_in_seconds": max(0, int(principal.expires_at - now)),
            "policy_version": policy.version if policy is not None else None,
            "sees_pii": policy.sees_pii(groups) if policy is not None else None,
            "quota_status": "ok",
            "rate_limits": [],
            "data_budgets": [],
        }
        if policy is None:
            out["quota_status"] = "unavailable"
            return out
        usages, complete = quota.measure(quota.quota_plan(policy, principal.email, groups, now), self.quotas)
        if not complete:
            out["quota_status"] = "unavailable"
        for usage in usages:
            line = usage.line
            entry = {
                "scope": line.scope,
                "limit": line.limit,
                "used": usage.used,
                "remaining": usage.remaining,
                "window_seconds": line.window_seconds,
                "resets_in_seconds": line.resets_in_seconds,
            }
            out["data_budgets" if line.kind == "data" else "rate_limits"].append(entry)
        limits = policy.data_limits_for(groups)
        out["data_limits"] = {
            "max_object_bytes": limits.max_object_bytes,
            "max_log_time_range_seconds": limits.max_log_time_range_seconds,
            "max_result_bytes": limits.max_result_bytes,
        }
        return out

    async def __call__(self, principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            WhoAmIInput.model_validate(arguments)
        except ValidationError as exc:
            errors = [{"field": ".".join(str(p) for p in e["loc"]), "type": e["type"]} for e in exc.errors()[:10]]
            return error_result(ReasonCode.INVALID_INPUT, "arguments do not match the tool's schema", errors=errors)
        try:
            out = await anyio.to_thread.run_sync(self.describe, principal)
        except Exception:  # noqa: BLE001 - fail closed without details
            return error_result(ReasonCode.INTERNAL_ERROR, "identity is unavailable")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(out, default=str))],
            structured_content=out,
            is_error=False,
        )
