"""Approval callback: Slack's interactivity endpoint (its own function URL). Verifies the signature over the raw
body, decides PENDING -> APPROVED/DENIED exactly once, resumes the approval workflow, audits every callback."""

from typing import Any

from mcp_gateway.adapters import aws
from mcp_gateway.adapters.audit_store import AuditStore
from mcp_gateway.adapters.secrets import get_secret_json
from mcp_gateway.adapters.slack_api import SlackApi
from mcp_gateway.domain.approval import ApproverDirectory
from mcp_gateway.domain.slack import SLACK_RESPONSE_URL_PREFIXES
from mcp_gateway.handlers.approval import ApprovalCallback, ApprovalStore, slack_config
from mcp_gateway.observability import logger, metrics
from mcp_gateway.policy_loader import load_policy
from mcp_gateway.settings import ApprovalCallbackSettings, load

SETTINGS = load(ApprovalCallbackSettings)


def _slack_secret() -> dict[str, Any]:
    return get_secret_json(SETTINGS.SLACK_SECRET_ARN)  # cached by Powertools (5 min)


def _directory() -> ApproverDirectory | None:
    try:
        approvers = load_policy(SETTINGS.POLICY_PATH).approvers
    except Exception:  # noqa: BLE001 - no policy, no approvers: every callback is rejected and audited
        logger.error("policy failed to load: every approval callback will be rejected")
        return None
    return ApproverDirectory(
        slack_user_ids=frozenset(approvers.slack_user_ids),
        emails=frozenset(approvers.emails),
        slack_id_to_email=dict(approvers.slack_id_to_email),
    )


_STORE = AuditStore(
    aws.client("dynamodb", SETTINGS.AWS_REGION),
    aws.client("logs", SETTINGS.AWS_REGION),
    SETTINGS.AUDIT_TABLE_NAME,
    SETTINGS.AUDIT_LOG_GROUP_NAME,
)
_PREFIXES = [p.strip() for p in SETTINGS.SLACK_RESPONSE_URL_PREFIXES.split(",") if p.strip()]
CALLBACK = ApprovalCallback(
    ApprovalStore(aws.client("dynamodb", SETTINGS.AWS_REGION), SETTINGS.APPROVALS_TABLE_NAME),
    aws.client("stepfunctions", SETTINGS.AWS_REGION),
    SlackApi(SETTINGS.SLACK_API_BASE_URL, lambda: slack_config(_slack_secret())[0]),
    _slack_secret,
    _directory(),
    _STORE.append,
    response_url_prefixes=_PREFIXES or SLACK_RESPONSE_URL_PREFIXES,
    result_ttl_seconds=SETTINGS.RESULT_TTL_SECONDS,
    log_error=lambda msg, extra: logger.error(msg, extra=extra),
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return CALLBACK.handle(event)
