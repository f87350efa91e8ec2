"""Execute step: the only function with data access. Runs in the isolated VPC, assumes the data role per user."""

import os
from typing import Any

import boto3
from mcp_gateway.handlers.execute import AssumedRoleClients, Executor
from mcp_gateway.observability import add_exact_secrets, logger, metrics
from mcp_gateway.settings import ExecuteSettings, load

SETTINGS = load(ExecuteSettings)
# The function's own role credentials (Lambda puts them in the environment): redacted from logs and results.
_OWN_SECRETS = tuple(os.environ.get(name, "") for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
add_exact_secrets(*_OWN_SECRETS)
EXECUTOR = Executor(
    AssumedRoleClients(boto3.session.Session(), SETTINGS.DATA_ROLE_ARN, SETTINGS.AWS_REGION),
    exact_secrets=_OWN_SECRETS,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return EXECUTOR.handle(event)
