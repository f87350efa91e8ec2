"""Powertools Logger (structured JSON, redacting every record) and Metrics (EMF), shared by all functions."""

from __future__ import annotations

import logging
import os
import threading
import warnings

from aws_lambda_powertools import Logger, Metrics

from .domain.redaction import RedactionConfig, Redactor
from .logging_redaction import RedactingFormatter, build_logger

# An invocation that records no metric is normal (e.g. a denied call has nothing to count in some functions).
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "mcp-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "McpGateway")

logger: Logger = build_logger(SERVICE, Redactor(RedactionConfig()))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_MAX_EXACT = 256
_exact: set[str] = set()
_exact_lock = threading.Lock()


def add_exact_secrets(*values: str) -> None:
    """Exact-value redaction of the gateway's own secrets (signing keys, Slack secrets, HMAC keys) in every
    log line from the moment they are loaded. Idempotent and cheap when nothing new is added; values shorter
    than 8 characters are ignored (too short to redact without false positives)."""
    fresh = {v for v in values if isinstance(v, str) and 8 <= len(v) <= 65_536} - _exact
    if not fresh:
        return
    with _exact_lock:
        _exact.update(fresh)
        kept = tuple(sorted(_exact, key=len, reverse=True)[:_MAX_EXACT])
        redactor = Redactor(RedactionConfig(exact_secrets=kept))
        for handler in logging.getLogger(logger.name).handlers:
            if isinstance(handler.formatter, RedactingFormatter):
                handler.formatter.use(redactor)
