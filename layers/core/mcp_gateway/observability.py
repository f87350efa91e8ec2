"""Powertools Logger (structured JSON, redacting every record) and Metrics (EMF), shared by all functions."""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics

from .domain.redaction import RedactionConfig, Redactor
from .logging_redaction import build_logger

# An invocation that records no metric is normal (e.g. a denied call has nothing to count in some functions).
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "mcp-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "McpGateway")

logger: Logger = build_logger(SERVICE, Redactor(RedactionConfig()))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
