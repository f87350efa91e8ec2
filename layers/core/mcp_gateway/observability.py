"""Powertools Logger (structured JSON, redacting every record) and Metrics (EMF), shared by all functions."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

from .domain.redaction import RedactionConfig, Redactor
from .logging_redaction import build_logger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "mcp-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "McpGateway")

logger: Logger = build_logger(SERVICE, Redactor(RedactionConfig()))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
