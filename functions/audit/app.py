"""Audit step: the outcome record (DynamoDB, hash-chained, plus one JSON line in the audit log group)."""

from typing import Any

from mcp_gateway.handlers.wiring import build_audit
from mcp_gateway.observability import logger, metrics, step
from mcp_gateway.settings import AuditSettings, load

SETTINGS = load(AuditSettings)
AUDITOR = build_audit(SETTINGS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@step("audit")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return AUDITOR.handle(event)
