"""NotifyApprovers: the approval workflow's .waitForTaskToken task. Records the request PENDING (with the task
token, which never leaves the approvals table) and posts the Block Kit approval message to Slack."""

from typing import Any

from mcp_gateway.handlers.wiring import build_notify_approvers
from mcp_gateway.observability import logger, metrics, step
from mcp_gateway.settings import NotifyApproversSettings, load

SETTINGS = load(NotifyApproversSettings)
NOTIFIER = build_notify_approvers(SETTINGS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@step("notify-approvers")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return NOTIFIER.handle(event)
