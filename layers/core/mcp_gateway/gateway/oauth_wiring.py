"""Cold-start wiring of the authorization server (issue 15): its settings, adapters and the OAuthServer.

Off (the gateway keeps only the RFC 8693 exchange) while ``OAUTH_TABLE_NAME`` is empty."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Annotated
from urllib.parse import parse_qsl

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..adapters import aws
from ..adapters.oauth_cimd import MetadataDocumentFetcher
from ..adapters.oauth_idp import OidcTokenClient
from ..adapters.oauth_kms import KmsSecretBox
from ..adapters.oauth_store import OAuthStore
from ..adapters.secrets import get_secret_text
from ..domain.errors import ConfigError
from ..domain.oauth import DEFAULT_SESSION_LIFETIME_SECONDS, MAX_SESSION_LIFETIME_SECONDS, ClientRecord
from ..domain.tokens import IdpConfig, JwksCache, SessionTokenService
from .oauth_server import OAuthConfig, OAuthServer


class OAuthSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, case_sensitive=True)

    AWS_REGION: str = "us-east-1"
    PROMPT_HMAC_SECRET_ARN: str = ""
    OAUTH_TABLE_NAME: str = ""  # empty: no authorization server (token exchange only)
    OAUTH_KMS_KEY_ID: str = ""
    IDP_AUTHORIZATION_ENDPOINT: str = ""
    IDP_TOKEN_ENDPOINT: str = ""
    IDP_CLIENT_ID: str = ""
    IDP_CLIENT_SECRET_ARN: str = ""
    IDP_SCOPES: Annotated[str, Field(max_length=512)] = "openid email profile groups offline_access"
    IDP_AUTHORIZE_PARAMS: Annotated[str, Field(max_length=1024)] = ""  # e.g. access_type=offline&prompt=consent
    OAUTH_SESSION_LIFETIME_SECONDS: int = Field(
        default=DEFAULT_SESSION_LIFETIME_SECONDS, ge=900, le=MAX_SESSION_LIFETIME_SECONDS
    )
    OAUTH_DYNAMIC_REGISTRATION: bool = True
    OAUTH_CLIENTS: Annotated[str, Field(max_length=32_768)] = ""  # JSON list of ClientRecord (secrets as sha256)
    OAUTH_LOCAL_MODE: bool = False  # local stack only: loopback client metadata documents
    OAUTH_CIMD_CA_FILE: str = ""  # local stack only: the loopback CA
    OAUTH_CIMD_TIMEOUT_SECONDS: float = Field(default=3.0, gt=0, le=10)


def _static_clients(raw: str) -> dict[str, ClientRecord]:
    if not raw.strip():
        return {}
    try:
        entries = json.loads(raw)
        records = [ClientRecord.model_validate({"kind": "static", **entry}) for entry in entries]
    except (ValueError, TypeError, ValidationError):
        raise ConfigError("OAUTH_CLIENTS is malformed") from None
    return {r.client_id: r for r in records}


def _authorize_params(raw: str) -> tuple[tuple[str, str], ...]:
    reserved = {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                "code_challenge_method"}  # fmt: skip
    pairs = tuple(parse_qsl(raw, keep_blank_values=False)) if raw.strip() else ()
    if any(k in reserved for k, _ in pairs):
        raise ConfigError("IDP_AUTHORIZE_PARAMS may not override the flow's own parameters")
    return pairs


def build_oauth(
    *,
    idp_config: IdpConfig,
    jwks: JwksCache,
    session_tokens: Callable[[str, str], SessionTokenService],
    required_groups: frozenset[str],
    clock: Callable[[], float],
) -> OAuthServer | None:
    try:
        settings = OAuthSettings()
    except ValidationError as exc:
        names = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise ConfigError(f"missing or invalid settings: {', '.join(names)}") from None
    if not settings.OAUTH_TABLE_NAME or not settings.IDP_AUTHORIZATION_ENDPOINT:
        return None  # no browser sign-in configured: the RFC 8693 exchange only, as before
    missing = [
        name
        for name in ("OAUTH_KMS_KEY_ID", "IDP_AUTHORIZATION_ENDPOINT", "IDP_TOKEN_ENDPOINT", "IDP_CLIENT_ID")
        if not getattr(settings, name)
    ]
    if missing or not settings.IDP_CLIENT_SECRET_ARN or not settings.PROMPT_HMAC_SECRET_ARN:
        raise ConfigError(f"missing settings: {', '.join(missing) or 'IDP_CLIENT_SECRET_ARN'}")
    region = settings.AWS_REGION

    def hash_key() -> bytes:
        secret = get_secret_text(settings.PROMPT_HMAC_SECRET_ARN).encode()
        return hmac.new(secret, b"oauth-state", hashlib.sha256).digest()

    def client_secret() -> str:
        return get_secret_text(settings.IDP_CLIENT_SECRET_ARN)

    config = OAuthConfig(
        idp_authorization_endpoint=settings.IDP_AUTHORIZATION_ENDPOINT,
        idp_client_id=settings.IDP_CLIENT_ID,
        idp_scopes=settings.IDP_SCOPES,
        idp_authorize_params=_authorize_params(settings.IDP_AUTHORIZE_PARAMS),
        session_lifetime_seconds=settings.OAUTH_SESSION_LIFETIME_SECONDS,
        registration_enabled=settings.OAUTH_DYNAMIC_REGISTRATION,
        static_clients=_static_clients(settings.OAUTH_CLIENTS),
        local_mode=settings.OAUTH_LOCAL_MODE,
    )
    return OAuthServer(
        config=config,
        store=OAuthStore(aws.client("dynamodb", region), settings.OAUTH_TABLE_NAME, clock=clock),
        box=KmsSecretBox(aws.client("kms", region), settings.OAUTH_KMS_KEY_ID),
        idp_client=OidcTokenClient(settings.IDP_TOKEN_ENDPOINT, settings.IDP_CLIENT_ID, client_secret),
        idp_config=idp_config,
        jwks=jwks,
        session_tokens=session_tokens,
        hash_key=hash_key,
        fetch_metadata=MetadataDocumentFetcher(
            allow_loopback=settings.OAUTH_LOCAL_MODE,
            timeout_seconds=settings.OAUTH_CIMD_TIMEOUT_SECONDS,
            ca_file=settings.OAUTH_CIMD_CA_FILE or None,
        ),
        required_groups=required_groups,
        clock=clock,
    )
