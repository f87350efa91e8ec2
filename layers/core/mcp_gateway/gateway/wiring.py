"""Cold-start wiring of the gateway function: settings in, ``Gateway`` out (secrets, clients from the one
shared Session, workflow runner, audit sink, the gateway-local tools and their stores). The workflow
functions' wiring is ``mcp_gateway.handlers.wiring``; ``functions/gateway/app.py`` calls ``build_gateway``."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ..adapters import aws
from ..adapters.audit_store import AuditStore
from ..adapters.edge_counters import EdgeCounters
from ..adapters.executions import ApprovalExecutions
from ..adapters.jwks_http import fetch_jwks
from ..adapters.parameter_vault import ParameterVault
from ..adapters.quota_store import QuotaStore
from ..adapters.request_store import RequestStore
from ..adapters.secrets import get_secret_json, get_secret_text
from ..adapters.slack_api import SlackApi
from ..adapters.task_store import TaskStore
from ..adapters.workflow import WorkflowRunner, start_client
from ..domain.audit import auth_failure_record, edge_rejection_record
from ..domain.errors import PolicyError
from ..domain.models import Principal
from ..domain.timeouts import derive
from ..domain.tokens import IdpConfig, JwksCache, SessionKeySet, SessionTokenService
from ..observability import logger, metrics
from ..policy_loader import load_policy
from ..settings import GatewaySettings
from . import tool_explain_policy, tool_request_status, tool_whoami
from .edge import Gateway
from .edge_limits import EdgeAdmission, EdgeGuard, Rejection
from .mcp_server import build_server, new_request_id
from .oauth_wiring import build_oauth
from .tasks import TaskService


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _explain_policy_tool(settings: GatewaySettings) -> tool_explain_policy.ExplainPolicyTool:
    """The policy for explain_policy, loaded like the validate function loads it (POLICY_PATH, else the
    bundled file). A failure is remembered: every explanation then answers DENY POLICY_UNAVAILABLE."""
    policy = None
    error = ""
    try:
        policy = load_policy(settings.POLICY_PATH)
    except PolicyError as exc:
        error = exc.message
    except Exception as exc:  # noqa: BLE001 - any other failure also means: no policy, deny everything
        error = f"policy failed to load: {type(exc).__name__}"
    if policy is None:
        logger.error("policy failed to load: explain_policy will deny everything", extra={"reason": error})
    return tool_explain_policy.ExplainPolicyTool(
        policy, error, region=settings.AWS_REGION, account=settings.TARGET_ACCOUNT_ID
    )


_SESSION_SERVICES_MAX = 8


def _session_tokens(settings: GatewaySettings) -> Callable[[str, str], SessionTokenService]:
    # One service per key-set secret and (issuer, audience), so the keys are loaded once and the service's memo
    # of verified tokens lives as long as the process; a rotated secret starts afresh (a new key set).
    services: dict[tuple[str, str, str], SessionTokenService] = {}

    def session_tokens(base_url: str, resource_url: str) -> SessionTokenService:
        raw = get_secret_text(settings.SESSION_KEYS_SECRET_ARN)  # cached by Powertools; rotation within 5 min
        service = services.get((raw, base_url, resource_url))
        if service is None:
            keys = SessionKeySet.from_secret_string(raw)
            if len(services) >= _SESSION_SERVICES_MAX or any(key[0] != raw for key in services):
                services.clear()
            # We issue and verify these tokens ourselves: no clock-skew leeway, so a token dies exactly 15 min
            # after issue.
            service = SessionTokenService(keys, issuer=base_url, audience=resource_url, leeway_seconds=0)
            services[(raw, base_url, resource_url)] = service
        return service

    return session_tokens


def _fingerprint_key(settings: GatewaySettings) -> Callable[[], bytes]:
    def fingerprint_key() -> bytes:
        secret = get_secret_text(settings.PROMPT_HMAC_SECRET_ARN).encode()
        return hmac.new(secret, b"token-fingerprint", hashlib.sha256).digest()

    return fingerprint_key


def _auth_failure_audit(store: AuditStore) -> Callable[[dict[str, Any]], None]:
    def audit(info: dict[str, Any]) -> None:
        # every rejected authentication is counted, whether or not its audit write succeeds
        metrics.add_metric(name="AuthFailures", unit=MetricUnit.Count, value=1)
        try:
            store.append(auth_failure_record(info, new_request_id(), time.time()))
        except Exception:  # noqa: BLE001 - a failed auth-audit write must not turn into a 500 with details
            logger.error("auth failure audit write failed", extra={"reason": info.get("reason")})

    return audit


def _idp_config(settings: GatewaySettings) -> IdpConfig:
    return IdpConfig(
        issuer=settings.IDP_ISSUER,
        audience=settings.IDP_AUDIENCE,
        jwks_url=settings.IDP_JWKS_URL,
        algorithms=tuple(_csv(settings.IDP_ALGORITHMS)),
        groups_claim=settings.IDP_GROUPS_CLAIM,
        allowed_client_ids=tuple(_csv(settings.IDP_ALLOWED_CLIENT_IDS)),
        require_nbf=settings.IDP_REQUIRE_NBF,
    )


def _task_service(settings: GatewaySettings, audit: AuditStore) -> TaskService | None:
    """Approval tasks, when the approvals table and the approval workflow are configured."""
    if not (settings.APPROVALS_TABLE_NAME and settings.APPROVAL_STATE_MACHINE_ARN):
        return None
    region = settings.AWS_REGION

    def slack_secret() -> dict[str, Any]:
        return get_secret_json(settings.SLACK_SECRET_ARN) if settings.SLACK_SECRET_ARN else {}

    slack = None
    if settings.SLACK_SECRET_ARN:
        api = SlackApi(settings.SLACK_API_BASE_URL, lambda: str(slack_secret().get("bot_token") or ""))
        slack = api.update_message
    return TaskService(
        TaskStore(aws.client("dynamodb", region), settings.APPROVALS_TABLE_NAME, settings.RESULTS_TABLE_NAME),
        ApprovalExecutions(aws.client("stepfunctions", region), settings.APPROVAL_STATE_MACHINE_ARN),
        channel=lambda: str(slack_secret().get("channel") or ""),
        slack_update=slack,
        audit=audit.append,
    )


def _server_factory(
    settings: GatewaySettings, runner: WorkflowRunner, tasks: TaskService | None = None
) -> Callable[[], Any]:
    """The MCP server with the catalog's tools plus the gateway-local ones (status, explain, whoami)."""
    ddb = aws.client("dynamodb", settings.AWS_REGION)
    request_status = tool_request_status.RequestStatusTool(
        RequestStore(ddb, settings.APPROVALS_TABLE_NAME, settings.RESULTS_TABLE_NAME),
        outcomes=runner.outcomes,  # the audit trail: the truth of a call that needed no approval (issue 20)
    )
    explain_policy = _explain_policy_tool(settings)
    quotas = QuotaStore(ddb, settings.RATE_LIMIT_TABLE_NAME) if settings.RATE_LIMIT_TABLE_NAME else None
    whoami = tool_whoami.WhoAmITool(quotas, lambda: load_policy(settings.POLICY_PATH))
    extra_tools: dict[str, Any] = {
        tool_request_status.NAME: request_status,
        tool_explain_policy.NAME: explain_policy,
        tool_whoami.NAME: whoami,
    }
    definitions = [tool_request_status.definition(), tool_explain_policy.definition(), tool_whoami.definition()]
    return lambda: build_server(
        runner,
        region=settings.AWS_REGION,
        account=settings.TARGET_ACCOUNT_ID,
        extra_tools=extra_tools,
        extra_definitions=definitions,
        tasks=tasks,
    )


def _runner(settings: GatewaySettings, store: AuditStore) -> WorkflowRunner:
    """StartSyncExecution with the timeouts of the one workflow budget and no blind retries; the raw
    parameters sealed before the start (issue 20)."""
    region = settings.AWS_REGION
    vault = (
        ParameterVault(
            aws.client("dynamodb", region),
            aws.client("kms", region),
            settings.APPROVALS_TABLE_NAME,
            settings.PARAMETER_KEY_ID,
            settings.SEALED_PARAMETERS_TTL_SECONDS,
        )
        if settings.PARAMETER_KEY_ID and settings.APPROVALS_TABLE_NAME
        else None
    )
    return WorkflowRunner(
        start_client(region, derive(settings.WORKFLOW_TIMEOUT_SECONDS)),
        settings.REQUEST_STATE_MACHINE_ARN,
        store,
        outcomes=store.outcome,
        vault=vault,
    )


def _edge_guard(settings: GatewaySettings, store: AuditStore, gateway: Gateway) -> EdgeGuard:
    counters = (
        EdgeCounters(aws.client("dynamodb", settings.AWS_REGION), settings.RATE_LIMIT_TABLE_NAME)
        if settings.RATE_LIMIT_TABLE_NAME
        else None
    )
    admission = EdgeAdmission(
        counters,
        max_in_flight=settings.EDGE_MAX_IN_FLIGHT,
        per_minute=settings.EDGE_REQUESTS_PER_MINUTE,
        clock=lambda: gateway.clock(),  # noqa: PLW0108 - late-bound: the clock may be swapped (tests)
    )

    def audit(event: dict[str, Any], rejection: Rejection, principal: Principal | None, request_id: str) -> None:
        metrics.add_metric(name="EdgeRejections", unit=MetricUnit.Count, value=1)
        ctx = gateway._context(event)
        info = {
            "reason": rejection.reason.value,
            "endpoint": "/mcp",
            "source_ip": ctx.source_ip,
            "user_agent": ctx.user_agent,
            "rule": rejection.error,
            "status": rejection.status,
        }
        try:
            store.append(
                edge_rejection_record(
                    info,
                    request_id,
                    time.time(),
                    principal_email=principal.email if principal else "",
                    groups=tuple(principal.groups) if principal else (),
                )
            )
        except Exception as exc:  # noqa: BLE001 - a failed audit write must not turn into a 500 with details
            logger.error(
                "edge rejection audit write failed",
                extra={"reason": rejection.reason.value, "error_type": type(exc).__name__},
            )

    return EdgeGuard(admission, audit, new_request_id)


def build_gateway(settings: GatewaySettings) -> Gateway:
    region = settings.AWS_REGION
    store = AuditStore(
        aws.client("dynamodb", region),
        aws.client("logs", region),
        settings.AUDIT_TABLE_NAME,
        settings.AUDIT_LOG_GROUP_NAME,
    )
    runner = _runner(settings, store)
    gateway = Gateway(
        server_factory=_server_factory(settings, runner, _task_service(settings, store)),
        session_tokens=_session_tokens(settings),
        idp_config=_idp_config(settings),
        jwks=JwksCache(settings.IDP_JWKS_URL, fetch_jwks),
        resource_url=settings.GATEWAY_RESOURCE_URL,
        audit=_auth_failure_audit(store),
        fingerprint_key=_fingerprint_key(settings),
        allowed_hosts=_csv(settings.ALLOWED_HOSTS) or None,
        allowed_origins=_csv(settings.ALLOWED_ORIGINS) or None,
        required_groups=frozenset(_csv(settings.REQUIRED_GROUPS)),
    )
    gateway.edge_guard = _edge_guard(settings, store, gateway)
    gateway.oauth = build_oauth(  # the OAuth 2.1 authorization server (issue 15); None while not configured
        idp_config=gateway.idp_config,
        jwks=gateway.jwks,
        session_tokens=gateway.session_tokens,
        required_groups=gateway.required_groups,
        clock=lambda: gateway.clock(),  # noqa: PLW0108 - late-bound: the clock may be swapped (tests)
    )
    return gateway
