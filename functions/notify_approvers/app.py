"""NotifyApprovers: the approval workflow's .waitForTaskToken task. Records the request PENDING (with the task
token, which never leaves the approvals table) and posts the Block Kit approval message to Slack."""

from typing import Any

from mcp_gateway.adapters import aws
from mcp_gateway.adapters.secrets import get_secret_json
from mcp_gateway.adapters.slack_api import SlackApi
from mcp_gateway.handlers.approval import ApprovalStore, NotifyApprovers, slack_config
from mcp_gateway.observability import logger, metrics
from mcp_gateway.settings import NotifyApproversSettings, load

SETTINGS = load(NotifyApproversSettings)


def _slack_secret() -> dict[str, Any]:
    return get_secret_json(SETTINGS.SLACK_SECRET_ARN)  # cached by Powertools (5 min)


NOTIFIER = NotifyApprovers(
    ApprovalStore(aws.client("dynamodb", SETTINGS.AWS_REGION), SETTINGS.APPROVALS_TABLE_NAME),
    SlackApi(SETTINGS.SLACK_API_BASE_URL, lambda: slack_config(_slack_secret())[0]),
    _slack_secret,
    SETTINGS.APPROVAL_RECORD_TTL_SECONDS,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return NOTIFIER.handle(event)
