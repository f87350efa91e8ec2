"""Canonical models shared end to end: gateway -> workflow -> validate -> execute -> audit.

All models forbid unknown fields and bound every string, so a malformed or hostile payload fails
validation (and therefore closes) instead of flowing through.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, StringConstraints, model_serializer

from .errors import ReasonCode
from .tracing import TRACEPARENT_CHARS, TRACEPARENT_PATTERN

ShortStr = Annotated[str, StringConstraints(max_length=256)]
MediumStr = Annotated[str, StringConstraints(max_length=2048)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,80}$")]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}$")]
ActionName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}:[A-Za-z0-9]{2,100}$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=1_000_000)


class Tier(StrEnum):
    READ = "read"
    LIST = "list"
    WRITE = "write"


class Outcome(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    REVIEW = "REVIEW"


class Principal(StrictModel):
    """The authenticated human behind a call, taken from a verified gateway session token."""

    sub: ShortStr
    email: Email
    groups: tuple[ShortStr, ...] = Field(default=(), max_length=64)
    token_id: ShortStr = Field(description="jti of the session token; lets auditors tie calls to a session")
    expires_at: int = Field(ge=0, description="session token expiry, epoch seconds")


Traceparent = Annotated[str, StringConstraints(max_length=TRACEPARENT_CHARS, pattern=f"{TRACEPARENT_PATTERN}|^$")]


class CallContext(StrictModel):
    """Where a call came from. Never holds a token. ``traceparent`` is the caller's W3C trace (``tracing.py``),
    left out of the dump when there is none (a call without one travels exactly as before)."""

    source_ip: ShortStr = ""
    user_agent: ShortStr = ""
    traceparent: Traceparent = ""

    @model_serializer(mode="wrap")
    def _omit_empty_trace(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not data.get("traceparent"):
            data.pop("traceparent", None)
        return data


class ActionRequest(StrictModel):
    """One canonical AWS action an agent asked for, in IAM terms.

    ``action`` is the IAM action (``s3:ListAllMyBuckets``), which is what the policy and the execute
    role speak; ``operation`` is the API operation boto3 calls (``ListBuckets``).
    """

    request_id: RequestId
    tool: ShortStr
    service: ServiceName
    operation: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,100}$")]
    action: ActionName
    parameters: dict[str, Any] = Field(default_factory=dict)
    resources: tuple[MediumStr, ...] = Field(default=(), max_length=100)
    intent: Annotated[str, StringConstraints(max_length=8192)] = Field(
        default="", description="the agent's stated reason/prompt; checked, then only its HMAC is kept"
    )
    prompt_hmac: ShortStr = ""
    principal: Principal
    context: CallContext = CallContext()
    requested_at: float = Field(ge=0)


class Decision(StrictModel):
    """The validator's answer for one ActionRequest."""

    outcome: Outcome
    reason: ReasonCode
    rule_id: ShortStr
    tier: Tier | None = None
    hint: MediumStr = ""
    message: MediumStr = ""
    policy_version: ShortStr = ""
    limits: dict[str, int] = Field(default_factory=dict)
    signals: tuple[ShortStr, ...] = Field(
        default=(), max_length=32, description="intent and session signals recorded on the audit record"
    )

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW
