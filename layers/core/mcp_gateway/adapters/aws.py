"""boto3 client construction, in one place: timeouts, bounded retries, and the endpoint override used locally.

boto3 honours ``AWS_ENDPOINT_URL`` natively, which is how every function reaches the local moto server.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=3,
    read_timeout=20,
    retries={"max_attempts": 3, "mode": "standard"},
    inject_host_prefix=False,  # StartSyncExecution's "sync-" host prefix breaks local endpoints; harmless on AWS
    user_agent_extra="mcp-aws-gateway/0.1",
)


@functools.cache
def client(service: str, region: str | None = None) -> Any:
    """A cached client per (service, region), created at cold start and reused across invocations."""
    return boto3.session.Session().client(service, region_name=region, config=_CONFIG)


def session_client(session: boto3.session.Session, service: str, region: str | None = None) -> Any:
    return session.client(service, region_name=region, config=_CONFIG)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
