"""Pure decision logic for a human approval (the Slack callback).

State lives in DynamoDB (the approvals table) and the caller records the decision with a conditional
write (``status = PENDING``), so two concurrent clicks cannot both win; this module only decides
whether one click is allowed to decide, given the pending item as read.

``request_hash`` binds the approval to exactly what the approver saw: action, resources, parameters,
requester and request id. The hash travels in the Slack button value and is compared with the pending
item's hash, so a message for one request can never approve another, or a changed one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator

from .audit_chain import canonical_bytes
from .errors import ApprovalError, ReasonCode
from .models import Email, RequestId, ShortStr, StrictModel
from .slack import Interaction, RequestHash

REQUEST_HASH_VERSION = 1


def request_hash(
    action: str,
    resources: Sequence[str],
    parameters: Mapping[str, Any],
    requester_email: str,
    request_id: str,
) -> str:
    """SHA-256 hex over the canonical JSON of the request (sorted keys, compact, UTF-8).

    Deterministic; changes when any field changes, including the order of ``resources``. Numbers are
    canonicalised like the audit chain's (``1.0`` == ``Decimal("1")``), so the hash survives a
    DynamoDB round trip. Raises ``InvalidInputError`` for values that are not JSON (NaN, bytes, ...).
    """
    if isinstance(resources, str):  # a str is a Sequence[str]; never hash it char by char
        raise TypeError("resources must be a sequence of strings, not a string")
    payload = {
        "v": REQUEST_HASH_VERSION,
        "action": action,
        "resources": list(resources),
        "parameters": dict(parameters),
        "requester_email": requester_email,
        "request_id": request_id,
    }
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


def _norm_email(value: str) -> str:
    return value.strip().casefold()


class ApproverDirectory(StrictModel):
    """Who may decide. A Slack user is an approver when their user id is listed, or when the e-mail
    their id maps to is listed. Emails are compared case-insensitively."""

    slack_user_ids: frozenset[ShortStr] = Field(default=frozenset(), max_length=10_000)
    emails: frozenset[ShortStr] = Field(default=frozenset(), max_length=10_000)
    slack_id_to_email: dict[ShortStr, ShortStr] = Field(default_factory=dict, max_length=100_000)

    @field_validator("emails")
    @classmethod
    def _lower_emails(cls, v: frozenset[str]) -> frozenset[str]:
        return frozenset(_norm_email(e) for e in v)

    def email_of(self, slack_user_id: str) -> str | None:
        email = self.slack_id_to_email.get(slack_user_id)
        return _norm_email(email) if email else None

    def is_approver(self, slack_user_id: str) -> bool:
        if slack_user_id in self.slack_user_ids:
            return True
        email = self.email_of(slack_user_id)
        return email is not None and email in self.emails


class PendingApproval(StrictModel):
    request_id: RequestId
    request_hash: RequestHash
    requester_email: Email
    expires_at: float = Field(ge=0)
    status: Literal["PENDING", "APPROVED", "DENIED", "EXPIRED"]


def authorize_decision(
    pending: PendingApproval,
    interaction: Interaction,
    approvers: ApproverDirectory,
    now: float,
    *,
    allow_self_deny: bool = True,
    require_known_email: bool = False,
) -> Literal["APPROVED", "DENIED"]:
    """Decide whether this click may decide this pending request; return the decision.

    Checks, in this order (the first failure wins, raised as ``ApprovalError``):

    1. ``ALREADY_DECIDED``: ``pending.status`` is not PENDING (a second click, a replayed callback).
    2. ``APPROVAL_EXPIRED``: ``now >= pending.expires_at``.
    3. ``REQUEST_HASH_MISMATCH``: the button's request id or hash differs from the pending item's
       (constant-time compare): the message does not describe this request.
    4. ``APPROVER_NOT_ALLOWED``: the Slack user is not an approver (see ``ApproverDirectory``).
    5. ``SELF_APPROVAL``: the approver's mapped e-mail is the requester's (case-insensitive).

    State and integrity come before identity so that a late or stale click gets the same answer
    whoever makes it; every check applies to Deny as well as Approve (a non-approver cannot deny).
    The exception: with ``allow_self_deny`` (default) a requester who is also an approver may deny
    (cancel) their own request, since denying is always safe. An approver listed by Slack id with no
    e-mail mapping cannot be checked for self-approval; ``require_known_email=True`` refuses them
    (``APPROVER_NOT_ALLOWED``) instead of trusting the id alone.
    """
    if pending.status != "PENDING":
        raise ApprovalError("request already decided", code=ReasonCode.ALREADY_DECIDED)
    if now >= pending.expires_at:
        raise ApprovalError("approval window has expired", code=ReasonCode.APPROVAL_EXPIRED)
    same_id = hmac.compare_digest(pending.request_id.encode(), interaction.request_id.encode())
    same_hash = hmac.compare_digest(pending.request_hash.encode(), interaction.request_hash.encode())
    if not (same_id and same_hash):
        raise ApprovalError("message does not match the request", code=ReasonCode.REQUEST_HASH_MISMATCH)
    user_id = interaction.slack_user_id
    email = approvers.email_of(user_id)
    if not approvers.is_approver(user_id) or (require_known_email and email is None):
        raise ApprovalError("user is not an approver", code=ReasonCode.APPROVER_NOT_ALLOWED)
    decision: Literal["APPROVED", "DENIED"] = "APPROVED" if interaction.action == "approve" else "DENIED"
    is_self = email is not None and email == _norm_email(pending.requester_email)
    if is_self and not (decision == "DENIED" and allow_self_deny):
        raise ApprovalError("requester cannot approve their own request", code=ReasonCode.SELF_APPROVAL)
    return decision
