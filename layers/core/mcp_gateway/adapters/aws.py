"""boto3 in one place: ONE shared Session per process, client construction (timeouts, bounded retries, the
endpoint override used locally) and the error-code helper every adapter uses.

boto3 honours ``AWS_ENDPOINT_URL`` natively, which is how every function reaches the local moto server.
A boto3 Session is not thread-safe while it creates clients (clients themselves are), so client creation
from the shared session is serialised by one lock; the clients are cached per (service, region).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_CONFIG = Config(
    connect_timeout=3,
    read_timeout=20,
    retries={"max_attempts": 3, "mode": "standard"},
    inject_host_prefix=False,  # StartSyncExecution's "sync-" host prefix breaks local endpoints; harmless on AWS
    user_agent_extra="mcp-aws-gateway/0.1",
)
_LOCK = threading.RLock()
_SESSION: boto3.session.Session | None = None


def session() -> boto3.session.Session:
    """The process's one boto3 Session (created on first use, at cold start)."""
    global _SESSION  # noqa: PLW0603 - the one process-wide session, created lazily under the lock
    with _LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION


def botocore_session() -> botocore.session.Session:
    """The shared Session's botocore session (its loader caches the service models for every client)."""
    core: botocore.session.Session = session()._session
    return core


class LazyClient:
    """A client of the shared Session that is built on its first use (the first attribute read), not at cold start:
    a function's init builds none of the clients its first request does not use (a kms client only sealing
    needs, a logs client only an audit write needs). Thread-safe; every attribute is the real client's."""

    __slots__ = ("_client", "_region", "_service")

    def __init__(self, service: str, region: str | None) -> None:
        self._service = service
        self._region = region
        self._client: Any = None

    def _real(self) -> Any:
        if self._client is None:
            with _LOCK:
                if self._client is None:
                    self._client = session_client(session(), self._service, self._region)
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __repr__(self) -> str:
        state = "built" if self._client is not None else "not built yet"
        return f"<LazyClient {self._service} {self._region or 'default region'}: {state}>"


@functools.cache
def client(service: str, region: str | None = None) -> Any:
    """The cached client of the shared Session per (service, region), built on its first use and then reused."""
    return LazyClient(service, region)


def session_client(
    base: boto3.session.Session, service: str, region: str | None = None, endpoint_url: str | None = None
) -> Any:
    """A client of ``base`` (the shared Session, or an assumed-role / explicit-credentials Session)."""
    with _LOCK:
        return base.client(service, region_name=region, endpoint_url=endpoint_url, config=_CONFIG)


def credentials_session(
    access_key_id: str, secret_access_key: str, session_token: str | None = None, region: str | None = None
) -> boto3.session.Session:
    """A Session for explicit credentials (an assumed role's, or a local endpoint's fixed test credentials)."""
    with _LOCK:
        return boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )


def region_session(region: str | None) -> boto3.session.Session:
    """The shared Session, or (for an explicit region other than the default) a Session pinned to it."""
    if region is None:
        return session()
    with _LOCK:
        return boto3.session.Session(region_name=region)


def own_credential_values() -> tuple[str, str]:
    """The function's own role credentials as Lambda puts them in the environment (to redact them)."""
    return os.environ.get("AWS_SECRET_ACCESS_KEY", ""), os.environ.get("AWS_SESSION_TOKEN", "")


# The SDK's exception types, named here so that handlers catch AWS errors without importing botocore themselves
# (the import contract keeps the SDK inside adapters).
AwsServiceError = ClientError
AwsSdkError = BotoCoreError


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
