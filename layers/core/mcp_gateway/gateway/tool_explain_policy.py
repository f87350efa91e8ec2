"""The ``explain_policy`` tool: would this tool call be allowed, and why. Read-only: nothing is executed.

The caller names a catalog tool and the arguments it would send. The tool builds the very ``ActionRequest``
a real call builds (same catalog mapping, same intent handling, the caller's own identity and groups) and
answers with ``explain``: the decision ``evaluate`` gives (outcome, reason code, rule id), every rule that
matched, a hint toward a safer request, and the actions the caller may use. The policy is the one the
gateway loaded at cold start; if it failed to load, the answer is DENY ``POLICY_UNAVAILABLE``, as for a
real call. Rate limits and data budgets are not consumed (and not predicted) by an explanation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import mcp_types as types
from pydantic import Field, StringConstraints, ValidationError

from ..domain.errors import GatewayError, ReasonCode
from ..domain.models import ActionRequest, CallContext, Principal, StrictModel
from ..domain.policy import Explanation, Policy, deny_everything, explain
from ..tools import TOOLS
from .mcp_server import error_result, schema_errors
from .requests import build_request

NAME = "explain_policy"


class ExplainPolicyInput(StrictModel):
    tool: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the tool you would call, e.g. get_object or call_aws"
    )
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="the arguments you would pass to that tool (including intent)"
    )


OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tool": {"type": "string"},
        "action": {"type": "string"},
        "resources": {"type": "array", "items": {"type": "string"}},
        "decision": {"type": "object"},
        "matched": {"type": "array", "items": {"type": "object"}},
        "hint": {"type": "string"},
        "allowed_actions": {"type": "array", "items": {"type": "string"}},
        "access_level": {"type": "string"},
        "session": {"type": "string"},
        "executed": {"type": "boolean"},
    },
    "required": ["tool", "decision", "executed"],
}


def definition() -> types.Tool:
    schema = ExplainPolicyInput.model_json_schema()
    schema["additionalProperties"] = False
    return types.Tool(
        name=NAME,
        title="Explain policy",
        description=(
            "Check whether a tool call would be allowed, without running it: give the tool name and the "
            "arguments you would send. Answers with the decision (ALLOW, REVIEW or DENY), its reason code "
            "and the id of the deciding rule (the same a real call would get), every rule that matched, a "
            "hint toward a request that would be allowed, and the actions you may use."
        ),
        input_schema=schema,
        output_schema=OUTPUT_SCHEMA,
        annotations=types.ToolAnnotations(
            title="Explain policy",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )


def action_request(
    tool: str,
    arguments: dict[str, Any],
    principal: Principal,
    *,
    region: str,
    account: str,
    now: float,
    meta: dict[str, Any] | None = None,
    context: CallContext | None = None,
) -> ActionRequest:
    """The canonical request a real ``tools/call`` of ``tool`` builds (``requests.build_request``), without
    the call_aws service-model gate: for feeding the policy engine requests the gateway refuses earlier.
    Raises ValidationError (arguments) or GatewayError (unknown tool, bad time)."""
    return build_request(
        tool,
        arguments,
        principal,
        region=region,
        account=account,
        now=now,
        meta=meta,
        context=context,
        check_api_model=False,
    )


def explanation_payload(tool: str, request: ActionRequest | None, explanation: Explanation) -> dict[str, Any]:
    """What the tool (and ``mcp-gateway policy explain``) answers. Never the matched text itself."""
    return {
        "tool": tool,
        "action": request.action if request else "",
        "resources": list(request.resources) if request else [],
        "decision": explanation.decision.model_dump(mode="json"),
        "matched": [m.model_dump(mode="json") for m in explanation.matched],
        "hint": explanation.hint,
        "allowed_actions": list(explanation.allowed_actions),
        "access_level": explanation.access_level,
        "session": explanation.session,  # the one input an explanation does not replay (issue 21)
        "executed": False,
    }


def explain_call(
    policy: Policy | None,
    policy_error: str,
    tool: str,
    request: ActionRequest,
) -> dict[str, Any]:
    if policy is None:
        decision = deny_everything(policy_error or "policy unavailable")
        return explanation_payload(tool, request, Explanation(decision=decision, hint=decision.hint))
    return explanation_payload(tool, request, explain(policy, request))


class ExplainPolicyTool:
    def __init__(
        self,
        policy: Policy | None,
        policy_error: str,
        *,
        region: str,
        account: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.policy_error = policy_error
        self.region = region
        self.account = account
        self.clock = clock

    async def __call__(self, principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            args = ExplainPolicyInput.model_validate(arguments)
        except ValidationError as exc:
            errors = schema_errors(exc)
            return error_result(ReasonCode.INVALID_INPUT, "arguments do not match the tool's schema", errors=errors)
        if args.tool not in TOOLS:
            return error_result(ReasonCode.UNKNOWN_TOOL, "explain_policy explains the AWS tools only", tool=args.tool)
        try:
            request = build_request(
                args.tool,
                args.arguments,
                principal,
                region=self.region,
                account=self.account,
                now=self.clock(),
            )
        except ValidationError as exc:
            errors = schema_errors(exc)
            return error_result(
                ReasonCode.INVALID_INPUT, "arguments do not match the explained tool's schema", errors=errors
            )
        except GatewayError as exc:
            return error_result(exc.code, exc.message)
        try:
            out = explain_call(self.policy, self.policy_error, args.tool, request)
        except Exception:  # noqa: BLE001 - fail closed without details
            return error_result(ReasonCode.INTERNAL_ERROR, "the policy could not be explained")
        _log(principal, out)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(out, default=str))],
            structured_content=out,
            is_error=False,
        )


def _log(principal: Principal, out: dict[str, Any]) -> None:
    from ..observability import logger

    decision = out["decision"]
    logger.info(
        "explain_policy",
        extra={
            "user_email": principal.email,
            "action": out["action"],
            "decision": decision["outcome"],
            "reason": decision["reason"],
            "rule_id": decision["rule_id"],
        },
    )
