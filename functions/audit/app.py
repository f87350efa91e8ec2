"""Audit step: the outcome record (DynamoDB, hash-chained, plus one JSON line in the audit log group)."""

from typing import Any

from mcp_gateway.adapters import aws
from mcp_gateway.adapters.audit_store import AuditStore
from mcp_gateway.handlers.audit import Auditor
from mcp_gateway.observability import logger, metrics
from mcp_gateway.settings import AuditSettings, load

SETTINGS = load(AuditSettings)
AUDITOR = Auditor(
    AuditStore(
        aws.client("dynamodb", SETTINGS.AWS_REGION),
        aws.client("logs", SETTINGS.AWS_REGION),
        SETTINGS.AUDIT_TABLE_NAME,
        SETTINGS.AUDIT_LOG_GROUP_NAME,
        SETTINGS.AUDIT_RETENTION_DAYS,
    )
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return AUDITOR.handle(event)
