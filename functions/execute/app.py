"""Execute step: the only function with data access. Runs in the isolated VPC, assumes the data role per user."""

from typing import Any

import boto3

from mcp_gateway.handlers.execute import AssumedRoleClients, Executor
from mcp_gateway.observability import logger, metrics
from mcp_gateway.settings import ExecuteSettings, load

SETTINGS = load(ExecuteSettings)
EXECUTOR = Executor(AssumedRoleClients(boto3.session.Session(), SETTINGS.DATA_ROLE_ARN, SETTINGS.AWS_REGION))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return EXECUTOR.handle(event)
