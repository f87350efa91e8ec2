"""Human approval: NotifyApprovers (the approval workflow's ``.waitForTaskToken`` task) and the Slack
callback.

The approvals table holds one item per flagged request (``pk = request_id``) and, for replay protection,
one short-lived item per accepted Slack signature (``pk = "nonce#<sha256>"``, never a valid request id).

Request item lifecycle: NotifyApprovers creates it ``PENDING`` with a conditional put (the task token is
stored here and only here: never in Slack), posts the Block Kit message and records its ``ts``. The
callback verifies Slack's signature over the raw body, claims the signature's nonce (a replay is
``CALLBACK_REPLAY``), parses the payload, runs ``authorize_decision`` and then makes ONE conditional write
``PENDING -> APPROVED/DENIED``; only the winner of that write calls SendTaskSuccess, so any number of
duplicate clicks cause at most one execution. The workflow marks ``EXPIRED`` on States.Timeout. Every
rejected callback is audited with its reason code; so is every accepted one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from ..adapters.slack_api import SlackApi, SlackApiError
from ..domain.approval import ApproverDirectory, PendingApproval, authorize_decision
from ..domain.contracts import AuditRecord
from ..domain.errors import ApprovalError, ConfigError, GatewayError, ReasonCode, SignatureError
from ..domain.ports import ApprovalStorePort, TaskTokensPort
from ..domain.slack import (
    SIGNATURE_HEADER,
    SLACK_RESPONSE_URL_PREFIXES,
    TIMESTAMP_HEADER,
    ApprovalView,
    Interaction,
    build_approval_message,
    build_decided_message,
    parse_interaction,
    verify_slack_signature,
)

STATUSES = ("PENDING", "APPROVED", "DENIED", "EXPIRED")
AUDIT_ATTEMPTS = 3  # the hash chain is optimistic; a burst of callbacks can exhaust one append's retries
MAX_BODY_BYTES = 512 * 1024


def _s(item: Mapping[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else default


def _n(item: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    value = item.get(name)
    try:
        return float(value["N"]) if isinstance(value, dict) and "N" in value else default
    except (TypeError, ValueError):
        return default


def approval_view(item: Mapping[str, Any], channel: str) -> ApprovalView:
    """What the approver sees, rebuilt from the approvals item (for chat.update)."""
    return ApprovalView(
        request_id=_s(item, "pk"),
        request_hash=_s(item, "request_hash"),
        requester_email=_s(item, "requester"),
        action=_s(item, "action"),
        resources=tuple(json.loads(_s(item, "resources_json", "[]"))),
        parameters_json=_s(item, "parameters_json", "{}"),
        rule_id=_s(item, "rule_id"),
        reason=_s(item, "reason"),
        trigger="" if _s(item, "trigger") == "-" else _s(item, "trigger"),
        tool="" if _s(item, "tool") == "-" else _s(item, "tool"),
        expires_at=_n(item, "approval_expires_at"),
        channel=_s(item, "slack_channel") or channel,
    )


def slack_config(secret: Mapping[str, Any]) -> tuple[str, list[bytes], str]:
    """(bot token, signing secrets, channel) from the Slack secret JSON. Missing parts are a ConfigError."""
    token = secret.get("bot_token")
    channel = secret.get("channel")
    signing = secret.get("signing_secrets") or [secret.get("signing_secret")]
    if not isinstance(token, str) or not token:
        raise ConfigError("Slack bot token missing")
    if not isinstance(channel, str) or not channel:
        raise ConfigError("Slack channel missing")
    if not isinstance(signing, list) or not all(isinstance(s, str) and s for s in signing):
        raise ConfigError("Slack signing secret missing")
    return token, [s.encode() for s in signing], channel


# --------------------------------------------------------------------------------------------------
# NotifyApprovers
# --------------------------------------------------------------------------------------------------


class NotifyApprovers:
    def __init__(
        self,
        store: ApprovalStorePort,
        slack: SlackApi,
        slack_secret: Callable[[], Mapping[str, Any]],
        record_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.slack = slack
        self.slack_secret = slack_secret
        self.record_ttl = record_ttl_seconds
        self.clock = clock

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        token = event.get("task_token")
        if not isinstance(token, str) or not token:
            raise ConfigError("task token missing")
        request = event.get("request") or {}
        decision = event.get("decision") or {}
        approval = event.get("approval") or {}
        _, _, channel = slack_config(self.slack_secret())
        params = request.get("parameters_sanitized") or {}
        view = ApprovalView(
            request_id=str(request.get("request_id", "")),
            request_hash=str(approval.get("request_hash", "")),
            requester_email=str((request.get("principal") or {}).get("email", "")),
            action=str(request.get("action", "")),
            resources=tuple(str(r) for r in request.get("resources") or ()),
            parameters_json=json.dumps(params, indent=2, sort_keys=True, ensure_ascii=False, default=str),
            rule_id=str(decision.get("rule_id", "")),
            reason=str(decision.get("reason", "")),
            trigger=str(decision.get("message", ""))[:2048],
            tool=str(request.get("tool", ""))[:64],
            expires_at=float(approval.get("expires_at", 0)),
            channel=channel,
        )
        if str(approval.get("approval_id", "")) != view.request_id:
            raise ConfigError("approval does not belong to this request")
        # A retried task (same request and hash, still pending): the new token replaces the old one.
        if not self.store.create_pending(view, token, self.clock(), self.record_ttl) and not self.store.replace_token(
            view.request_id, view.request_hash, token
        ):
            raise GatewayError("approval already exists and is not pending", code=ReasonCode.ALREADY_DECIDED)
        channel_id, ts = self.slack.post_message(build_approval_message(view, self.clock()))
        self.store.set_message(view.request_id, channel_id, ts)
        return {"notified": True, "request_id": view.request_id}


# --------------------------------------------------------------------------------------------------
# The Slack callback (its own function URL)
# --------------------------------------------------------------------------------------------------


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body),
    }


def _raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not isinstance(body, str):
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            return b""
    return body.encode("utf-8")


def callback_record(
    *,
    reason: ReasonCode,
    accepted: bool,
    now: float,
    target_request_id: str = "",
    slack_user_id: str = "",
    approver_email: str = "",
    decision: str = "",
    source_ip: str = "",
    user_agent: str = "",
) -> dict[str, Any]:
    """Audit record of one Slack callback (accepted or rejected), with a fresh id: ``AuditRecord.callback``."""
    return AuditRecord.callback(
        request_id=f"cb-{uuid.uuid4().hex}",
        reason=reason,
        accepted=accepted,
        now=now,
        target_request_id=target_request_id,
        slack_user_id=slack_user_id,
        approver_email=approver_email,
        decision=decision,
        source_ip=source_ip,
        user_agent=user_agent,
    ).model_dump(mode="json")


class ApprovalCallback:
    def __init__(
        self,
        store: ApprovalStorePort,
        tasks: TaskTokensPort,
        slack: SlackApi,
        slack_secret: Callable[[], Mapping[str, Any]],
        directory: ApproverDirectory | None,
        audit: Callable[[dict[str, Any]], Any],
        *,
        response_url_prefixes: Sequence[str] = SLACK_RESPONSE_URL_PREFIXES,
        result_ttl_seconds: int = 86_400,
        clock: Callable[[], float] = time.time,
        log_error: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.slack = slack
        self.slack_secret = slack_secret
        self.directory = directory
        self.audit_sink = audit
        self.prefixes = tuple(response_url_prefixes)
        self.result_ttl = result_ttl_seconds
        self.clock = clock
        self.log_error = log_error or (lambda msg, extra: None)

    # --- helpers -------------------------------------------------------------------------------------
    def _audit(self, event: Mapping[str, Any], now: float, reason: ReasonCode, **kw: Any) -> None:
        http = ((event.get("requestContext") or {}).get("http") or {}) if isinstance(event, Mapping) else {}
        record = callback_record(
            reason=reason,
            now=now,
            source_ip=str(http.get("sourceIp", "")),
            user_agent=str(http.get("userAgent", "")),
            **kw,
        )
        for attempt in range(AUDIT_ATTEMPTS):  # idempotent: the record's id is unique, a repeat is a no-op
            try:
                self.audit_sink(record)
                return
            except Exception:  # noqa: BLE001 - the answer to Slack must not depend on the audit sink's health
                if attempt == AUDIT_ATTEMPTS - 1:
                    self.log_error("approval callback audit write failed", {"reason": reason.value, "record": record})

    def _reject(
        self, event: Mapping[str, Any], now: float, status: int, reason: ReasonCode, **kw: Any
    ) -> dict[str, Any]:
        self._audit(event, now, reason, accepted=False, **kw)
        if status in (400, 401):  # unauthenticated callers learn nothing beyond "no"
            return _response(status, {"ok": False, "error": "invalid_request"})
        return _response(status, {"ok": False, "reason": reason.value})

    # --- the handler ---------------------------------------------------------------------------------
    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        method = (((event.get("requestContext") or {}).get("http") or {}).get("method") or "").upper()
        if method != "POST":
            return _response(405, {"ok": False, "error": "method_not_allowed"})
        raw = _raw_body(event)
        headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
        if len(raw) > MAX_BODY_BYTES:
            return self._reject(event, now, 400, ReasonCode.CALLBACK_MALFORMED)
        try:
            _, signing_secrets, channel = slack_config(self.slack_secret())
        except ConfigError:
            self._audit(event, now, ReasonCode.INTERNAL_ERROR, accepted=False)
            return _response(503, {"ok": False, "error": "unavailable"})
        try:
            verify_slack_signature(headers, raw, signing_secrets, now)
        except SignatureError as exc:
            return self._reject(event, now, 401, exc.code)
        signature = next(v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower())
        timestamp = next(v for k, v in headers.items() if k.lower() == TIMESTAMP_HEADER.lower())
        nonce = hashlib.sha256(f"{timestamp.strip()}:{signature.strip()}".encode()).hexdigest()
        if not self.store.claim_nonce(nonce, now):
            return self._reject(event, now, 200, ReasonCode.CALLBACK_REPLAY)
        try:
            interaction = parse_interaction(raw, response_url_prefixes=self.prefixes)
        except SignatureError as exc:
            return self._reject(event, now, 400, exc.code)
        return self._decide(event, now, interaction, channel)

    def _decide(self, event: Mapping[str, Any], now: float, it: Interaction, channel: str) -> dict[str, Any]:
        who = {"target_request_id": it.request_id, "slack_user_id": it.slack_user_id}
        if self.directory is None:
            return self._reject(event, now, 200, ReasonCode.POLICY_UNAVAILABLE, **who)
        approver_email = self.directory.email_of(it.slack_user_id) or ""
        who["approver_email"] = approver_email
        item = self.store.get(it.request_id)
        if item is None:
            return self._reject(event, now, 200, ReasonCode.NOT_FOUND, **who)
        status = _s(item, "status")
        try:
            pending = PendingApproval(
                request_id=_s(item, "pk"),
                request_hash=_s(item, "request_hash"),
                requester_email=_s(item, "requester"),
                expires_at=_n(item, "approval_expires_at"),
                status=status if status in STATUSES else "DENIED",
            )
            decision = authorize_decision(pending, it, self.directory, now, require_known_email=True)
        except ApprovalError as exc:
            return self._reject(event, now, 200, exc.code, **who)
        except ValidationError:
            return self._reject(event, now, 200, ReasonCode.INTERNAL_ERROR, **who)
        decided_by = approver_email or f"slack:{it.slack_user_id}"
        if not self.store.decide(it.request_id, pending.request_hash, decision, decided_by, it.slack_user_id, now):
            return self._reject(event, now, 200, ReasonCode.ALREADY_DECIDED, **who)
        # This click won the one conditional write: it alone may resume the workflow.
        output = {
            "decision": decision,
            "approver": decided_by,
            "approver_slack_id": it.slack_user_id,
            "decided_at": int(now),
            "result_expires_at": str(int(now) + self.result_ttl),
        }
        label: Literal["approved", "denied", "expired"] = "approved" if decision == "APPROVED" else "denied"
        if not self.tasks.send_success(_s(item, "task_token"), output):  # the workflow timed out meanwhile
            self.store.mark_expired_after(it.request_id, decision)
            self._audit(event, now, ReasonCode.APPROVAL_EXPIRED, accepted=False, decision=decision, **who)
            self._update_message(item, channel, "expired", "gateway", now)
            return _response(200, {"ok": False, "reason": ReasonCode.APPROVAL_EXPIRED.value})
        reason = ReasonCode.ALLOWED if decision == "APPROVED" else ReasonCode.APPROVAL_DENIED
        self._audit(event, now, reason, accepted=True, decision=decision, **who)
        self._update_message(item, channel, label, decided_by, now)
        return _response(200, {"ok": True, "decision": decision})

    def _update_message(
        self,
        item: Mapping[str, Any],
        channel: str,
        label: Literal["approved", "denied", "expired"],
        by: str,
        now: float,
    ) -> None:
        ts = _s(item, "slack_ts")
        if not ts or ts == "-":
            return
        try:
            view = approval_view(item, channel)
            self.slack.update_message(
                _s(item, "slack_channel") or channel, ts, build_decided_message(view, label, by, now)
            )
        except (SlackApiError, ValidationError, ValueError) as exc:
            self.log_error("chat.update failed", {"error": type(exc).__name__})
