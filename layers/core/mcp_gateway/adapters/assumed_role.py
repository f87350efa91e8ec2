"""The data-role client factory (implements ``domain.ports.ClientFactoryPort``): STS AssumeRole per user, from
the process's shared boto3 Session."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from ..domain.iam import group_tag
from .aws import credentials_session, session_client

#: Credentials (and every client built on them) are renewed this long before they expire.
RENEW_BEFORE_EXPIRY_S = 60.0


class AssumedRoleClients:
    """Clients for the data role, assumed per user with SourceIdentity = e-mail and session tags, so
    CloudTrail names the human.

    One role session per (e-mail, token id, groups): exactly the values the session is tagged with, so a
    principal with other groups never reuses another's session. Its clients are cached per service and dropped
    with the session shortly (:data:`RENEW_BEFORE_EXPIRY_S`) before its credentials expire; the next call
    assumes the role again."""

    def __init__(self, base_session: Any, role_arn: str, region: str, clock: Callable[[], float] = time.time) -> None:
        self.base = base_session
        self.role_arn = role_arn
        self.region = region
        self.clock = clock
        # role-session key -> (expires at, session, {service: client})
        self._cache: dict[str, tuple[float, Any, dict[str, Any]]] = {}
        self._own: dict[str, Any] = {}
        self._sts: Any = None
        self._lock = threading.Lock()

    def __call__(self, service: str, principal: dict[str, Any]) -> Any:
        if not self.role_arn:
            with self._lock:
                client = self._own.get(service)
            if client is None:
                client = session_client(self.base, service, self.region)
                with self._lock:
                    client = self._own.setdefault(service, client)
            return client
        email = str(principal.get("email", "unknown"))
        tags = [
            {"Key": "gateway-user", "Value": email[:256]},
            {"Key": "gateway-token-id", "Value": str(principal.get("token_id", ""))[:256] or "-"},
        ]
        # Group membership as session tags: IAM grants group-override actions only to tagged sessions.
        tags += [{"Key": group_tag(g), "Value": "true"} for g in list(principal.get("groups") or [])[:40]]
        key = "\n".join([email, *(f"{t['Key']}={t['Value']}" for t in tags)])
        with self._lock:
            cached = self._cache.get(key)
        if cached is None or cached[0] - RENEW_BEFORE_EXPIRY_S < self.clock():
            creds = self._sts_client().assume_role(
                RoleArn=self.role_arn,
                RoleSessionName="mcpgw-" + hashlib.sha256(email.encode()).hexdigest()[:16],
                SourceIdentity=email[:64],
                DurationSeconds=900,
                Tags=tags,
            )["Credentials"]
            session = credentials_session(
                creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], region=self.region
            )
            cached = (creds["Expiration"].timestamp(), session, {})
            with self._lock:
                # drop every expired role session while here, so the cache holds only live users
                now = self.clock()
                for stale in [k for k, v in self._cache.items() if v[0] - RENEW_BEFORE_EXPIRY_S < now]:
                    del self._cache[stale]
                self._cache[key] = cached
        clients = cached[2]
        client = clients.get(service)
        if client is None:
            client = session_client(cached[1], service, self.region)
            with self._lock:
                client = clients.setdefault(service, client)
        return client

    def _sts_client(self) -> Any:
        if self._sts is None:
            sts = session_client(self.base, "sts", self.region)
            with self._lock:
                if self._sts is None:
                    self._sts = sts
        return self._sts
