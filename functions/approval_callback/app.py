"""Approval callback: Slack's interactivity endpoint (its own function URL). Verifies the signature over the raw
body, decides PENDING -> APPROVED/DENIED exactly once, resumes the approval workflow, audits every callback."""

from typing import Any

from mcp_gateway.handlers.wiring import build_approval_callback
from mcp_gateway.observability import logger, metrics
from mcp_gateway.settings import ApprovalCallbackSettings, load

SETTINGS = load(ApprovalCallbackSettings)
CALLBACK = build_approval_callback(SETTINGS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return CALLBACK.handle(event)
