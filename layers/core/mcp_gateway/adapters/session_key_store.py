"""The session signing-key secret in Secrets Manager, read and written whole (for `mcp-gateway keys`)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigError
from ..domain.tokens.session import SessionKeySet


class SessionKeyStore:
    """``read()`` the current key set (AWSCURRENT), ``write()`` a new version of the secret."""

    def __init__(self, client: Any, secret_id: str) -> None:
        self.client = client
        self.secret_id = secret_id

    def read(self) -> SessionKeySet | None:
        """The key set, or None when the secret has no value yet (a fresh deploy: the first rotate creates it)."""
        try:
            value = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        except ClientError as exc:
            if _name(exc) == "ResourceNotFoundException" and self._exists():
                return None
            raise ConfigError(f"cannot read the session key secret: {_name(exc)}") from None
        except (BotoCoreError, KeyError) as exc:
            raise ConfigError(f"cannot read the session key secret: {_name(exc)}") from None
        return SessionKeySet.from_secret_string(value)

    def _exists(self) -> bool:
        try:
            self.client.describe_secret(SecretId=self.secret_id)
        except (ClientError, BotoCoreError):
            return False
        return True

    def write(self, keyset: SessionKeySet) -> str:
        """Put ``keyset`` as the secret's new current version; returns the version id."""
        try:
            resp = self.client.put_secret_value(SecretId=self.secret_id, SecretString=keyset.model_dump_json())
        except (ClientError, BotoCoreError) as exc:
            raise ConfigError(f"cannot write the session key secret: {_name(exc)}") from None
        return str(resp.get("VersionId", ""))


def _name(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
