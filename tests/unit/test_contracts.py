"""The workflow contracts (mcp_gateway.domain.contracts): real handler outputs round-trip through them
unchanged, unknown fields and over-long strings are rejected, and every AuditRecord constructor builds the
record of its outcome kind."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from conftest import ROOT
from mcp_gateway.domain.audit import auth_failure_record, outcome_record, response
from mcp_gateway.domain.contracts import (
    MAX_STATE_BYTES,
    AuditRecord,
    AuditResponse,
    ExecuteResult,
    RateKeys,
    ValidateOutput,
    WorkflowDecision,
    WorkflowState,
)
from mcp_gateway.domain.errors import ReasonCode
from mcp_gateway.domain.policy import parse_policy
from mcp_gateway.handlers.approval import callback_record
from mcp_gateway.handlers.audit import Auditor
from mcp_gateway.handlers.execute import Executor
from mcp_gateway.handlers.validate import Validator, intent_item, intent_record
from pydantic import ValidationError

NOW = 1_800_000_123.456
HMAC_KEY = b"k" * 32
_DOC = yaml.safe_load((ROOT / "policy" / "gateway-policy.yaml").read_text())
_DOC["review"]["actions"] = ["s3:GetObject"]  # so one of the requests below goes to a human
POLICY = parse_policy(yaml.safe_dump(_DOC))


def gateway_request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "request_id": "req-contract-0001",
        "tool": "list_buckets",
        "service": "s3",
        "operation": "ListBuckets",
        "action": "s3:ListAllMyBuckets",
        "resources": ["*"],
        "parameters": {},
        "intent": "which buckets do we have?",
        "principal": {
            "sub": "ann",
            "email": "ann@example.com",
            "groups": ["sre"],
            "token_id": "jti-1",
            "expires_at": int(NOW) + 900,
        },
        "context": {"source_ip": "10.0.0.1", "user_agent": "agent/1"},
        "requested_at": NOW - 0.25,
    }
    request.update(changes)
    return request


GET_README = {
    "tool": "get_object",
    "operation": "GetObject",
    "action": "s3:GetObject",
    "resources": ["arn:aws:s3:::acme-app-logs/README.txt"],
    "parameters": {"Bucket": "acme-app-logs", "Key": "README.txt", "Range": "bytes=0-1023"},
}
REQUESTS = {
    "allowed": gateway_request(),
    "review": gateway_request(
        **GET_README,
        principal={**gateway_request()["principal"], "groups": ["developers"]},
    ),
    "denied": gateway_request(service="iam", operation="CreateUser", action="iam:CreateUser"),
    "malformed": {"request_id": "not valid!", "principal": {"email": "x"}, "requested_at": 5},
}


def validate(request: dict[str, Any], policy: Any = POLICY, key: bytes | None = HMAC_KEY) -> dict[str, Any]:
    return Validator(policy, "policy broken" if policy is None else "", key, clock=lambda: NOW).handle(
        {"request": json.loads(json.dumps(request))}
    )


def executed(state: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    return {**state, "execution": {"result": result}}


OK_RESULT = {
    "status": "ok",
    "data": {"buckets": [{"name": "acme-app-logs", "created": "2026-01-01T00:00:00+00:00"}]},
    "redactions": {"aws_access_key": 1},
    "bytes_returned": 71,
    "truncated": False,
    "duration_ms": 12.5,
}


# --- round trips of real handler outputs ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_a_real_validate_output_round_trips_through_its_contract_unchanged(kind: str) -> None:
    out = validate(REQUESTS[kind])
    assert ValidateOutput.model_validate(out).model_dump(mode="json") == out
    assert WorkflowState.model_validate(out).model_dump(mode="json") == out


def test_the_validate_outputs_cover_allow_review_and_deny() -> None:
    outcomes = {kind: validate(r)["decision"]["outcome"] for kind, r in REQUESTS.items()}
    assert outcomes == {"allowed": "ALLOW", "review": "REVIEW", "denied": "DENY", "malformed": "DENY"}
    assert validate(REQUESTS["malformed"])["decision"]["reason"] == ReasonCode.INVALID_INPUT.value


@pytest.mark.parametrize(("policy", "key"), [(None, HMAC_KEY), (POLICY, None)])
def test_a_validate_output_without_policy_or_key_round_trips_unchanged(policy: Any, key: bytes | None) -> None:
    out = validate(REQUESTS["allowed"], policy, key)
    assert out["decision"]["outcome"] == "DENY"
    assert ValidateOutput.model_validate(out).model_dump(mode="json") == out


def test_the_validate_output_never_carries_the_intent() -> None:
    out = validate(REQUESTS["allowed"])
    assert "intent" not in out["request"]
    assert "which buckets" not in json.dumps(out)
    assert len(out["request"]["prompt_hmac"]) == 64


def test_the_intent_item_is_the_dynamodb_item_the_audit_intent_state_puts_byte_for_byte() -> None:
    out = validate(REQUESTS["review"])
    expected = {
        "pk": {"S": "req-contract-0001"},
        "sk": {"S": "intent"},
        "kind": {"S": "intent"},
        "requester": {"S": "ann@example.com"},
        "action": {"S": "s3:GetObject"},
        "resources_json": {"S": json.dumps(["arn:aws:s3:::acme-app-logs/README.txt"])},
        "prompt_hmac": {"S": out["request"]["prompt_hmac"]},
        "at_ms": {"N": str(int(NOW * 1000))},
        "expires_at": {"N": str(int(NOW) + 91 * 86_400)},
    }
    assert json.dumps(out["intent_item"]) == json.dumps(expected)
    record = intent_record(out["intent_item"])
    assert (record.pk, record.at_ms, record.prompt_hmac) == (
        "req-contract-0001",
        int(NOW * 1000),
        out["request"]["prompt_hmac"],
    )
    assert intent_item(record) == expected


def test_an_intent_without_a_prompt_hmac_stores_a_dash() -> None:
    out = validate(REQUESTS["malformed"])
    assert out["intent_item"]["prompt_hmac"] == {"S": "-"}
    assert out["intent_item"]["pk"] == {"S": "invalid-request"}


class FakeS3:
    def list_buckets(self) -> dict[str, Any]:
        import datetime as dt

        created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        return {"Buckets": [{"Name": "acme-app-logs", "CreationDate": created}]}


def test_a_real_execute_result_round_trips_through_its_contract_unchanged() -> None:
    state = validate(REQUESTS["allowed"])
    executor = Executor(lambda service, principal: FakeS3(), clock=lambda: NOW)
    result = executor.handle({"request": state["request"], "limits": state["limits"]})
    assert result["status"] == "ok"
    assert result["data"] == {"buckets": [{"name": "acme-app-logs", "created": "2026-01-01T00:00:00+00:00"}]}
    assert ExecuteResult.model_validate(result).model_dump(mode="json") == result


def test_an_execute_event_that_breaks_its_contract_is_an_execution_error_not_an_exception() -> None:
    executor = Executor(lambda service, principal: FakeS3(), clock=lambda: NOW)
    result = executor.handle({"request": {"tool": "list_buckets"}, "limits": {}})
    assert (result["status"], result["reason"]) == ("error", ReasonCode.EXECUTION_ERROR.value)


class FakeStore:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        self.records.append(record)
        return record


def test_the_audit_handler_stores_the_contract_record_and_returns_the_contract_response() -> None:
    state = executed(validate(REQUESTS["allowed"]), OK_RESULT)
    store = FakeStore()
    answer = Auditor(store, clock=lambda: NOW + 1).handle(json.loads(json.dumps(state)))  # type: ignore[arg-type]
    (record,) = store.records
    assert AuditRecord.model_validate(record).model_dump(mode="json") == record
    assert record == outcome_record(state, NOW + 1)
    assert AuditResponse.model_validate(answer).model_dump(mode="json") == answer
    assert answer == response(state, record)
    assert (answer["status"], answer["result"], answer["redactions"]) == (
        "ok",
        OK_RESULT["data"],
        {"aws_access_key": 1},
    )


def test_an_unreadable_workflow_state_is_still_audited_as_a_workflow_error_for_its_request() -> None:
    state = executed(validate(REQUESTS["allowed"]), OK_RESULT)
    state["surprise"] = True
    store = FakeStore()
    answer = Auditor(store, clock=lambda: NOW + 1).handle(state)  # type: ignore[arg-type]
    (record,) = store.records
    assert (record["request_id"], record["decision"], record["reason"], record["rule_id"]) == (
        "req-contract-0001",
        "DENY",
        ReasonCode.WORKFLOW_ERROR.value,
        "audit.invalid-state",
    )
    assert record["workflow_error"] == "InvalidWorkflowState"
    assert "result" not in answer


# --- what the contracts reject -------------------------------------------------------------------------


def test_an_unknown_field_is_rejected_at_every_level() -> None:
    out = validate(REQUESTS["allowed"])
    with pytest.raises(ValidationError):
        ValidateOutput.model_validate({**out, "extra": 1})
    with pytest.raises(ValidationError):
        ValidateOutput.model_validate({**out, "rate": {**out["rate"], "tier_kee": "x"}})
    with pytest.raises(ValidationError):
        WorkflowState.model_validate({**out, "decision": {**out["decision"], "verdict": "ALLOW"}})
    with pytest.raises(ValidationError):
        ExecuteResult.model_validate({**OK_RESULT, "raw": "unredacted"})


def test_an_over_long_string_is_rejected() -> None:
    out = validate(REQUESTS["allowed"])
    with pytest.raises(ValidationError):
        WorkflowDecision.model_validate({**out["decision"], "rule_id": "r" * 257})
    with pytest.raises(ValidationError):
        RateKeys.model_validate({**out["rate"], "tier_hint": "h" * 257})
    with pytest.raises(ValidationError):
        ExecuteResult.model_validate({**OK_RESULT, "data": {"text": "x" * (MAX_STATE_BYTES + 1)}})
    assert ExecuteResult.model_validate({**OK_RESULT, "data": {"text": "x" * MAX_STATE_BYTES}})


def test_a_dynamodb_number_must_be_a_decimal_string() -> None:
    out = validate(REQUESTS["allowed"])
    with pytest.raises(ValidationError):
        RateKeys.model_validate({**out["rate"], "tier_limit": 5})
    with pytest.raises(ValidationError):
        RateKeys.model_validate({**out["rate"], "tier_limit": "five"})


def test_optional_keys_stay_absent_when_they_were_absent() -> None:
    error = {"status": "error", "reason": "EXECUTION_ERROR", "message": "the execute step failed"}
    assert ExecuteResult.model_validate(error).model_dump(mode="json") == error
    decision = {
        "outcome": "DENY",
        "reason": "WORKFLOW_ERROR",
        "rule_id": "r",
        "hint": "",
        "message": "",
        "policy_version": "",
        "limits": {},
    }
    assert WorkflowDecision.model_validate(decision).model_dump(mode="json") == decision


# --- one constructor per outcome kind ------------------------------------------------------------------


def test_the_allowed_constructor_records_an_executed_call() -> None:
    state = WorkflowState.model_validate(executed(validate(REQUESTS["allowed"]), OK_RESULT))
    record = AuditRecord.allowed(state, NOW + 1)
    assert (record.status, record.decision, record.reason, record.bytes_returned) == ("ok", "ALLOW", "ALLOWED", 71)
    assert (record.prompt_hmac, record.source_ip, record.resource) == (state.request.prompt_hmac, "10.0.0.1", "*")  # type: ignore[union-attr]
    assert record.latency_ms == {"validate_ms": state.timings.validate_ms, "total_ms": 1250.0, "execute_ms": 12.5}  # type: ignore[union-attr]
    assert record.ts == "2027-01-15T08:02:04.456Z"
    assert AuditRecord.from_state(state, NOW + 1) == record


def test_the_denied_constructor_records_a_policy_denial() -> None:
    state = WorkflowState.model_validate(validate(REQUESTS["denied"]))
    record = AuditRecord.denied(state, NOW)
    assert (record.status, record.decision, record.service) == ("denied", "DENY", "iam")
    assert record.reason is not ReasonCode.ALLOWED
    assert AuditRecord.from_state(state, NOW) == record


def test_the_throttled_constructor_records_a_rate_limit_denial() -> None:
    out = validate(REQUESTS["allowed"])
    rate = out["rate"]
    throttled = {
        "outcome": "DENY",
        "reason": "THROTTLED",
        "rule_id": rate["tier_rule"],
        "hint": rate["tier_hint"],
        "message": "",
        "policy_version": out["decision"]["policy_version"],
        "tier": out["decision"]["tier"],
        "limits": rate["tier_limits"],
    }
    state = WorkflowState.model_validate({**out, "decision": throttled})
    record = AuditRecord.throttled(state, NOW)
    assert (record.status, record.reason, record.rule_id) == ("throttled", "THROTTLED", "rate.list")
    assert AuditResponse.build(state, record.request_id, record.status).decision.limits == rate["tier_limits"]


def test_the_review_constructor_records_a_pending_request() -> None:
    state = WorkflowState.model_validate(validate(REQUESTS["review"]))
    record = AuditRecord.review(state, NOW)
    assert (record.status, record.decision, record.approval_id) == ("pending", "REVIEW", "req-contract-0001")
    answer = AuditResponse.build(state, record.request_id, record.status)
    assert answer.approval is not None
    assert answer.approval.expires_at == int(NOW) + POLICY.review.timeout_seconds


def test_the_execution_error_constructor_records_a_failed_action() -> None:
    failed = {"status": "error", "reason": "EXECUTION_ERROR", "message": "the execute step failed"}
    state = WorkflowState.model_validate(
        {**executed(validate(REQUESTS["allowed"]), failed), "error": {"Error": "Lambda.Unknown", "Cause": "boom"}}
    )
    record = AuditRecord.execution_error(state, NOW)
    assert (record.status, record.result_reason, record.workflow_error) == (
        "error",
        "EXECUTION_ERROR",
        "Lambda.Unknown",
    )
    assert "execute_ms" not in record.latency_ms


def test_a_constructor_refuses_a_state_of_another_outcome_kind() -> None:
    state = WorkflowState.model_validate(validate(REQUESTS["denied"]))
    with pytest.raises(ValueError, match="denied"):
        AuditRecord.allowed(state, NOW)


def test_the_approval_stage_and_a_dead_letter_replay_are_marked_in_the_record() -> None:
    out = validate(REQUESTS["review"])
    state = WorkflowState.model_validate({**out, "stage": "approval", "audit_error": {"Error": "x", "Cause": "y"}})
    record = AuditRecord.from_state(state, NOW).model_dump(mode="json")
    assert (record["stage"], record["delivery"]) == ("approval", "dead-letter-replay")
    plain = AuditRecord.from_state(WorkflowState.model_validate(out), NOW).model_dump(mode="json")
    assert "stage" not in plain
    assert "delivery" not in plain


def test_the_auth_failure_constructor_records_a_rejected_token_without_the_token() -> None:
    record = AuditRecord.auth_failure(
        request_id="req-auth-0001",
        now=NOW,
        reason=ReasonCode.AUTH_EXPIRED.value,
        endpoint="/oauth/token",
        token_fingerprint="f" * 80,
        source_ip="10.0.0.9",
        user_agent="u" * 300,
    )
    assert (record.user_email, record.action, record.status) == (
        "unauthenticated",
        "gateway:AuthenticateToken",
        "denied",
    )
    assert (len(record.token_fingerprint), len(record.user_agent)) == (64, 256)
    dumped = record.model_dump(mode="json")
    assert dumped == auth_failure_record(
        {
            "endpoint": "/oauth/token",
            "reason": "AUTH_EXPIRED",
            "source_ip": "10.0.0.9",
            "user_agent": "u" * 300,
            "token_fingerprint": "f" * 80,
        },
        "req-auth-0001",
        NOW,
    )
    assert AuditRecord.auth_failure(request_id="r-1", now=NOW, endpoint="/mcp").action == "gateway:AuthenticateMcp"


def test_the_callback_constructor_records_an_approval_click() -> None:
    record = AuditRecord.callback(
        request_id="cb-1",
        reason=ReasonCode.ALLOWED,
        accepted=True,
        now=NOW,
        target_request_id="req-contract-0001",
        slack_user_id="U123",
        approver_email="boss@example.com",
        decision="APPROVED",
    )
    assert (record.status, record.decision, record.approver, record.parameters) == (
        "accepted",
        "ALLOW",
        "boss@example.com",
        {"decision": "APPROVED"},
    )
    assert record.ts == "2027-01-15T08:02:03.456Z"
    rejected = AuditRecord.callback(request_id="cb-2", reason=ReasonCode.SIGNATURE_INVALID, accepted=False, now=NOW)
    assert (rejected.status, rejected.user_email, rejected.resources) == ("denied", "unauthenticated", [])


def test_each_callback_record_gets_a_fresh_id() -> None:
    first = callback_record(reason=ReasonCode.CALLBACK_REPLAY, accepted=False, now=NOW, slack_user_id="U1")
    second = callback_record(reason=ReasonCode.CALLBACK_REPLAY, accepted=False, now=NOW, slack_user_id="U1")
    assert first["request_id"] != second["request_id"]
    assert first["request_id"].startswith("cb-")
    assert {**first, "request_id": ""} == {**second, "request_id": ""}
    assert first["user_email"] == "slack:U1"
