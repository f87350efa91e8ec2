"""Cold-start wiring of the workflow functions, one ``build_*`` per function: settings in, handler object out.

Every ``functions/*/app.py`` is the same three lines: ``SETTINGS = load(XSettings)``, ``HANDLER = build_x(SETTINGS)``
and a ``lambda_handler`` that calls ``HANDLER.handle(event)``. The adapters (boto3 clients from the one shared
Session, secrets, Slack) are chosen here and nowhere else; the handlers only see the domain's ports.
(The gateway function's wiring is ``mcp_gateway.gateway.wiring.build_gateway``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..adapters import aws
from ..adapters.approval_store import ApprovalStore
from ..adapters.assumed_role import AssumedRoleClients
from ..adapters.audit_store import AuditStore
from ..adapters.parameter_vault import ParameterVault
from ..adapters.request_claims import RequestClaims
from ..adapters.secrets import get_secret_json, get_secret_text
from ..adapters.session_store import SessionStore
from ..adapters.slack_api import SlackApi
from ..adapters.task_tokens import TaskTokens
from ..domain.approval import ApproverDirectory
from ..domain.slack import SLACK_RESPONSE_URL_PREFIXES
from ..observability import add_exact_secrets, logger
from ..policy_loader import load_policy
from ..settings import (
    ApprovalCallbackSettings,
    AuditSettings,
    ExecuteSettings,
    NotifyApproversSettings,
    ValidateSettings,
)
from .approval import ApprovalCallback, NotifyApprovers, slack_config
from .audit import Auditor
from .execute import Executor
from .sealed import ClaimingValidator, SealedExecutor
from .validate import Validator, build_validator


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _vault(region: str, table: str) -> ParameterVault | None:
    """The sealed raw parameters (opened only: the key id travels inside each envelope)."""
    if not table:
        return None
    return ParameterVault(aws.client("dynamodb", region), aws.client("kms", region), table, "", 600)


def build_validate(settings: ValidateSettings) -> ClaimingValidator:
    """Validate behind the request claim and the seal (handlers/sealed.py)."""
    claims = (
        RequestClaims(
            aws.client("dynamodb", settings.AWS_REGION), settings.AUDIT_TABLE_NAME, settings.AUDIT_RETENTION_DAYS
        )
        if settings.AUDIT_TABLE_NAME
        else None
    )
    return ClaimingValidator(_validator(settings), _vault(settings.AWS_REGION, settings.APPROVALS_TABLE_NAME), claims)


def _validator(settings: ValidateSettings) -> Validator:
    validator = build_validator(
        lambda: load_policy(settings.POLICY_PATH),
        lambda: get_secret_text(settings.PROMPT_HMAC_SECRET_ARN).encode(),
    )
    validator.retention_days = settings.AUDIT_RETENTION_DAYS
    if settings.RATE_LIMIT_TABLE_NAME:  # session behaviour per principal (domain/session.py)
        validator.sessions = SessionStore(aws.client("dynamodb", settings.AWS_REGION), settings.RATE_LIMIT_TABLE_NAME)
    if validator.policy is None:
        logger.error("policy failed to load: every request will be denied", extra={"reason": validator.policy_error})
    return validator


def build_execute(settings: ExecuteSettings) -> SealedExecutor:
    # The function's own role credentials (Lambda puts them in the environment): redacted from logs and results.
    own_secrets = aws.own_credential_values()
    add_exact_secrets(*own_secrets)
    executor = Executor(
        AssumedRoleClients(aws.session(), settings.DATA_ROLE_ARN, settings.AWS_REGION),
        exact_secrets=own_secrets,
    )
    return SealedExecutor(executor, _vault(settings.AWS_REGION, settings.APPROVALS_TABLE_NAME))


def build_audit(settings: AuditSettings) -> Auditor:
    return Auditor(
        AuditStore(
            aws.client("dynamodb", settings.AWS_REGION),
            aws.client("logs", settings.AWS_REGION),
            settings.AUDIT_TABLE_NAME,
            settings.AUDIT_LOG_GROUP_NAME,
            settings.AUDIT_RETENTION_DAYS,
        )
    )


def _slack(api_base_url: str, slack_secret: Callable[[], dict[str, Any]]) -> SlackApi:
    return SlackApi(api_base_url, lambda: slack_config(slack_secret())[0])


def build_notify_approvers(settings: NotifyApproversSettings) -> NotifyApprovers:
    def slack_secret() -> dict[str, Any]:
        return get_secret_json(settings.SLACK_SECRET_ARN)  # cached by Powertools (5 min)

    return NotifyApprovers(
        ApprovalStore(aws.client("dynamodb", settings.AWS_REGION), settings.APPROVALS_TABLE_NAME),
        _slack(settings.SLACK_API_BASE_URL, slack_secret),
        slack_secret,
        settings.APPROVAL_RECORD_TTL_SECONDS,
    )


def _approver_directory(policy_path: str) -> ApproverDirectory | None:
    try:
        approvers = load_policy(policy_path).approvers
    except Exception:  # noqa: BLE001 - no policy, no approvers: every callback is rejected and audited
        logger.error("policy failed to load: every approval callback will be rejected")
        return None
    return ApproverDirectory(
        slack_user_ids=frozenset(approvers.slack_user_ids),
        emails=frozenset(approvers.emails),
        slack_id_to_email=dict(approvers.slack_id_to_email),
    )


def build_approval_callback(settings: ApprovalCallbackSettings) -> ApprovalCallback:
    def slack_secret() -> dict[str, Any]:
        return get_secret_json(settings.SLACK_SECRET_ARN)  # cached by Powertools (5 min)

    region = settings.AWS_REGION
    audit = AuditStore(
        aws.client("dynamodb", region),
        aws.client("logs", region),
        settings.AUDIT_TABLE_NAME,
        settings.AUDIT_LOG_GROUP_NAME,
    )
    return ApprovalCallback(
        ApprovalStore(aws.client("dynamodb", region), settings.APPROVALS_TABLE_NAME),
        TaskTokens(aws.client("stepfunctions", region)),
        _slack(settings.SLACK_API_BASE_URL, slack_secret),
        slack_secret,
        _approver_directory(settings.POLICY_PATH),
        audit.append,
        response_url_prefixes=_csv(settings.SLACK_RESPONSE_URL_PREFIXES) or SLACK_RESPONSE_URL_PREFIXES,
        result_ttl_seconds=settings.RESULT_TTL_SECONDS,
        log_error=lambda msg, extra: logger.error(msg, extra=extra),
    )
