"""Cold-start wiring of the gateway function: settings, secrets, clients, workflow runner, audit sink."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from ..adapters import aws
from ..adapters.audit_store import AuditStore
from ..adapters.jwks_http import fetch_jwks
from ..adapters.secrets import get_secret_text
from ..domain.audit import auth_failure_record, outcome_record, response
from ..domain.errors import ReasonCode
from ..domain.tokens import IdpConfig, JwksCache, SessionKeySet, SessionTokenService
from ..settings import GatewaySettings, load
from . import tool_explain_policy, tool_request_status, tool_whoami
from .edge import Gateway
from .mcp_server import build_server, new_request_id


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class WorkflowRunner:
    """StartSyncExecution of the request workflow; a failed or unreadable execution still yields a response
    and an audit record (fail closed)."""

    def __init__(self, sfn: Any, state_machine_arn: str, store: AuditStore) -> None:
        self.sfn = sfn
        self.arn = state_machine_arn
        self.store = store

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        request = payload["request"]
        try:
            result = self.sfn.start_sync_execution(
                stateMachineArn=self.arn, name=request["request_id"], input=json.dumps(payload)
            )
        except Exception:  # noqa: BLE001 - the workflow could not be started: deny, and audit it here
            return self._failed(payload, "workflow.start-failed")
        if result.get("status") != "SUCCEEDED":
            return self._failed(payload, "workflow.failed")
        try:
            output = json.loads(result.get("output") or "{}")
        except json.JSONDecodeError:
            return self._failed(payload, "workflow.bad-output")
        if output.get("deferred"):
            state = output.get("state") or {}
            return response(state, outcome_record(state, time.time()), audit="deferred")
        if not isinstance(output, dict) or "status" not in output:
            return self._failed(payload, "workflow.bad-output")
        return output

    def _failed(self, payload: dict[str, Any], rule_id: str) -> dict[str, Any]:
        request = dict(payload["request"])
        request.pop("intent", None)
        state = {
            "request": request,
            "decision": {"outcome": "DENY", "reason": ReasonCode.WORKFLOW_ERROR.value, "rule_id": rule_id},
        }
        record = outcome_record(state, time.time())
        audit = "recorded"
        try:
            self.store.append(record)
        except Exception:  # noqa: BLE001 - the intent record (if any) still marks the request
            audit = "failed"
        return response(state, record, audit=audit)


def _explain_policy_tool(region: str, account: str) -> tool_explain_policy.ExplainPolicyTool:
    """The policy for explain_policy, loaded like the validate function loads it (POLICY_PATH, else the
    bundled file). A failure is remembered: every explanation then answers DENY POLICY_UNAVAILABLE."""
    from ..domain.errors import PolicyError
    from ..observability import logger
    from ..policy_loader import load_policy

    policy = None
    error = ""
    try:
        policy = load_policy()
    except PolicyError as exc:
        error = exc.message
    except Exception as exc:  # noqa: BLE001 - any other failure also means: no policy, deny everything
        error = f"policy failed to load: {type(exc).__name__}"
    if policy is None:
        logger.error("policy failed to load: explain_policy will deny everything", extra={"reason": error})
    return tool_explain_policy.ExplainPolicyTool(policy, error, region=region, account=account)


def build_gateway() -> tuple[Gateway, GatewaySettings]:
    settings = load(GatewaySettings)
    region = settings.AWS_REGION
    store = AuditStore(
        aws.client("dynamodb", region),
        aws.client("logs", region),
        settings.AUDIT_TABLE_NAME,
        settings.AUDIT_LOG_GROUP_NAME,
    )
    runner = WorkflowRunner(aws.client("stepfunctions", region), settings.REQUEST_STATE_MACHINE_ARN, store)
    cache: dict[str, SessionKeySet] = {}

    def session_tokens(base_url: str, resource_url: str) -> SessionTokenService:
        raw = get_secret_text(settings.SESSION_KEYS_SECRET_ARN)  # cached by Powertools; rotation within 5 min
        keys = cache.get(raw)
        if keys is None:
            keys = SessionKeySet.from_secret_string(raw)
            cache.clear()
            cache[raw] = keys
        # We issue and verify these tokens ourselves: no clock-skew leeway, so a token dies exactly 15 min after issue.
        return SessionTokenService(keys, issuer=base_url, audience=resource_url, leeway_seconds=0)

    def fingerprint_key() -> bytes:
        secret = get_secret_text(settings.PROMPT_HMAC_SECRET_ARN).encode()
        return hmac.new(secret, b"token-fingerprint", hashlib.sha256).digest()

    def audit(info: dict[str, Any]) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        from ..observability import metrics

        # every rejected authentication is counted, whether or not its audit write succeeds
        metrics.add_metric(name="AuthFailures", unit=MetricUnit.Count, value=1)
        try:
            store.append(auth_failure_record(info, new_request_id(), time.time()))
        except Exception:  # noqa: BLE001 - a failed auth-audit write must not turn into a 500 with details
            from ..observability import logger

            logger.error("auth failure audit write failed", extra={"reason": info.get("reason")})

    idp = IdpConfig(
        issuer=settings.IDP_ISSUER,
        audience=settings.IDP_AUDIENCE,
        jwks_url=settings.IDP_JWKS_URL,
        algorithms=tuple(_csv(settings.IDP_ALGORITHMS)),
        groups_claim=settings.IDP_GROUPS_CLAIM,
        allowed_client_ids=tuple(_csv(settings.IDP_ALLOWED_CLIENT_IDS)),
        require_nbf=settings.IDP_REQUIRE_NBF,
    )
    request_status = tool_request_status.RequestStatusTool(
        aws.client("dynamodb", region), settings.APPROVALS_TABLE_NAME, settings.RESULTS_TABLE_NAME
    )
    explain_policy = _explain_policy_tool(region, settings.TARGET_ACCOUNT_ID)
    from ..policy_loader import load_policy

    whoami = tool_whoami.WhoAmITool(aws.client("dynamodb", region), settings.RATE_LIMIT_TABLE_NAME, load_policy)
    hosts = _csv(settings.ALLOWED_HOSTS) or None
    origins = _csv(settings.ALLOWED_ORIGINS) or None
    gateway = Gateway(
        server_factory=lambda: build_server(
            runner,
            region=region,
            account=settings.TARGET_ACCOUNT_ID,
            extra_tools={
                tool_request_status.NAME: request_status,
                tool_explain_policy.NAME: explain_policy,
                tool_whoami.NAME: whoami,
            },
            extra_definitions=[
                tool_request_status.definition(),
                tool_explain_policy.definition(),
                tool_whoami.definition(),
            ],
        ),
        session_tokens=session_tokens,
        idp_config=idp,
        jwks=JwksCache(settings.IDP_JWKS_URL, fetch_jwks),
        resource_url=settings.GATEWAY_RESOURCE_URL,
        audit=audit,
        fingerprint_key=fingerprint_key,
        allowed_hosts=hosts,
        allowed_origins=origins,
        required_groups=frozenset(_csv(settings.REQUIRED_GROUPS)),
    )
    return gateway, settings
