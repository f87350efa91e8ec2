"""Validate step: one authorization decision for one canonical ActionRequest.

Everything that can go wrong here ends in a DENY decision (never an exception that skips checks):
a policy that failed to load, a malformed request, a missing HMAC key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aws_lambda_powertools.utilities.parser import parse
from pydantic import ValidationError

from ..adapters.dynamo_codec import from_item, to_item
from ..domain import ratelimit
from ..domain.approval import request_hash as approval_request_hash
from ..domain.contracts import (
    ApprovalTicket,
    BudgetLimits,
    DataLimits,
    IntentRecord,
    NoApproval,
    RateKeys,
    RejectedRequest,
    Timings,
    ValidatedRequest,
    ValidateInput,
    ValidateOutput,
    WindowLimits,
    WorkflowDecision,
    WorkflowRequest,
)
from ..domain.errors import GatewayError, PolicyError, ReasonCode
from ..domain.models import ActionRequest, Decision, Outcome, Tier
from ..domain.policy import READ_ONLY_LEVELS, DataBudgets, Policy, deny_everything, evaluate
from ..domain.redaction import RedactionConfig, Redactor
from ..domain.session import SessionState, observe, slice_expires_at, slice_keys

MAX_SANITIZED_PARAM_BYTES = 16_384
# Calls counted against the data budget "objects read per window" (HeadObject maps to s3:GetObject).
OBJECT_READ_ACTIONS = frozenset({"s3:GetObject", "s3:GetObjectVersion"})


def intent_item(record: IntentRecord) -> dict[str, Any]:
    """The intent record as the DynamoDB item the AuditIntent state puts (``Item.$``)."""
    return to_item(record.model_dump(mode="json"))


def intent_record(item: Mapping[str, Any]) -> IntentRecord:
    """The intent record back from its DynamoDB item."""
    return IntentRecord.model_validate(from_item(item))


def _budget_fields(email: str, now: float, tier: Tier, budgets: DataBudgets, count_object: bool) -> dict[str, Any]:
    """The workflow's data-budget inputs: the day's bytes counter (pre-check, then post-Execute accounting)
    and the objects-per-window counter. DynamoDB numbers travel as strings (the ``N`` type)."""
    day_retry = ratelimit.retry_after(now, ratelimit.DAY_SECONDS)
    obj_retry = ratelimit.retry_after(now, budgets.window_seconds)
    return {
        "bytes_key": ratelimit.day_key(email, now),
        "bytes_budget": str(budgets.bytes_per_day),
        "bytes_expires_at": str(ratelimit.expires_at(now, ratelimit.DAY_SECONDS)),
        "bytes_hint": f"the daily data budget is used up; wait {day_retry} s (UTC midnight)",
        "bytes_limits": BudgetLimits(
            budget="bytes_per_day",
            tier=tier.value,
            limit=budgets.bytes_per_day,
            window_seconds=ratelimit.DAY_SECONDS,
            retry_after_seconds=day_retry,
        ),
        "count_object": count_object,
        "objects_key": ratelimit.counter_key(email, "objects", now, budgets.window_seconds),
        "objects_limit": str(budgets.objects_per_window),
        "objects_hint": f"wait {obj_retry} s before reading more objects",
        "objects_limits": BudgetLimits(
            budget="objects_per_window",
            tier=tier.value,
            limit=budgets.objects_per_window,
            window_seconds=budgets.window_seconds,
            retry_after_seconds=obj_retry,
        ),
    }


def _zero_quota_decision(
    decision: WorkflowDecision,
    rate: RateKeys,
    tier_limit: int,
    global_limit: int,
    budgets: DataBudgets,
    count_object: bool,
) -> WorkflowDecision:
    """A quota of 0 is decided here: the counters' condition admits the first call on a missing item."""
    zero: list[tuple[ReasonCode, str, str, WindowLimits | BudgetLimits]] = []
    if tier_limit <= 0:
        zero.append((ReasonCode.THROTTLED, rate.tier_rule, rate.tier_hint, rate.tier_limits))
    if global_limit <= 0:
        zero.append((ReasonCode.THROTTLED, "rate.global-per-user", rate.global_hint, rate.global_limits))
    if budgets.bytes_per_day <= 0:
        zero.append((ReasonCode.DATA_BUDGET_EXCEEDED, "budget.bytes-per-day", rate.bytes_hint, rate.bytes_limits))
    if count_object and budgets.objects_per_window <= 0:
        zero.append(
            (ReasonCode.DATA_BUDGET_EXCEEDED, "budget.objects-per-window", rate.objects_hint, rate.objects_limits)
        )
    if not zero:
        return decision
    reason, rule_id, hint, limits = zero[0]
    return WorkflowDecision.model_validate(
        {
            **decision.model_dump(mode="json"),
            "outcome": Outcome.DENY.value,
            "reason": reason.value,
            "rule_id": rule_id,
            "hint": hint,
            "message": "",
            "limits": limits.model_dump(mode="json"),
        }
    )


def prompt_hmac(key: bytes, intent: str) -> str:
    if not intent:
        return ""
    return hmac.new(key, intent.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def redactor_for(policy: Policy | None) -> Redactor:
    if policy is None:
        return Redactor(RedactionConfig())
    return Redactor(
        RedactionConfig(
            pii_classes=frozenset(policy.redaction.pii_classes),
            customer_id_patterns=policy.redaction.customer_id_patterns,
        )
    )


def _sanitized(redactor: Redactor, params: dict[str, Any]) -> dict[str, Any]:
    clean, _ = redactor.redact_value(params, pii=True)
    text = json.dumps(clean, default=str)
    if len(text) > MAX_SANITIZED_PARAM_BYTES:
        return {"_truncated": text[:MAX_SANITIZED_PARAM_BYTES]}
    return clean if isinstance(clean, dict) else {"_value": clean}


def _request_hash(request: WorkflowRequest) -> str:
    """The hash approvers see and the callback checks: the pure core's canonical request hash."""
    try:
        return approval_request_hash(
            request.action,
            list(request.resources),
            dict(request.parameters) if isinstance(request, ValidatedRequest) else {},
            request.principal.email,
            request.request_id,
        )
    except (GatewayError, TypeError):
        return ""  # no hash: no callback can ever match it, so the request can only expire (fail closed)


class Validator:
    """Holds what a cold start loads: the policy (or why it failed) and the HMAC key."""

    def __init__(self, policy: Policy | None, policy_error: str, hmac_key: bytes | None, clock: Any = time.time):
        self.policy = policy
        self.policy_error = policy_error
        self.hmac_key = hmac_key
        self.clock = clock
        self.redactor = redactor_for(policy)
        self.retention_days = 90  # TTL floor of intent records: the audit retention (template parameter)
        self.sessions: SessionStorePort | None = None  # session behaviour (domain.session); None: not checked

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        started = self.clock()
        raw_request: Mapping[str, Any]
        try:
            raw_request = parse(event=event, model=ValidateInput).request
        except ValidationError:  # still named in the audit record, as far as its fields allow
            raw = event.get("request") if isinstance(event, dict) else None
            raw_request = raw if isinstance(raw, dict) else {}
        decision: Decision
        request_out: WorkflowRequest
        try:
            request: ActionRequest | None = ActionRequest.model_validate(raw_request)
        except ValidationError:
            request = None
        if request is None:
            decision = Decision(
                outcome=Outcome.DENY,
                reason=ReasonCode.INVALID_INPUT,
                rule_id="input.schema",
                message="the request did not match the canonical schema",
            )
            request_out = RejectedRequest.from_raw(raw_request)
        else:
            if self.policy is None:
                decision = deny_everything(self.policy_error or "policy unavailable")
            elif self.hmac_key is None:
                decision = Decision(
                    outcome=Outcome.DENY,
                    reason=ReasonCode.INTERNAL_ERROR,
                    rule_id="config.hmac-key",
                    message="the prompt HMAC key is unavailable",
                )
            else:
                try:
                    decision = evaluate(self.policy, request)
                    if decision.outcome is not Outcome.DENY and self.sessions is not None:
                        decision = self._with_session(self.policy, self.sessions, request)
                except GatewayError as exc:
                    decision = Decision(outcome=Outcome.DENY, reason=exc.code, rule_id=exc.rule_id or "validate.error")
            out = request.model_dump(mode="json", exclude={"intent"})
            out["prompt_hmac"] = prompt_hmac(self.hmac_key, request.intent) if self.hmac_key is not None else ""
            out["parameters_sanitized"] = _sanitized(self.redactor, request.parameters)
            # the resources travel into the audit record and the Slack message: an S3 key or log group name
            # holding a secret is redacted there (secrets only: ARNs stay queryable); policy already decided
            out["resources"] = [self.redactor.redact_text(r, pii=False).text for r in request.resources]
            request_out = ValidatedRequest.model_validate(out)
        return self._output(request_out, decision, started).model_dump(mode="json")

    def _with_session(self, policy: Policy, sessions: SessionStorePort, request: ActionRequest) -> Decision:
        """The decision with the caller's session behaviour: the state before this call plus the call itself.

        Record first, then decide: the call's observation is added to the current slice with one atomic
        UpdateItem that returns the slice as it was just before (``ALL_OLD``), and the older slices are read.
        DynamoDB orders concurrent updates of one item, so N calls sent at once each see the ones ordered
        before them: a burst of parallel reads across many buckets trips the threshold exactly where the same
        calls sent one by one would (reading first and recording after would let every call of the burst see
        the same empty window). A call this check stops stays recorded (the stricter side). A store failure
        fails closed, except for the tiers the policy lets fail open (never writes)."""
        session = policy.session
        now = request.requested_at
        keys = slice_keys(request.principal.sub, now, session)
        write = policy.access_level(request.action) not in READ_ONLY_LEVELS
        try:
            observation = observe(request, session, write=write)
            if observation.empty:
                items = sessions.read(keys)
            else:
                items = sessions.read(keys[1:]) if len(keys) > 1 else []
                before = sessions.record(keys[0], observation.as_update(), slice_expires_at(now, session))
                if before is not None:
                    items.append(before)
            decision = evaluate(policy, request, SessionState.from_items(items, now, session))
        except Exception:  # noqa: BLE001 - the session table is unavailable: fail closed (see docstring)
            fallback = evaluate(policy, request)
            if not write and fallback.tier in policy.rate_limits.fail_open_tiers:
                return fallback
            return Decision(
                outcome=Outcome.DENY,
                reason=ReasonCode.RATE_LIMIT_UNAVAILABLE,
                rule_id="session.unavailable",
                tier=fallback.tier,
                hint="the gateway cannot read your session's recent activity right now; retry in a minute",
                message="session behaviour store unavailable",
                policy_version=fallback.policy_version,
            )
        return decision

    def _output(self, request: WorkflowRequest, decision: Decision, started: float) -> ValidateOutput:
        now = self.clock()
        email = request.principal.email
        groups = tuple(request.principal.groups)
        policy = self.policy
        tier = decision.tier or Tier.WRITE
        if policy is not None:
            tier_limit = policy.tier_limit(tier, groups)
            global_limit = policy.rate_limits.global_per_user
            fail_open = tier in policy.rate_limits.fail_open_tiers
            budgets = policy.data_budgets
            data_limits = policy.data_limits_for(groups)
            limits = DataLimits(
                # the caller's limits: policy-wide, raised by group overrides (as evaluate enforces them)
                max_object_bytes=data_limits.max_object_bytes,
                max_result_bytes=data_limits.max_result_bytes,
                max_log_time_range_seconds=data_limits.max_log_time_range_seconds,
                see_pii=policy.sees_pii(groups),
                pii_classes=list(policy.redaction.pii_classes),
                customer_id_patterns=list(policy.redaction.customer_id_patterns),
            )
            review_timeout = policy.review.timeout_seconds
        else:
            from ..domain.policy import RateTier

            tier_limit = RateTier(limit=0)
            global_limit = RateTier(limit=0)
            fail_open = False
            budgets = DataBudgets(bytes_per_day=0, objects_per_window=0)
            limits = DataLimits(max_object_bytes=0, max_result_bytes=1024, see_pii=False)
            review_timeout = 900
        decision_out = WorkflowDecision.model_validate(decision.model_dump(mode="json"))
        if decision.outcome is not Outcome.DENY:
            decision_out = decision_out.model_copy(
                update={"limits": {"tier_limit": tier_limit.limit, "window_seconds": tier_limit.window_seconds}}
            )
        request_id = request.request_id
        count_object = request.action in OBJECT_READ_ACTIONS
        budget = _budget_fields(email, now, tier, budgets, count_object)
        rate = RateKeys(
            tier_key=ratelimit.counter_key(email, tier, now, tier_limit.window_seconds),
            tier_limit=str(tier_limit.limit),
            tier_rule=f"rate.{tier.value}",
            tier_hint=f"wait {ratelimit.retry_after(now, tier_limit.window_seconds)} s before retrying",
            tier_limits=WindowLimits(
                tier=tier.value,
                limit=tier_limit.limit,
                window_seconds=tier_limit.window_seconds,
                retry_after_seconds=ratelimit.retry_after(now, tier_limit.window_seconds),
            ),
            global_key=ratelimit.counter_key(email, "all", now, global_limit.window_seconds),
            global_limit=str(global_limit.limit),
            global_hint=f"wait {ratelimit.retry_after(now, global_limit.window_seconds)} s before retrying",
            global_limits=WindowLimits(
                tier="all",
                limit=global_limit.limit,
                window_seconds=global_limit.window_seconds,
                retry_after_seconds=ratelimit.retry_after(now, global_limit.window_seconds),
            ),
            expires_at=str(
                ratelimit.expires_at(
                    now, max(tier_limit.window_seconds, global_limit.window_seconds, budgets.window_seconds)
                )
            ),
            fail_open=fail_open,
            **budget,
        )
        if decision.outcome is not Outcome.DENY:
            decision_out = _zero_quota_decision(
                decision_out, rate, tier_limit.limit, global_limit.limit, budgets, count_object
            )
        approval: ApprovalTicket | NoApproval = NoApproval()
        if decision.outcome is Outcome.REVIEW:
            approval = ApprovalTicket(
                approval_id=request_id,
                request_hash=_request_hash(request),
                expires_at=int(now) + review_timeout,
                timeout_seconds=review_timeout,
            )
        intent = IntentRecord.build(
            request_id,
            email,
            request.action,
            request.resources,
            request.prompt_hmac if isinstance(request, ValidatedRequest) else "",
            now,
            self.retention_days,
        )
        return ValidateOutput(
            request=request,
            decision=decision_out,
            rate=rate,
            limits=limits,
            intent_item=intent_item(intent),
            approval=approval,
            timings=Timings(validate_ms=round((self.clock() - started) * 1000, 2)),
        )


class SessionStorePort(Protocol):
    """Reads a principal's session window and records one call (adapters/session_store.py)."""

    def read(self, keys: Sequence[str]) -> list[dict[str, Any]]: ...

    def record(self, key: str, update: Mapping[str, list[str] | int], expires_at: int) -> dict[str, Any] | None:
        """Add one call to the slice ``key`` atomically; the slice's plain item as it was before, or None."""
        ...


def build_validator(load_policy: Any, load_hmac_key: Any) -> Validator:
    """Cold start: load the policy and key once; remember failures so every decision denies."""
    policy: Policy | None = None
    error = ""
    try:
        policy = load_policy()
    except PolicyError as exc:
        error = exc.message
    except Exception as exc:  # noqa: BLE001 - anything else is also a policy failure: deny everything
        error = f"policy failed to load: {type(exc).__name__}"
    key: bytes | None
    try:
        key = load_hmac_key()
    except Exception:  # noqa: BLE001 - decisions deny with config.hmac-key
        key = None
    return Validator(policy, error, key)
