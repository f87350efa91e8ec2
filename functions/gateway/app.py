"""Gateway function: MCP server, token exchange and protected-resource metadata behind a function URL."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from mcp_gateway.gateway.wiring import build_gateway
from mcp_gateway.observability import http_trace, logger, metrics
from mcp_gateway.settings import GatewaySettings, load

SETTINGS = load(GatewaySettings)
GATEWAY = build_gateway(SETTINGS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with http_trace(event.get("headers")):  # the W3C traceparent header on this invocation's lines
        response = GATEWAY.handle(event, context)
    metrics.add_metric(name=f"Http{response['statusCode']}", unit=MetricUnit.Count, value=1)
    return response
