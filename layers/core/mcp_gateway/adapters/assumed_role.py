"""The data-role client factory (implements ``domain.ports.ClientFactoryPort``): STS AssumeRole per user, from
the process's shared boto3 Session."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from ..domain.iam import group_tag
from .aws import credentials_session, session_client


class AssumedRoleClients:
    """Clients for the data role, assumed per user with SourceIdentity = e-mail and session tags, so
    CloudTrail names the human. Cached per user until shortly before the credentials expire."""

    def __init__(self, base_session: Any, role_arn: str, region: str) -> None:
        self.base = base_session
        self.role_arn = role_arn
        self.region = region
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str, principal: dict[str, Any]) -> Any:
        if not self.role_arn:
            return session_client(self.base, service, self.region)
        email = str(principal.get("email", "unknown"))
        now = time.time()
        with self._lock:
            cached = self._cache.get(email)
        if cached is None or cached[0] - 60 < now:
            sts = session_client(self.base, "sts", self.region)
            tags = [
                {"Key": "gateway-user", "Value": email[:256]},
                {"Key": "gateway-token-id", "Value": str(principal.get("token_id", ""))[:256] or "-"},
            ]
            # Group membership as session tags: IAM grants group-override actions only to tagged sessions.
            tags += [{"Key": group_tag(g), "Value": "true"} for g in list(principal.get("groups") or [])[:40]]
            creds = sts.assume_role(
                RoleArn=self.role_arn,
                RoleSessionName="mcpgw-" + hashlib.sha256(email.encode()).hexdigest()[:16],
                SourceIdentity=email[:64],
                DurationSeconds=900,
                Tags=tags,
            )["Credentials"]
            session = credentials_session(
                creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], region=self.region
            )
            cached = (creds["Expiration"].timestamp(), session)
            with self._lock:
                self._cache[email] = cached
        return session_client(cached[1], service, self.region)
