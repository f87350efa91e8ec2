"""Secrets from Secrets Manager through Powertools Parameters (cached, bounded max-age), with a client of the
process's one shared boto3 Session."""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.utilities import parameters

from ..domain.errors import ConfigError
from ..observability import add_exact_secrets
from . import aws

MAX_AGE_SECONDS = 300


@functools.cache
def _provider() -> parameters.SecretsProvider:
    """One provider (and its cache) per process, like Powertools' default one, on the shared Session."""
    return parameters.SecretsProvider(boto3_client=aws.client("secretsmanager"))


def get_secret_text(arn: str) -> str:
    try:
        value = _provider().get(arn, max_age=MAX_AGE_SECONDS)
    except Exception:  # noqa: BLE001 - any failure to read a secret must fail closed, without details
        raise ConfigError("a required secret could not be read") from None
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str) or not value:
        raise ConfigError("a required secret is empty")
    add_exact_secrets(*_secret_parts(value))  # from now on no log line can carry it
    return value


def _secret_parts(value: str) -> list[str]:
    """The secret and, for a JSON secret, its string values (a PEM, a signing secret, a bot token)."""
    parts = [value]
    try:
        data = json.loads(value)
    except ValueError:
        return parts
    stack: list[Any] = [data]
    while stack and len(parts) < 64:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return parts


def get_secret_json(arn: str) -> dict[str, Any]:
    try:
        data = json.loads(get_secret_text(arn))
    except json.JSONDecodeError:
        raise ConfigError("a required secret is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigError("a required secret is not a JSON object")
    return data


def read_secret_string(secretsmanager: Any, arn: str) -> str:
    """One uncached read of a secret's string value with an explicit client (the operator CLIs)."""
    return str(secretsmanager.get_secret_value(SecretId=arn)["SecretString"])
