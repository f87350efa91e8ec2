"""One Settings model per function, validated at cold start. A missing or malformed setting stops the
function from serving (fail closed) with a ConfigError that names the variable, never its value."""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.errors import ConfigError

NonEmpty = Annotated[str, Field(min_length=1, max_length=2048)]


class _Base(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, case_sensitive=True)

    AWS_REGION: NonEmpty = "us-east-1"


class ValidateSettings(_Base):
    POLICY_PATH: str = ""  # empty: the policy bundled in the layer
    PROMPT_HMAC_SECRET_ARN: NonEmpty
    AUDIT_RETENTION_DAYS: int = Field(default=90, ge=90, le=3653)
    AUDIT_TABLE_NAME: str = ""  # the request claim (exactly once per request id); empty: no claim (unit use)
    APPROVALS_TABLE_NAME: str = ""  # the sealed raw parameters; empty: requests are never sealed
    RATE_LIMIT_TABLE_NAME: str = ""  # session behaviour items (session#...); empty: not checked (unit use)


class ExecuteSettings(_Base):
    DATA_ROLE_ARN: str = ""  # empty: use the function's own role (local mode)
    APPROVALS_TABLE_NAME: str = ""  # the sealed raw parameters; empty: a sealed request cannot execute


class AuditSettings(_Base):
    AUDIT_TABLE_NAME: NonEmpty
    AUDIT_LOG_GROUP_NAME: NonEmpty
    AUDIT_RETENTION_DAYS: int = Field(default=90, ge=90, le=3653)


class GatewaySettings(_Base):
    REQUEST_STATE_MACHINE_ARN: NonEmpty
    SESSION_KEYS_SECRET_ARN: NonEmpty
    PROMPT_HMAC_SECRET_ARN: NonEmpty
    IDP_ISSUER: NonEmpty
    IDP_AUDIENCE: NonEmpty
    IDP_JWKS_URL: NonEmpty
    IDP_ALGORITHMS: str = "RS256,ES256"
    IDP_GROUPS_CLAIM: str = "groups"
    IDP_ALLOWED_CLIENT_IDS: str = ""
    IDP_REQUIRE_NBF: bool = True  # "false" for IdPs whose tokens carry no nbf (Okta, Auth0): nbf then = iat
    GATEWAY_RESOURCE_URL: str = ""  # the MCP resource URL (session-token audience); empty: the function URL
    ALLOWED_HOSTS: str = ""  # comma-separated Host values (the function URL host); DNS-rebinding protection
    ALLOWED_ORIGINS: str = ""
    REQUIRED_GROUPS: str = ""  # comma-separated; a token lacking all of them gets 403
    AUDIT_TABLE_NAME: NonEmpty
    AUDIT_LOG_GROUP_NAME: NonEmpty
    RESULTS_TABLE_NAME: str = ""
    APPROVALS_TABLE_NAME: str = ""
    RATE_LIMIT_TABLE_NAME: str = ""  # whoami reads the caller's own counters; empty: quotas shown as unavailable
    POLICY_PATH: str = ""  # empty: the policy bundled in the layer (explain_policy, whoami's limits)
    # issue 20: every timeout derives from the workflow budget (domain/timeouts.py); the raw parameters are
    # sealed with this key before a start; the edge bounds each principal before any workflow starts
    WORKFLOW_TIMEOUT_SECONDS: int = Field(default=25, ge=1, le=300)
    PARAMETER_KEY_ID: str = ""  # empty: parameters are not sealed (the execution input holds them)
    SEALED_PARAMETERS_TTL_SECONDS: int = Field(default=8 * 86_400, ge=600, le=366 * 86_400)
    EDGE_MAX_IN_FLIGHT: int = Field(default=16, ge=1, le=1000)  # per principal, at once
    EDGE_REQUESTS_PER_MINUTE: int = Field(default=240, ge=1, le=100_000)  # per principal
    TARGET_ACCOUNT_ID: str = "123456789012"
    # MCP tasks for calls that wait for a human (gateway/tasks.py): tasks/cancel stops the approval execution
    # and updates the Slack message in place. Empty: no task is offered (clients get the pending answer).
    APPROVAL_STATE_MACHINE_ARN: str = ""
    SLACK_SECRET_ARN: str = ""
    SLACK_API_BASE_URL: str = "https://slack.com/api"


class NotifyApproversSettings(_Base):
    SLACK_SECRET_ARN: NonEmpty
    APPROVALS_TABLE_NAME: NonEmpty
    SLACK_API_BASE_URL: NonEmpty = "https://slack.com/api"
    APPROVAL_RECORD_TTL_SECONDS: int = Field(default=7 * 86_400, ge=86_400, le=366 * 86_400)


class ApprovalCallbackSettings(_Base):
    SLACK_SECRET_ARN: NonEmpty
    APPROVALS_TABLE_NAME: NonEmpty
    AUDIT_TABLE_NAME: NonEmpty
    AUDIT_LOG_GROUP_NAME: NonEmpty
    POLICY_PATH: str = ""  # empty: the policy bundled in the layer (approvers)
    SLACK_API_BASE_URL: NonEmpty = "https://slack.com/api"
    SLACK_RESPONSE_URL_PREFIXES: str = ""  # comma-separated; empty: Slack's hooks hosts only
    RESULT_TTL_SECONDS: int = Field(default=86_400, ge=300, le=30 * 86_400)


T = TypeVar("T", bound=BaseSettings)


def load(cls: type[T]) -> T:
    try:
        return cls()
    except ValidationError as exc:
        names = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise ConfigError(f"missing or invalid settings: {', '.join(names)}") from None
