"""Typed contracts of the workflows: what each Step Functions state consumes and produces. Pure.

The request workflow (``statemachine/request.asl.json``) and the approval workflow
(``statemachine/approval.asl.json``) pass one JSON state from state to state. Its shape is defined here,
once, and ``tests/unit/test_asl_contracts.py`` checks every JSONPath of both ASL files against these
models' JSON Schema, so a renamed field cannot silently break a ``$.rate.*`` read.

- ``ValidateInput`` -> ``ValidateOutput``: the Validate function (request, decision, rate keys and limits,
  data limits, the write-ahead intent item, the approval ticket, timings).
- ``ExecuteInput`` -> ``ExecuteResult``: the Execute function (wrapped as ``$.execution.result``).
- ``ApprovalInput``, ``ApprovalResult``: the approval workflow's input and the Slack callback's task output.
- ``WorkflowState``: everything any state of either workflow may hold (what the Audit function receives).
- ``AuditRecord``: the one outcome record, with a constructor per outcome kind; ``AuditResponse``: what the
  gateway turns into the MCP tool result.

Every model forbids unknown fields and bounds every string. Fields listed in a model's ``_optional`` are
keys that may be absent: they are left out of ``model_dump()`` unless they were set, so a parsed state
dumps back to exactly the JSON it came from. DynamoDB-typed values (``{"S": ...}``) are only *described*
here (``DynamoItem``); turning a plain record into one is the adapters' job (boto3's ``TypeSerializer``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    field_validator,
    model_serializer,
)

from .errors import ReasonCode
from .models import Outcome, Tier, Traceparent

# No string in a workflow state can be longer than the state itself (Step Functions' payload limit).
MAX_STATE_BYTES = 262_144
RECORD_VERSION = 1
INTENT_RESOURCES_CHARS = 4000
DAY_SECONDS = 86_400

Str32 = Annotated[str, StringConstraints(max_length=32)]
Str64 = Annotated[str, StringConstraints(max_length=64)]
Str80 = Annotated[str, StringConstraints(max_length=80)]
Str200 = Annotated[str, StringConstraints(max_length=200)]
Str256 = Annotated[str, StringConstraints(max_length=256)]
Str512 = Annotated[str, StringConstraints(max_length=512)]
Str2k = Annotated[str, StringConstraints(max_length=2048)]
Str4k = Annotated[str, StringConstraints(max_length=4096)]
Str8k = Annotated[str, StringConstraints(max_length=8192)]
Str32k = Annotated[str, StringConstraints(max_length=32_768)]
Address = Annotated[str, StringConstraints(max_length=400)]  # an e-mail, "slack:<id>", "unknown", ...
# A DynamoDB number travels as a string (the ``N`` type), which is what ``N.$`` in the ASL needs.
DynamoNumber = Annotated[str, StringConstraints(max_length=40, pattern=r"^-?[0-9]+(\.[0-9]+)?$")]
JsonObject = dict[Str256, JsonValue]
Counts = dict[Str64, int]

Status = Literal["ok", "error", "denied", "throttled", "pending", "accepted"]
STATUS_BY_REASON: dict[str, Status] = {
    ReasonCode.THROTTLED.value: "throttled",
    ReasonCode.DATA_BUDGET_EXCEEDED.value: "throttled",
    ReasonCode.REVIEW_REQUIRED.value: "pending",
}


class Contract(BaseModel):
    """Base of every workflow contract: unknown fields rejected, strings bounded, optional keys omitted."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=MAX_STATE_BYTES)
    _optional: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_unset_optional(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self._optional - self.model_fields_set:
            data.pop(name, None)
        return data


# --------------------------------------------------------------------------------------------------
# The request as it travels through the workflow
# --------------------------------------------------------------------------------------------------


class WorkflowPrincipal(Contract):
    """The caller. A request that failed validation keeps only its bounded identifying fields."""

    _optional = frozenset({"sub", "expires_at"})
    sub: Str256 = ""
    email: Address
    groups: list[Str256] = Field(default_factory=list, max_length=64)
    token_id: Str256 = ""
    expires_at: int = 0


class CallContextOut(Contract):
    """Where the call came from; ``traceparent`` (the caller's W3C trace, absent when it sent none) is what
    every function of both workflows appends to its log lines (``observability.step``)."""

    _optional = frozenset({"traceparent"})
    source_ip: Str256 = ""
    user_agent: Str256 = ""
    traceparent: Traceparent = ""


class ValidatedRequest(Contract):
    """A request that passed the canonical schema: the ``ActionRequest`` without its intent (only the
    prompt's HMAC is kept), with the redacted resources and a sanitized copy of the parameters."""

    _optional = frozenset({"parameters_sanitized"})
    request_id: Str80
    tool: Str256
    service: Str64
    operation: Str200
    action: Str200
    parameters: JsonObject = Field(default_factory=dict)
    resources: list[Str4k] = Field(default_factory=list, max_length=100)
    prompt_hmac: Str256 = ""
    principal: WorkflowPrincipal
    context: CallContextOut = CallContextOut()
    requested_at: float = Field(ge=0)
    parameters_sanitized: JsonObject = Field(default_factory=dict)


class RejectedRequest(Contract):
    """The identifying fields of a request that failed validation, bounded and typed (for the audit)."""

    request_id: Str80
    tool: Str64
    service: Str64
    action: Str200
    resources: list[Str4k] = Field(default_factory=list, max_length=100)
    principal: WorkflowPrincipal
    parameters_sanitized: JsonObject = Field(default_factory=dict)
    requested_at: int | float = 0

    @classmethod
    def from_raw(cls, raw: Any) -> RejectedRequest:
        raw = raw if isinstance(raw, Mapping) else {}
        principal = raw.get("principal") if isinstance(raw.get("principal"), Mapping) else {}

        def s(v: Any, n: int = 256) -> str:
            return v[:n] if isinstance(v, str) else ""

        rid = s(raw.get("request_id"), 80)
        requested_at = raw.get("requested_at")
        return cls(
            request_id=rid if rid.replace("-", "").replace("_", "").isalnum() and len(rid) >= 8 else "invalid-request",
            tool=s(raw.get("tool"), 64),
            service=s(raw.get("service"), 40),
            action=s(raw.get("action"), 140),
            resources=[],
            principal=WorkflowPrincipal(
                email=s(principal.get("email"), 320) or "unknown",
                groups=[],
                token_id=s(principal.get("token_id"), 64),
            ),
            parameters_sanitized={},
            requested_at=requested_at
            if isinstance(requested_at, int | float) and not isinstance(requested_at, bool)
            else 0,
        )


WorkflowRequest = ValidatedRequest | RejectedRequest


def _strip_intent(value: Any) -> Any:
    """The gateway's request still carries the agent's intent until Validate replaces it with its HMAC
    (a state caught before Validate answered holds that request): the intent never goes further."""
    if isinstance(value, Mapping) and "intent" in value:
        return {k: v for k, v in value.items() if k != "intent"}
    return value


# --------------------------------------------------------------------------------------------------
# Validate
# --------------------------------------------------------------------------------------------------


class ValidateInput(Contract):
    """The gateway's payload. The request is checked against ``ActionRequest`` inside Validate, so a
    malformed one becomes a DENY decision (with an audit record) rather than a failed state."""

    request: JsonObject = Field(default_factory=dict)


class WorkflowDecision(Contract):
    """Validate's decision, or the one a Pass state of the workflow puts in its place (which has no tier)."""

    _optional = frozenset({"tier", "signals"})
    outcome: Outcome = Outcome.DENY
    reason: ReasonCode = ReasonCode.INTERNAL_ERROR
    rule_id: Str256 = ""
    tier: Tier | None = None
    hint: Str2k = ""
    message: Str2k = ""
    policy_version: Str256 = ""
    limits: dict[Str64, int | Str64] = Field(default_factory=dict, max_length=16)
    signals: list[Str256] = Field(default_factory=list, max_length=32)  # intent/session signals (issue 21)


class WindowLimits(Contract):
    """A fixed-window rate limit, as a throttled caller is told about it."""

    tier: Str32
    limit: int
    window_seconds: int
    retry_after_seconds: int


class BudgetLimits(Contract):
    """A data budget, as a caller who used it up is told about it."""

    budget: Literal["bytes_per_day", "objects_per_window"]
    tier: Str32
    limit: int
    window_seconds: int
    retry_after_seconds: int


class RateKeys(Contract):
    """What the RateCheck and Budget states feed to their DynamoDB ``updateItem`` (numbers as ``N``
    strings), and what their Pass states put in the decision when a condition fails."""

    tier_key: Str512
    tier_limit: DynamoNumber
    tier_rule: Str64
    tier_hint: Str256
    tier_limits: WindowLimits
    global_key: Str512
    global_limit: DynamoNumber
    global_hint: Str256
    global_limits: WindowLimits
    expires_at: DynamoNumber
    fail_open: bool
    bytes_key: Str512
    bytes_budget: DynamoNumber
    bytes_expires_at: DynamoNumber
    bytes_hint: Str256
    bytes_limits: BudgetLimits
    count_object: bool
    objects_key: Str512
    objects_limit: DynamoNumber
    objects_hint: Str256
    objects_limits: BudgetLimits


class DataLimits(Contract):
    """The caller's data limits and redaction settings, as Execute applies them."""

    _optional = frozenset({"max_log_time_range_seconds", "pii_classes", "customer_id_patterns"})
    max_object_bytes: int
    max_result_bytes: int
    max_log_time_range_seconds: int = 0
    see_pii: bool
    pii_classes: list[Str32] = Field(default_factory=list, max_length=16)
    customer_id_patterns: list[Str256] = Field(default_factory=list, max_length=64)


class StringAttribute(Contract):
    S: Str8k


class NumberAttribute(Contract):
    N: DynamoNumber


DynamoItem = dict[Str64, StringAttribute | NumberAttribute]


class IntentRecord(Contract):
    """The write-ahead intent record (plain-typed; the AuditIntent state puts it as a DynamoDB item)."""

    pk: Str80
    sk: Literal["intent"] = "intent"
    kind: Literal["intent"] = "intent"
    requester: Address
    action: Str200
    resources_json: Annotated[str, StringConstraints(max_length=INTENT_RESOURCES_CHARS)]
    prompt_hmac: Str256
    at_ms: int
    expires_at: int

    @classmethod
    def build(
        cls,
        request_id: str,
        requester: str,
        action: str,
        resources: Sequence[str],
        prompt_hmac: str,
        now: float,
        retention_days: int,
    ) -> IntentRecord:
        return cls(
            pk=request_id,
            requester=requester,
            action=action,
            resources_json=json.dumps(list(resources))[:INTENT_RESOURCES_CHARS],
            prompt_hmac=prompt_hmac or "-",  # DynamoDB index keys cannot be empty strings
            at_ms=int(now * 1000),
            expires_at=int(now) + (retention_days + 1) * DAY_SECONDS,
        )


class ApprovalTicket(Contract):
    """A request sent to review: the approval it waits for. The approval workflow adds the approver."""

    _optional = frozenset({"approver"})
    approval_id: Str80
    request_hash: Str64
    expires_at: int
    timeout_seconds: int
    approver: Address = ""


class NoApproval(Contract):
    """A request that is not waiting for a human (``{}``)."""


class Timings(Contract):
    validate_ms: float


class ValidateOutput(Contract):
    request: WorkflowRequest
    decision: WorkflowDecision
    rate: RateKeys
    limits: DataLimits
    intent_item: DynamoItem
    approval: ApprovalTicket | NoApproval
    timings: Timings


# --------------------------------------------------------------------------------------------------
# Execute
# --------------------------------------------------------------------------------------------------


class ExecuteInput(Contract):
    request: ValidatedRequest
    limits: DataLimits


class ExecuteResult(Contract):
    """One action's (already redacted) result, or why there is none. The workflow's own fail-closed states
    (ExecuteFailed, AccountingWithheld) write the same shape."""

    _optional = frozenset(
        {"reason", "message", "data", "redactions", "bytes_returned", "truncated", "continuation", "duration_ms"}
    )
    status: Literal["ok", "error"]
    reason: ReasonCode | Literal[""] = ""
    message: Str4k = ""
    data: JsonValue = None
    redactions: Counts = Field(default_factory=dict)
    bytes_returned: int = 0
    truncated: bool = False
    continuation: JsonObject = Field(default_factory=dict)
    duration_ms: int | float = 0


class Execution(Contract):
    result: ExecuteResult


# --------------------------------------------------------------------------------------------------
# The approval workflow and the whole state
# --------------------------------------------------------------------------------------------------


class StepError(Contract):
    """What a Catch writes at its ResultPath."""

    Error: Str256 = ""
    Cause: Str32k = ""


class Reservation(Contract):
    """What ReserveRefused writes: the cancelled reservation transaction's reasons, one per item in order
    (``None``, ``ConditionalCheckFailed``, ...; every item after the first keeps the space that follows its comma)."""

    reasons: list[Str64] = Field(default_factory=list, max_length=16)


class ApprovalInput(Contract):
    """What StartApproval hands the approval workflow (Validate's output, minus timings)."""

    _optional = frozenset({"rate"})
    request: ValidatedRequest
    decision: WorkflowDecision
    limits: DataLimits
    approval: ApprovalTicket
    intent_item: DynamoItem
    rate: RateKeys | None = None

    @field_validator("request", mode="before")
    @classmethod
    def drop_intent(cls, value: Any) -> Any:
        return _strip_intent(value)


class NotifyApproversInput(Contract):
    task_token: Str8k
    request: ValidatedRequest
    decision: WorkflowDecision
    approval: ApprovalTicket


class ApprovalResult(Contract):
    """The output the Slack callback's SendTaskSuccess resumes NotifyApprovers with."""

    decision: Literal["APPROVED", "DENIED"]
    approver: Address
    approver_slack_id: Str64
    decided_at: int
    result_expires_at: DynamoNumber


class WorkflowState(Contract):
    """Every key any state of either workflow may hold: what the Audit function receives (and what a
    dead-lettered state holds when ``mcp-gateway audit replay`` re-applies it)."""

    _optional = frozenset(
        {
            "decision",
            "rate",
            "limits",
            "intent_item",
            "approval",
            "timings",
            "execution",
            "error",
            "stage",
            "approval_result",
            "result_expires_at",
            "mark_error",
            "store_error",
            "audit_error",
            "dlq_error",
            "reserve",
        }
    )
    request: WorkflowRequest
    decision: WorkflowDecision = WorkflowDecision()
    rate: RateKeys | None = None
    limits: DataLimits | None = None
    intent_item: DynamoItem = Field(default_factory=dict)
    approval: ApprovalTicket | NoApproval = NoApproval()
    timings: Timings | None = None
    execution: Execution | None = None
    error: StepError | None = None
    stage: Literal["approval"] | None = None
    approval_result: ApprovalResult | None = None
    result_expires_at: DynamoNumber | None = None
    mark_error: StepError | None = None
    store_error: StepError | None = None
    audit_error: StepError | None = None
    dlq_error: StepError | None = None  # the dead-letter queue refused the state too (then AuditLost)
    reserve: Reservation | None = None  # the reservation transaction was cancelled (ReserveRefused)

    @field_validator("request", mode="before")
    @classmethod
    def drop_intent(cls, value: Any) -> Any:
        return _strip_intent(value)

    @classmethod
    def read(cls, raw: Any) -> WorkflowState:
        """The state, or (if it does not match its contract) a fail-closed stand-in that still names the
        request: DENY ``WORKFLOW_ERROR``, so an unreadable state is audited, never lost or executed."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raw = raw if isinstance(raw, Mapping) else {}
            where = ".".join(str(p) for p in exc.errors()[0]["loc"])[:200] if exc.errors() else ""
            values: dict[str, Any] = {
                "request": RejectedRequest.from_raw(raw.get("request")),
                "decision": WorkflowDecision(
                    outcome=Outcome.DENY, reason=ReasonCode.WORKFLOW_ERROR, rule_id="audit.invalid-state"
                ),
                "error": StepError(Error="InvalidWorkflowState", Cause=where),
            }
            if raw.get("stage") == "approval":  # keeps its own sort key: not a duplicate of the pending outcome
                values["stage"] = "approval"
            if raw.get("audit_error") is not None:
                values["audit_error"] = StepError()
            return cls(**values)

    @property
    def result(self) -> ExecuteResult | None:
        return self.execution.result if self.execution is not None else None


class DeferredAudit(Contract):
    """The request workflow's output when the outcome record went to the dead-letter queue."""

    deferred: Literal[True]
    state: WorkflowState


# --------------------------------------------------------------------------------------------------
# The audit record and the response
# --------------------------------------------------------------------------------------------------


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outcome_status(decision: WorkflowDecision, execution: ExecuteResult | None) -> Status:
    if decision.outcome is Outcome.DENY:
        return STATUS_BY_REASON.get(decision.reason.value, "denied")
    if decision.outcome is Outcome.REVIEW:
        return "pending"
    if execution is None:
        return "error"
    return "ok" if execution.status == "ok" else "error"


class AuditRecord(Contract):
    """The one outcome record, for every path (allowed, denied, throttled, review, execution error,
    authentication failure, Slack callback). It goes to the DynamoDB audit table (hash-chained) and, as one
    JSON line, to the audit log group. It never holds the prompt (only its HMAC), a token (only the token
    id or a keyed fingerprint), or raw parameters (only the sanitized copy Validate made)."""

    _optional = frozenset({"token_fingerprint", "stage", "delivery", "signals"})
    record_version: int = RECORD_VERSION
    kind: Literal["outcome"] = "outcome"
    request_id: Str80
    ts: Str32
    epoch_ms: int
    requested_at: Str32
    user_email: Address
    groups: list[Str256] = Field(max_length=64)
    token_id: Str256
    token_fingerprint: Str64 = ""
    source_ip: Str256
    user_agent: Str256
    tool: Str256
    service: Str64
    action: Str200
    resources: list[Str4k] = Field(max_length=100)
    resource: Str4k
    decision: Outcome
    reason: ReasonCode
    rule_id: Str256
    tier: Tier | None
    policy_version: Str256
    prompt_hmac: Str256
    parameters: JsonObject
    status: Status
    result_reason: Str64
    bytes_returned: int
    redactions: Counts
    approval_id: Str80
    approver: Address
    latency_ms: dict[Str64, int | float]
    workflow_error: Str200
    stage: Literal["approval"] | None = None
    delivery: Literal["dead-letter-replay"] | None = None
    signals: list[Str256] = Field(default_factory=list, max_length=32)  # what the words/behaviour signalled

    # --- the workflow's outcomes ------------------------------------------------------------------------
    @classmethod
    def from_state(cls, state: WorkflowState, now: float) -> AuditRecord:
        """The record of whatever outcome the state holds."""
        build = {
            "ok": cls.allowed,
            "denied": cls.denied,
            "throttled": cls.throttled,
            "pending": cls.review,
            "error": cls.execution_error,
        }[outcome_status(state.decision, state.result)]
        return build(state, now)

    @classmethod
    def allowed(cls, state: WorkflowState, now: float) -> AuditRecord:
        """Allowed and executed successfully."""
        return cls._outcome(state, now, "ok")

    @classmethod
    def denied(cls, state: WorkflowState, now: float) -> AuditRecord:
        """Denied: by policy, by an approver, by an expired approval, or by a fail-closed workflow state."""
        return cls._outcome(state, now, "denied")

    @classmethod
    def throttled(cls, state: WorkflowState, now: float) -> AuditRecord:
        """Denied by a rate limit or a data budget."""
        return cls._outcome(state, now, "throttled")

    @classmethod
    def review(cls, state: WorkflowState, now: float) -> AuditRecord:
        """Sent to a human for review: pending, nothing executed."""
        return cls._outcome(state, now, "pending")

    @classmethod
    def execution_error(cls, state: WorkflowState, now: float) -> AuditRecord:
        """Allowed, but the action failed (or its result was withheld)."""
        return cls._outcome(state, now, "error")

    @classmethod
    def _outcome(cls, state: WorkflowState, now: float, expected: Status) -> AuditRecord:
        decision = state.decision
        execution = state.result
        status = outcome_status(decision, execution)
        if status != expected:
            raise ValueError(f"the state's outcome is {status!r}, not {expected!r}")
        request = state.request
        context = request.context if isinstance(request, ValidatedRequest) else CallContextOut()
        prompt_hmac = request.prompt_hmac if isinstance(request, ValidatedRequest) else ""
        requested_at = float(request.requested_at or now)
        timings: dict[str, int | float] = state.timings.model_dump(mode="json") if state.timings else {}
        timings["total_ms"] = round(max(0.0, now - requested_at) * 1000, 1)
        if execution is not None and "duration_ms" in execution.model_fields_set:
            timings["execute_ms"] = execution.duration_ms
        approval = state.approval if isinstance(state.approval, ApprovalTicket) else None
        values: dict[str, Any] = {
            "request_id": request.request_id,
            "ts": iso(now),
            "epoch_ms": int(now * 1000),
            "requested_at": iso(requested_at),
            "user_email": request.principal.email,
            "groups": list(request.principal.groups),
            "token_id": request.principal.token_id,
            "source_ip": context.source_ip,
            "user_agent": context.user_agent,
            "tool": request.tool,
            "service": request.service,
            "action": request.action,
            "resources": list(request.resources),
            "resource": request.resources[0] if request.resources else "",
            "decision": decision.outcome,
            "reason": decision.reason,
            "rule_id": decision.rule_id,
            "tier": decision.tier,
            "policy_version": decision.policy_version,
            "prompt_hmac": prompt_hmac,
            "parameters": dict(request.parameters_sanitized),
            "status": status,
            "result_reason": execution.reason if execution is not None else "",
            "bytes_returned": execution.bytes_returned if execution is not None else 0,
            "redactions": dict(execution.redactions) if execution is not None else {},
            "approval_id": approval.approval_id if approval is not None else "",
            "approver": approval.approver if approval is not None else "",
            "latency_ms": timings,
            "workflow_error": state.error.Error[:200] if state.error is not None else "",
        }
        if state.stage == "approval":  # the approval workflow's own outcome (stored as sk "outcome#approval")
            values["stage"] = "approval"
        if state.audit_error is not None:  # parked in the dead-letter queue, recorded by `audit replay`
            values["delivery"] = "dead-letter-replay"
        if decision.signals:  # intent words and session behaviour: recorded, not necessarily decisive
            values["signals"] = list(decision.signals)
        return cls(**values)

    # --- outcomes outside the workflow --------------------------------------------------------------------
    @classmethod
    def auth_failure(
        cls,
        *,
        request_id: str,
        now: float,
        reason: str = ReasonCode.AUTH_INVALID.value,
        endpoint: str = "",
        token_fingerprint: str = "",
        source_ip: str = "",
        user_agent: str = "",
    ) -> AuditRecord:
        """A rejected authentication: it never reached the workflow, and holds no token."""
        endpoint = endpoint[:64]
        return cls(
            request_id=request_id,
            ts=iso(now),
            epoch_ms=int(now * 1000),
            requested_at=iso(now),
            user_email="unauthenticated",
            groups=[],
            token_id="",
            token_fingerprint=token_fingerprint[:64],
            source_ip=source_ip[:64],
            user_agent=user_agent[:256],
            tool="",
            service="gateway",
            action=f"gateway:Authenticate{'Token' if endpoint == '/oauth/token' else 'Mcp'}",
            resources=[endpoint],
            resource=endpoint,
            decision=Outcome.DENY,
            reason=ReasonCode(reason),
            rule_id="auth",
            tier=None,
            policy_version="",
            prompt_hmac="",
            parameters={},
            status="denied",
            result_reason="",
            bytes_returned=0,
            redactions={},
            approval_id="",
            approver="",
            latency_ms={},
            workflow_error="",
        )

    @classmethod
    def callback(
        cls,
        *,
        request_id: str,
        reason: ReasonCode,
        accepted: bool,
        now: float,
        target_request_id: str = "",
        slack_user_id: str = "",
        approver_email: str = "",
        decision: str = "",
        source_ip: str = "",
        user_agent: str = "",
    ) -> AuditRecord:
        """One Slack approval callback, accepted or rejected. Holds no body, signature or token."""
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        return cls(
            request_id=request_id,
            ts=ts,
            epoch_ms=int(now * 1000),
            requested_at=ts,
            user_email=approver_email or (f"slack:{slack_user_id}" if slack_user_id else "unauthenticated"),
            groups=[],
            token_id="",
            source_ip=source_ip[:64],
            user_agent=user_agent[:256],
            tool="",
            service="slack",
            action="gateway:ApprovalCallback",
            resources=[target_request_id] if target_request_id else [],
            resource=target_request_id,
            decision=Outcome.ALLOW if accepted else Outcome.DENY,
            reason=reason,
            rule_id="approval.callback",
            tier=None,
            policy_version="",
            prompt_hmac="",
            parameters={"decision": decision} if decision else {},
            status="accepted" if accepted else "denied",
            result_reason=decision,
            bytes_returned=0,
            redactions={},
            approval_id=target_request_id,
            approver=approver_email or slack_user_id,
            latency_ms={},
            workflow_error="",
        )


class ResponseDecision(Contract):
    outcome: Outcome
    reason: ReasonCode
    rule_id: Str256
    hint: Str2k
    message: Str2k
    tier: Tier | None
    limits: dict[Str64, int | Str64] = Field(max_length=16)


class PendingNotice(Contract):
    expires_at: int | None
    request_hash: Str64 | None


class AuditResponse(Contract):
    """What the gateway turns into the MCP tool result. Holds the (already redacted) result, never raw data."""

    _optional = frozenset(
        {"approval", "result", "result_reason", "result_message", "redactions", "truncated", "continuation"}
    )
    request_id: Str80
    status: Status
    decision: ResponseDecision
    audit: Literal["recorded", "deferred", "failed"]
    approval: PendingNotice | None = None
    result: JsonValue = None
    result_reason: ReasonCode | Literal[""] = ""
    result_message: Str4k = ""
    redactions: Counts = Field(default_factory=dict)
    truncated: bool = False
    continuation: JsonObject = Field(default_factory=dict)

    @classmethod
    def build(
        cls,
        state: WorkflowState,
        request_id: str,
        status: Status,
        audit: Literal["recorded", "deferred", "failed"] = "recorded",
    ) -> AuditResponse:
        d = state.decision
        values: dict[str, Any] = {
            "request_id": request_id,
            "status": status,
            "decision": ResponseDecision(
                outcome=d.outcome,
                reason=d.reason,
                rule_id=d.rule_id,
                hint=d.hint,
                message=d.message,
                tier=d.tier,
                limits=d.limits,
            ),
            "audit": audit,
        }
        if status == "pending":
            ticket = state.approval if isinstance(state.approval, ApprovalTicket) else None
            values["approval"] = PendingNotice(
                expires_at=ticket.expires_at if ticket else None,
                request_hash=ticket.request_hash if ticket else None,
            )
        execution = state.result
        if execution is not None:
            values["result"] = execution.data
            values["result_reason"] = execution.reason
            values["result_message"] = execution.message
            values["redactions"] = execution.redactions
            values["truncated"] = execution.truncated
            if execution.continuation:
                values["continuation"] = execution.continuation
        return cls(**values)
