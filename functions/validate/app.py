"""Validate step of the request workflow: the policy decision for one canonical ActionRequest."""

from typing import Any

from mcp_gateway.handlers.wiring import build_validate
from mcp_gateway.observability import logger, metrics, step
from mcp_gateway.settings import ValidateSettings, load

SETTINGS = load(ValidateSettings)
VALIDATOR = build_validate(SETTINGS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@step("validate")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return VALIDATOR.handle(event)
