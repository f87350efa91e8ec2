"""Validate step of the request workflow: the policy decision for one canonical ActionRequest."""

from typing import Any

from mcp_gateway.adapters.secrets import get_secret_text
from mcp_gateway.handlers.validate import build_validator
from mcp_gateway.observability import logger, metrics
from mcp_gateway.policy_loader import load_policy
from mcp_gateway.settings import ValidateSettings, load

SETTINGS = load(ValidateSettings)
VALIDATOR = build_validator(
    lambda: load_policy(SETTINGS.POLICY_PATH),
    lambda: get_secret_text(SETTINGS.PROMPT_HMAC_SECRET_ARN).encode(),
)
VALIDATOR.retention_days = SETTINGS.AUDIT_RETENTION_DAYS
if VALIDATOR.policy is None:
    logger.error("policy failed to load: every request will be denied", extra={"reason": VALIDATOR.policy_error})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return VALIDATOR.handle(event)
