"""Approval decisions: request hash binding and who may decide what, when."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from mcp_gateway.domain.approval import (
    ApproverDirectory,
    PendingApproval,
    authorize_decision,
    request_hash,
)
from mcp_gateway.domain.errors import ApprovalError, InvalidInputError, ReasonCode
from mcp_gateway.domain.slack import Interaction

NOW = 1_700_000_000.0
BASE: dict[str, Any] = {
    "action": "s3:DeleteObject",
    "resources": ["arn:aws:s3:::prod-logs/a.log", "arn:aws:s3:::prod-logs/b.log"],
    "parameters": {"Bucket": "prod-logs", "Key": "a.log", "Options": {"Quiet": True, "Max": 10}},
    "requester_email": "dev@example.com",
    "request_id": "req_0123456789abcdef",
}
HASH = request_hash(**BASE)

APPROVERS = ApproverDirectory(
    slack_user_ids=frozenset({"UBYID"}),
    emails=frozenset({"Lead@Example.com", "dev@example.com"}),
    slack_id_to_email={"UBYEMAIL": "lead@example.com", "UDEV": "DEV@example.com", "UOTHER": "x@example.com"},
)


def _pending(**overrides: Any) -> PendingApproval:
    fields: dict[str, Any] = {
        "request_id": BASE["request_id"],
        "request_hash": HASH,
        "requester_email": "dev@example.com",
        "expires_at": NOW + 900,
        "status": "PENDING",
    }
    fields.update(overrides)
    return PendingApproval(**fields)


def _click(action: str = "approve", user: str = "UBYEMAIL", **overrides: Any) -> Interaction:
    fields: dict[str, Any] = {
        "action": action,
        "request_id": BASE["request_id"],
        "request_hash": HASH,
        "slack_user_id": user,
        "slack_user_name": "someone",
        "team_id": "T9TK3CUKW",
        "channel_id": "C0APPROVAL",
        "message_ts": "1548261231.000200",
        "response_url": "https://hooks.slack.com/actions/T/1/x",
        "action_ts": "1548426417.840180",
    }
    fields.update(overrides)
    return Interaction(**fields)


def _refusal(pending: PendingApproval, click: Interaction, **kwargs: Any) -> ReasonCode:
    with pytest.raises(ApprovalError) as exc:
        authorize_decision(pending, click, APPROVERS, NOW, **kwargs)
    return exc.value.code


# --------------------------------------------------------------------------------------------------
# request_hash
# --------------------------------------------------------------------------------------------------


def test_request_hash_is_deterministic_and_hex() -> None:
    reordered = {
        **BASE,
        "parameters": {"Options": {"Max": 10, "Quiet": True}, "Key": "a.log", "Bucket": "prod-logs"},
    }
    assert request_hash(**reordered) == HASH == request_hash(**BASE)
    assert len(HASH) == 64 and int(HASH, 16) >= 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "s3:DeleteObjects"),
        ("resources", ["arn:aws:s3:::prod-logs/a.log"]),
        ("resources", list(reversed(BASE["resources"]))),
        ("resources", []),
        ("parameters", {**BASE["parameters"], "Key": "b.log"}),
        ("parameters", {**BASE["parameters"], "Extra": None}),
        ("parameters", {**BASE["parameters"], "Options": {"Quiet": False, "Max": 10}}),
        ("parameters", {**BASE["parameters"], "Options": {"Quiet": True, "Max": 11}}),
        ("parameters", {**BASE["parameters"], "Options": {"Quiet": True, "Max": "10"}}),
        ("requester_email", "dev2@example.com"),
        ("requester_email", "Dev@example.com"),
        ("request_id", "req_0123456789abcdeg"),
    ],
)
def test_request_hash_changes_when_any_field_changes(field: str, value: Any) -> None:
    assert request_hash(**{**BASE, field: value}) != HASH


def test_request_hash_does_not_confuse_fields_with_each_other() -> None:
    a = request_hash("s3:GetObject", ["x"], {}, "a@example.com", "req_aaaaaaaa")
    b = request_hash("s3:GetObject", [], {"x": "x"}, "a@example.com", "req_aaaaaaaa")
    assert a != b


def test_request_hash_survives_a_dynamodb_number_round_trip() -> None:
    floats = request_hash("logs:Filter", [], {"start": 1.5, "limit": 100, "ratio": 2.0}, "a@b.c", "req_aaaaaaaa")
    decimals = request_hash(
        "logs:Filter",
        [],
        {"start": Decimal("1.5"), "limit": Decimal("100"), "ratio": Decimal("2")},
        "a@b.c",
        "req_aaaaaaaa",
    )
    assert floats == decimals


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), b"bytes", {1, 2}, object()])
def test_request_hash_rejects_values_that_are_not_json(bad: Any) -> None:
    with pytest.raises(InvalidInputError) as exc:
        request_hash("s3:GetObject", [], {"x": bad}, "a@example.com", "req_aaaaaaaa")
    assert exc.value.code is ReasonCode.INVALID_INPUT


def test_request_hash_refuses_a_bare_string_as_resources() -> None:
    with pytest.raises(TypeError):
        request_hash("s3:GetObject", "arn:aws:s3:::x", {}, "a@example.com", "req_aaaaaaaa")


# --------------------------------------------------------------------------------------------------
# authorize_decision: happy paths
# --------------------------------------------------------------------------------------------------


def test_an_approver_listed_by_email_can_approve() -> None:
    assert authorize_decision(_pending(), _click("approve", "UBYEMAIL"), APPROVERS, NOW) == "APPROVED"


def test_an_approver_listed_by_slack_id_can_approve() -> None:
    assert authorize_decision(_pending(), _click("approve", "UBYID"), APPROVERS, NOW) == "APPROVED"


def test_an_approver_can_deny() -> None:
    assert authorize_decision(_pending(), _click("deny", "UBYEMAIL"), APPROVERS, NOW) == "DENIED"


def test_a_click_one_second_before_expiry_counts() -> None:
    assert authorize_decision(_pending(expires_at=NOW + 1), _click(), APPROVERS, NOW) == "APPROVED"


def test_a_requester_who_is_an_approver_may_deny_their_own_request() -> None:
    assert authorize_decision(_pending(), _click("deny", "UDEV"), APPROVERS, NOW) == "DENIED"


# --------------------------------------------------------------------------------------------------
# authorize_decision: refusals, each with its code
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["APPROVED", "DENIED", "EXPIRED"])
def test_a_decided_request_cannot_be_decided_again(status: str) -> None:
    assert _refusal(_pending(status=status), _click()) is ReasonCode.ALREADY_DECIDED


@pytest.mark.parametrize("offset", [0, -1, -3600])
def test_a_click_at_or_after_expiry_is_expired(offset: float) -> None:
    assert _refusal(_pending(expires_at=NOW + offset), _click()) is ReasonCode.APPROVAL_EXPIRED


def test_a_click_carrying_another_hash_is_a_mismatch() -> None:
    other = request_hash(**{**BASE, "parameters": {"Bucket": "prod-logs", "Key": "z.log"}})
    assert _refusal(_pending(), _click(request_hash=other)) is ReasonCode.REQUEST_HASH_MISMATCH


def test_a_click_for_another_request_id_is_a_mismatch() -> None:
    assert _refusal(_pending(), _click(request_id="req_ffffffffffffffff")) is ReasonCode.REQUEST_HASH_MISMATCH


@pytest.mark.parametrize("user", ["UNOBODY", "UOTHER"])
def test_a_user_who_is_not_an_approver_cannot_approve(user: str) -> None:
    assert _refusal(_pending(), _click("approve", user)) is ReasonCode.APPROVER_NOT_ALLOWED


def test_a_user_who_is_not_an_approver_cannot_deny_either() -> None:
    assert _refusal(_pending(), _click("deny", "UNOBODY")) is ReasonCode.APPROVER_NOT_ALLOWED


def test_an_approver_cannot_approve_their_own_request_whatever_the_email_case() -> None:
    assert _refusal(_pending(requester_email="Dev@Example.COM"), _click("approve", "UDEV")) is (
        ReasonCode.SELF_APPROVAL
    )


def test_self_deny_can_be_refused_by_configuration() -> None:
    code = _refusal(_pending(), _click("deny", "UDEV"), allow_self_deny=False)
    assert code is ReasonCode.SELF_APPROVAL


def test_an_approver_without_a_known_email_can_be_refused_by_configuration() -> None:
    code = _refusal(_pending(), _click("approve", "UBYID"), require_known_email=True)
    assert code is ReasonCode.APPROVER_NOT_ALLOWED


@pytest.mark.parametrize(
    ("pending", "click", "expected"),
    [
        # decided beats everything
        (
            {"status": "APPROVED", "expires_at": NOW - 1},
            {"user": "UNOBODY", "request_hash": "f" * 64},
            "ALREADY_DECIDED",
        ),
        # expiry beats hash, approver and self checks
        ({"expires_at": NOW - 1}, {"user": "UDEV", "request_hash": "f" * 64}, "APPROVAL_EXPIRED"),
        # the hash is checked before who clicked
        ({}, {"user": "UNOBODY", "request_hash": "f" * 64}, "REQUEST_HASH_MISMATCH"),
        # a non-approver is refused as such, even if they are the requester
        ({"requester_email": "x@example.com"}, {"user": "UOTHER"}, "APPROVER_NOT_ALLOWED"),
    ],
)
def test_checks_follow_the_documented_precedence(pending: dict[str, Any], click: dict[str, Any], expected: str) -> None:
    user = click.pop("user")
    assert _refusal(_pending(**pending), _click("approve", user, **click)) is ReasonCode(expected)
