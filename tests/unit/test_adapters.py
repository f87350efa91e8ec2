"""The boto3 adapters behind the domain's ports, against real botocore clients with ``Stubber`` (which checks
every request against the service model, so a malformed call fails here) and no network."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from mcp_gateway.adapters import aws
from mcp_gateway.adapters.assumed_role import AssumedRoleClients
from mcp_gateway.adapters.audit_reader import AuditReader
from mcp_gateway.adapters.quota_store import QuotaStore
from mcp_gateway.adapters.request_store import RequestStore
from mcp_gateway.adapters.task_tokens import TaskTokens
from mcp_gateway.adapters.workflow import WorkflowRunner
from mcp_gateway.domain import ports
from mcp_gateway.domain.iam import group_tag

REGION = "us-east-1"


def _client(service: str) -> Any:
    session = aws.credentials_session("testing", "testing", region=REGION)
    return aws.session_client(session, service, REGION, endpoint_url=f"https://{service}.invalid")


@pytest.fixture
def ddb() -> Iterator[tuple[Any, Stubber]]:
    client = _client("dynamodb")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


# --------------------------------------------------------------------------------------------------------------
# The shared Session
# --------------------------------------------------------------------------------------------------------------
def test_every_adapter_client_comes_from_one_shared_session() -> None:
    assert aws.session() is aws.session()
    assert aws.region_session(None) is aws.session()
    # (aws.client is not called here: its per-process cache must only ever hold clients the functions created)
    assert aws.botocore_session() is aws.session()._session


# --------------------------------------------------------------------------------------------------------------
# QuotaStore
# --------------------------------------------------------------------------------------------------------------
def test_the_quota_store_reads_one_counter_by_key_with_a_consistent_projected_read(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    expected = {
        "TableName": "rl",
        "Key": {"pk": {"S": "u#a@example.com#read#300#0"}},
        "ConsistentRead": True,
        "ProjectionExpression": "#a",
        "ExpressionAttributeNames": {"#a": "hits"},
    }
    stub.add_response("get_item", {"Item": {"hits": {"N": "7"}}}, expected)
    stub.add_response("get_item", {}, {**expected, "Key": {"pk": {"S": "u#a@example.com#read#300#300"}}})
    store: ports.QuotaStorePort = QuotaStore(client, "rl")
    assert store.used("u#a@example.com#read#300#0", "hits") == 7
    assert store.used("u#a@example.com#read#300#300", "hits") == 0


def test_the_quota_store_raises_when_the_table_cannot_be_read(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_client_error("get_item", "ResourceNotFoundException")
    with pytest.raises(ClientError):
        QuotaStore(client, "rl").used("k", "hits")


# --------------------------------------------------------------------------------------------------------------
# RequestStore
# --------------------------------------------------------------------------------------------------------------
def test_the_request_store_decodes_the_approvals_and_results_items(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    key = {"pk": {"S": "r-1"}}
    stub.add_response(
        "get_item",
        {"Item": {"pk": {"S": "r-1"}, "status": {"S": "APPROVED"}, "decided_at": {"N": "1700000000"}}},
        {"TableName": "approvals", "Key": key, "ConsistentRead": True},
    )
    stub.add_response("get_item", {}, {"TableName": "results", "Key": key, "ConsistentRead": True})
    store: ports.RequestStorePort = RequestStore(client, "approvals", "results")
    assert store.approval("r-1") == {"pk": "r-1", "status": "APPROVED", "decided_at": Decimal(1_700_000_000)}
    assert store.result("r-1") is None


def test_an_unconfigured_table_is_never_read() -> None:
    client = _client("dynamodb")
    with Stubber(client):  # any call would fail: no response is queued
        store = RequestStore(client, "", "")
        assert store.approval("r-1") is None
        assert store.result("r-1") is None


# --------------------------------------------------------------------------------------------------------------
# TaskTokens
# --------------------------------------------------------------------------------------------------------------
def test_task_tokens_resume_the_workflow_and_report_a_task_that_is_gone() -> None:
    sfn = _client("stepfunctions")
    with Stubber(sfn) as stub:
        stub.add_response("send_task_success", {}, {"taskToken": "t1", "output": '{"decision": "APPROVED"}'})
        stub.add_client_error("send_task_success", "TaskTimedOut")
        stub.add_client_error("send_task_success", "InvalidToken")
        stub.add_client_error("send_task_success", "ThrottlingException")
        tasks: ports.TaskTokensPort = TaskTokens(sfn)
        assert tasks.send_success("t1", {"decision": "APPROVED"}) is True
        assert tasks.send_success("t2", {}) is False
        assert tasks.send_success("t3", {}) is False
        with pytest.raises(ClientError) as raised:
            tasks.send_success("t4", {})
        assert aws.error_code(raised.value) == "ThrottlingException"


# --------------------------------------------------------------------------------------------------------------
# AuditReader: every listing follows the paginators to the last page
# --------------------------------------------------------------------------------------------------------------
def test_the_audit_reader_follows_every_page_of_the_chain_index(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    query = {
        "TableName": "audit",
        "IndexName": "by-chain",
        "KeyConditionExpression": "chain_day = :d",
        "ExpressionAttributeValues": {":d": {"S": "2026-01-01"}},
    }
    last = {"pk": {"S": "r-2"}, "sk": {"S": "outcome"}}
    stub.add_response("query", {"Items": [{"pk": {"S": "r-1"}}, {"pk": {"S": "r-2"}}], "LastEvaluatedKey": last}, query)
    stub.add_response("query", {"Items": [{"pk": {"S": "r-3"}}]}, {**query, "ExclusiveStartKey": last})
    reader: ports.AuditReaderPort = AuditReader(client, None, "audit", "group")
    assert [i["pk"]["S"] for i in reader.chain_items("2026-01-01")] == ["r-1", "r-2", "r-3"]


def test_the_audit_reader_scans_intents_by_time_and_reads_outcomes_consistently(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    stub.add_response(
        "scan",
        {"Items": [{"pk": {"S": "r-1"}, "at_ms": {"N": "5"}}]},
        {
            "TableName": "audit",
            "FilterExpression": "sk = :i AND at_ms BETWEEN :a AND :b",
            "ProjectionExpression": "pk, at_ms",
            "ExpressionAttributeValues": {":i": {"S": "intent"}, ":a": {"N": "1"}, ":b": {"N": "9"}},
        },
    )
    stub.add_response(
        "query",
        {"Items": [{"pk": {"S": "r-1"}, "sk": {"S": "outcome"}}]},
        {
            "TableName": "audit",
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :o)",
            "ExpressionAttributeValues": {":p": {"S": "r-1"}, ":o": {"S": "outcome"}},
            "ConsistentRead": True,
        },
    )
    reader = AuditReader(client, None, "audit", "group")
    assert [i["pk"]["S"] for i in reader.intent_items(1, 9)] == ["r-1"]
    assert [o["sk"]["S"] for o in reader.outcome_items("r-1")] == ["outcome"]


def test_the_audit_reader_follows_every_page_of_the_log_group() -> None:
    logs = _client("logs")
    with Stubber(logs) as stub:
        request = {"logGroupName": "group", "startTime": 0, "endTime": 99}
        stub.add_response("filter_log_events", {"events": [{"message": "a"}], "nextToken": "n1"}, request)
        stub.add_response("filter_log_events", {"events": [{"message": "b"}]}, {**request, "nextToken": "n1"})
        reader = AuditReader(None, logs, "audit", "group")
        assert [e["message"] for e in reader.log_events(0, 99)] == ["a", "b"]


def test_the_audit_reader_returns_the_chain_head_as_stored(ddb: tuple[Any, Stubber]) -> None:
    client, stub = ddb
    key = {"pk": {"S": "CHAIN#2026-01-01"}, "sk": {"S": "head"}}
    head = {"seq": {"N": "12"}, "record_hash": {"S": "h"}, "request_id": {"S": "r-12"}}
    stub.add_response("get_item", {"Item": head}, {"TableName": "audit", "Key": key, "ConsistentRead": True})
    stub.add_response("get_item", {}, {"TableName": "audit", "Key": key, "ConsistentRead": True})
    reader = AuditReader(client, None, "audit", "group")
    assert reader.chain_head("2026-01-01") == {"seq": "12", "record_hash": "h", "request_id": "r-12"}
    assert reader.chain_head("2026-01-01") is None


# --------------------------------------------------------------------------------------------------------------
# AssumedRoleClients
# --------------------------------------------------------------------------------------------------------------
class _Base:
    """A base Session whose STS client is stubbed; any other service gets a plain client."""

    def __init__(self, sts: Any) -> None:
        self.sts = sts
        self.services: list[str] = []

    def client(self, service: str, **kwargs: Any) -> Any:
        self.services.append(service)
        return (
            self.sts
            if service == "sts"
            else boto3.session.Session(
                aws_access_key_id="base", aws_secret_access_key="base", region_name=REGION
            ).client(service, **kwargs)
        )


def _credentials(expires_in: float) -> dict[str, Any]:
    expiration = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in)
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "SecretAccessKey": "secret-secret-secret",
            "SessionToken": "session-token-session-token",
            "Expiration": expiration,
        }
    }


def test_the_data_role_is_assumed_once_per_user_with_the_users_identity_and_group_tags() -> None:
    sts = _client("sts")
    base = _Base(sts)
    principal = {"email": "alice@example.com", "token_id": "jti-1", "groups": ["sre"]}
    factory: ports.ClientFactoryPort = AssumedRoleClients(base, "arn:aws:iam::123456789012:role/data", REGION)
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role",
            _credentials(900),
            {
                "RoleArn": "arn:aws:iam::123456789012:role/data",
                "RoleSessionName": "mcpgw-" + hashlib.sha256(b"alice@example.com").hexdigest()[:16],
                "SourceIdentity": "alice@example.com",
                "DurationSeconds": 900,
                "Tags": [
                    {"Key": "gateway-user", "Value": "alice@example.com"},
                    {"Key": "gateway-token-id", "Value": "jti-1"},
                    {"Key": group_tag("sre"), "Value": "true"},
                ],
            },
        )
        s3 = factory("s3", principal)
        again = factory("logs", principal)
        stub.assert_no_pending_responses()
    assert s3.meta.service_model.service_name == "s3"
    assert again.meta.service_model.service_name == "logs"
    assert s3._request_signer._credentials.access_key == "ASIAEXAMPLEEXAMPLE01"
    assert base.services == ["sts"]


def test_credentials_about_to_expire_are_renewed() -> None:
    sts = _client("sts")
    factory = AssumedRoleClients(_Base(sts), "arn:aws:iam::123456789012:role/data", REGION)
    with Stubber(sts) as stub:
        stub.add_response("assume_role", _credentials(30))
        stub.add_response("assume_role", _credentials(900))
        factory("s3", {"email": "bob@example.com"})
        factory("s3", {"email": "bob@example.com"})
        stub.assert_no_pending_responses()


def test_without_a_data_role_the_functions_own_session_is_used() -> None:
    sts = _client("sts")
    base = _Base(sts)
    with Stubber(sts):  # no AssumeRole may happen
        client = AssumedRoleClients(base, "", REGION)("s3", {"email": "alice@example.com"})
    assert client.meta.service_model.service_name == "s3"
    assert base.services == ["s3"]


# --------------------------------------------------------------------------------------------------------------
# WorkflowRunner: every way the execution can fail is a DENY WORKFLOW_ERROR, audited here
# --------------------------------------------------------------------------------------------------------------
RUN_REQUEST = {
    "request_id": "req-runner-0001",
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
        "expires_at": 1_900_000_000,
    },
    "context": {"source_ip": "10.0.0.1", "user_agent": "agent/1"},
    "requested_at": 1_800_000_000.0,
}


class _Sink:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.records: list[dict[str, Any]] = []

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise ConnectionError("audit table unreachable")
        self.records.append(record)
        return record


def _run(stub_setup: Any, sink: _Sink) -> dict[str, Any]:
    sfn = _client("stepfunctions")
    with Stubber(sfn) as stub:
        stub_setup(stub)
        runner: ports.WorkflowRunnerPort = WorkflowRunner(sfn, "arn:aws:states:us-east-1:123456789012:sm", sink)
        answer = runner({"request": RUN_REQUEST})
        stub.assert_no_pending_responses()
    return answer


def _execution(status: str, output: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:express:sm:req-runner-0001:1",
        "startDate": dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        "stopDate": dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        "status": status,
    }
    if output is not None:
        response["output"] = output
    return response


def _throttled_three_times(stub: Any) -> None:
    for _ in range(3):
        stub.add_client_error("start_sync_execution", "ThrottlingException", http_status_code=400)


def _run_no_sleep(stub_setup: Any, sink: _Sink) -> dict[str, Any]:
    sfn = _client("stepfunctions")
    with Stubber(sfn) as stub:
        stub_setup(stub)
        runner = WorkflowRunner(sfn, "arn:aws:states:us-east-1:123456789012:sm", sink, sleep=lambda _s: None)
        answer = runner({"request": RUN_REQUEST})
        stub.assert_no_pending_responses()
    return answer


def test_a_start_that_provably_did_not_happen_is_retried_then_denied_and_recorded_as_the_gateways() -> None:
    sink = _Sink()
    answer = _run_no_sleep(_throttled_three_times, sink)
    assert (answer["status"], answer["decision"]["reason"], answer["decision"]["rule_id"]) == (
        "denied",
        "WORKFLOW_ERROR",
        "workflow.start-failed",
    )
    assert answer["audit"] == "recorded"
    assert [(r["request_id"], r["reason"], r["rule_id"], r["stage"]) for r in sink.records] == [
        ("req-runner-0001", "WORKFLOW_ERROR", "workflow.start-failed", "gateway")
    ]
    assert "intent" not in json.dumps(sink.records[0]["parameters"])


def test_a_start_refused_with_a_client_error_is_not_retried() -> None:
    sink = _Sink()
    answer = _run_no_sleep(
        lambda stub: stub.add_client_error("start_sync_execution", "InvalidExecutionInput", http_status_code=400),
        sink,
    )
    assert (answer["status"], answer["decision"]["rule_id"]) == ("denied", "workflow.start-failed")


@pytest.mark.parametrize(
    ("setup", "rule_id"),
    [
        (lambda stub: stub.add_response("start_sync_execution", _execution("FAILED")), "workflow.failed"),
        (lambda stub: stub.add_response("start_sync_execution", _execution("SUCCEEDED", "{")), "workflow.bad-output"),
        (lambda stub: stub.add_response("start_sync_execution", _execution("SUCCEEDED", "[]")), "workflow.bad-output"),
        (
            lambda stub: stub.add_client_error("start_sync_execution", "InternalFailure", http_status_code=500),
            "workflow.no-answer",
        ),
    ],
)
def test_a_workflow_whose_answer_is_unknown_is_in_progress_for_the_agent_and_a_gateway_record_only(
    setup: Any, rule_id: str
) -> None:
    sink = _Sink()
    answer = _run(setup, sink)
    assert (answer["status"], answer["decision"]["reason"], answer["decision"]["rule_id"]) == (
        "pending",
        "REQUEST_IN_PROGRESS",
        rule_id,
    )
    assert answer["decision"]["outcome"] != "DENY", "never a false DENY for something that may have run"
    assert answer["audit"] == "recorded"
    assert [(r["request_id"], r["reason"], r["rule_id"], r["stage"], r["status"]) for r in sink.records] == [
        ("req-runner-0001", "REQUEST_IN_PROGRESS", rule_id, "gateway", "pending")
    ]


def test_an_unknown_answer_whose_audit_write_fails_still_answers_in_progress() -> None:
    answer = _run(lambda stub: stub.add_response("start_sync_execution", _execution("FAILED")), _Sink(fail=True))
    assert (answer["status"], answer["audit"]) == ("pending", "failed")


def test_a_second_start_of_a_request_id_answers_the_first_executions_recorded_outcome() -> None:
    first = {"request_id": "req-runner-0001", "status": "ok", "decision": "ALLOW", "reason": "ALLOWED", "rule_id": "r"}
    sfn = _client("stepfunctions")
    failed = {**_execution("FAILED"), "error": "DuplicateRequest"}
    with Stubber(sfn) as stub:
        stub.add_response("start_sync_execution", failed)
        sink = _Sink()
        runner = WorkflowRunner(sfn, "arn:aws:states:us-east-1:123456789012:sm", sink, outcomes=lambda _r, _s: first)
        answer = runner({"request": RUN_REQUEST})
    assert (answer["status"], answer["decision"]["outcome"], answer["result_reason"]) == (
        "ok",
        "ALLOW",
        "DUPLICATE_REQUEST",
    )
    assert sink.records == [], "a duplicate records nothing of its own"


def test_the_start_client_never_retries_and_reads_within_the_workflow_budget() -> None:
    from mcp_gateway.adapters.workflow import start_client
    from mcp_gateway.domain.timeouts import derive

    client = start_client("us-east-1", derive(25))
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert client.meta.config.read_timeout == 30


def test_a_succeeded_workflow_returns_its_own_answer() -> None:
    own = {"request_id": "req-runner-0001", "status": "ok", "result": {"buckets": []}, "audit": "recorded"}
    sink = _Sink()
    answer = _run(
        lambda stub: stub.add_response(
            "start_sync_execution",
            _execution("SUCCEEDED", json.dumps(own)),
            {
                "stateMachineArn": "arn:aws:states:us-east-1:123456789012:sm",
                "name": "req-runner-0001",
                "input": json.dumps({"request": RUN_REQUEST}),
            },
        ),
        sink,
    )
    assert answer == own
    assert sink.records == []
