"""Execute step: the only function with data access. Runs in the isolated VPC, assumes the data role per user."""

from typing import Any

from mcp_gateway.handlers.wiring import build_execute
from mcp_gateway.observability import logger, metrics, step
from mcp_gateway.settings import ExecuteSettings, load

SETTINGS = load(ExecuteSettings)
EXECUTOR = build_execute(SETTINGS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@step("execute")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return EXECUTOR.handle(event)
