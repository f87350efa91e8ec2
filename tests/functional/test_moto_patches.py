"""Every moto workaround in local/mcp_gateway_local/moto_patches.py, exercised against the moto server over HTTP."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mcp_gateway_local import moto_patches


def _function(stack: Any, handler: Any) -> str:
    name = f"patch-test-{uuid.uuid4().hex[:8]}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "x = 1\n")
    role = stack.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn: str = stack.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="app.h", Code={"ZipFile": buf.getvalue()}
    )["FunctionArn"]
    moto_patches.register_handler(name, handler)
    return arn


def _machine(stack: Any, definition: dict[str, Any], kind: str) -> str:
    arn: str = stack.client("stepfunctions").create_state_machine(
        name=f"patch-test-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/x",
        type=kind,
    )["stateMachineArn"]
    return arn


def test_start_sync_execution_runs_an_express_machine_to_completion_and_returns_its_output(
    stack: Any,
) -> None:
    arn = _machine(
        stack,
        {
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "End": True}},
        },
        "EXPRESS",
    )
    result = stack.client("stepfunctions").start_sync_execution(stateMachineArn=arn, name="e1", input='{"a": 1}')
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"a": 1, "r": {"ok": True}}


def test_start_sync_execution_refuses_a_standard_machine(stack: Any) -> None:
    arn = _machine(stack, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "STANDARD")
    with pytest.raises(ClientError) as err:
        stack.client("stepfunctions").start_sync_execution(stateMachineArn=arn, name="e1", input="{}")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_lambda_invocations_from_a_state_machine_reach_the_registered_in_process_handler(stack: Any) -> None:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"doubled": event["n"] * 2, "function": context.function_name}

    fn = _function(stack, handler)
    arn = _machine(
        stack,
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        },
        "EXPRESS",
    )
    result = stack.client("stepfunctions").start_sync_execution(stateMachineArn=arn, name="e1", input='{"n": 21}')
    assert json.loads(result["output"])["doubled"] == 42
    assert seen == [{"n": 21}]


def test_a_handler_exception_surfaces_as_a_catchable_lambda_function_error(stack: Any) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        raise ValueError("boom")

    fn = _function(stack, handler)
    arn = _machine(
        stack,
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": fn},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        },
        "EXPRESS",
    )
    result = stack.client("stepfunctions").start_sync_execution(stateMachineArn=arn, name="e1", input="{}")
    output = json.loads(result["output"])
    assert output["error"]["Error"] == "ValueError"
    direct = stack.client("lambda").invoke(FunctionName=fn, Payload=b"{}")
    assert direct["FunctionError"] == "Unhandled"


def test_an_unregistered_function_fails_closed_instead_of_echoing(stack: Any) -> None:
    fn = _function(stack, lambda e, c: {})
    name = fn.rsplit(":", 1)[1]
    moto_patches.register_handler(name, None)  # type: ignore[arg-type]
    with moto_patches._lock:
        moto_patches._handlers.pop(name, None)
    direct = stack.client("lambda").invoke(FunctionName=fn, Payload=b'{"echo": "me"}')
    assert direct["FunctionError"] == "Unhandled"
    assert json.loads(direct["Payload"].read())["errorType"] == "ResourceNotFoundException"


def test_the_optimized_start_execution_integration_starts_the_nested_machine(stack: Any) -> None:
    child = _machine(stack, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "STANDARD")
    parent = _machine(
        stack,
        {
            "StartAt": "S",
            "States": {
                "S": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution",
                    "Parameters": {"StateMachineArn": child, "Name": "nested-1", "Input": {"x.$": "$.x"}},
                    "ResultPath": "$.started",
                    "End": True,
                }
            },
        },
        "EXPRESS",
    )
    result = stack.client("stepfunctions").start_sync_execution(stateMachineArn=parent, name="e1", input='{"x": 7}')
    assert result["status"] == "SUCCEEDED", result.get("cause")
    executions = stack.client("stepfunctions").list_executions(stateMachineArn=child)["executions"]
    assert [e["name"] for e in executions] == ["nested-1"]


def test_a_cancelled_transaction_is_rolled_back_item_by_item_without_copying_the_table(stack: Any) -> None:
    ddb = stack.client("dynamodb")
    table = f"patch-test-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )

    def put(pk: str, condition: str | None = None, **attrs: dict[str, str]) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": table, "Item": {"pk": {"S": pk}, **attrs}}
        if condition == "new":
            op["ConditionExpression"] = "attribute_not_exists(pk)"
        elif condition:
            op["ConditionExpression"] = "seq = :p"
            op["ExpressionAttributeValues"] = {":p": {"N": condition}}
        return {"Put": op}

    ddb.put_item(TableName=table, Item={"pk": {"S": "head"}, "seq": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "old"}, "v": {"S": "before"}})
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[put("new", "new"), put("old", v={"S": "after"}), put("head", "2", seq={"N": "3"})]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = {i["pk"]["S"]: i for i in ddb.scan(TableName=table)["Items"]}
    assert set(items) == {"head", "old"}, "the first put was undone"
    assert items["old"]["v"]["S"] == "before"
    assert items["head"]["seq"]["N"] == "1"
    ddb.transact_write_items(TransactItems=[put("new", "new"), put("head", "1", seq={"N": "2"})])
    assert len(ddb.scan(TableName=table)["Items"]) == 3
    from moto.dynamodb import models as ddb_models

    assert ddb_models.copy is moto_patches._TableCopyShim


def test_concurrent_transactions_and_puts_on_the_moto_server_never_fail_with_a_server_error(
    stack: Any,
) -> None:
    """moto deep-copies tables for transaction rollback without a lock; the patch serialises server writes."""
    import threading

    ddb_name = f"patch-test-{uuid.uuid4().hex[:8]}"
    admin = stack.client("dynamodb")
    admin.create_table(
        TableName=ddb_name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    errors: list[str] = []

    def transactions(n: int) -> None:
        client = stack.client("dynamodb")
        for i in range(40):
            try:
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": ddb_name, "Item": {"pk": {"S": f"t{n}-{i}"}}}},
                        {"Put": {"TableName": ddb_name, "Item": {"pk": {"S": f"u{n}-{i}"}}}},
                    ]
                )
            except ClientError as exc:
                errors.append(exc.response["Error"]["Code"])

    def puts(n: int) -> None:
        client = stack.client("dynamodb")
        for i in range(80):
            try:
                client.put_item(TableName=ddb_name, Item={"pk": {"S": f"p{n}-{i}"}})
            except ClientError as exc:
                errors.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=transactions, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=puts, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert admin.scan(TableName=ddb_name, Select="COUNT")["Count"] == 4 * 40 * 2 + 4 * 80


def test_an_iam_statement_whose_condition_key_is_missing_does_not_apply() -> None:
    from moto.iam import access_control as ac

    moto_patches.install_iam_condition_semantics()
    statement = ac.IAMPolicyStatement(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"s3:authType": "REST-QUERY-STRING"}},
        }
    )
    assert statement.is_action_permitted("s3:ListBucket", "*", None, {}) == ac.PermissionResult.NEUTRAL
    presigned = {"s3:authType": "REST-QUERY-STRING"}
    assert statement.is_action_permitted("s3:ListBucket", "*", None, presigned) == ac.PermissionResult.DENIED
    plain = ac.IAMPolicyStatement({"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"})
    assert plain.is_action_permitted("s3:DeleteBucket", "*", None, {}) == ac.PermissionResult.DENIED


# ---- 7-9: caches of work moto repeats on every execution ------------------------------------------------------


def test_an_updated_state_machine_definition_is_parsed_afresh_not_served_from_the_definition_cache(
    stack: Any,
) -> None:
    def answer(value: str) -> dict[str, Any]:
        return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": value, "End": True}}}

    sfn = stack.client("stepfunctions")
    arn = _machine(stack, answer("first"), "EXPRESS")
    first = sfn.start_sync_execution(stateMachineArn=arn, name="v1", input="{}")
    again = sfn.start_sync_execution(stateMachineArn=arn, name="v1-again", input="{}")
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(answer("second")))
    second = sfn.start_sync_execution(stateMachineArn=arn, name="v2", input="{}")
    assert [json.loads(r["output"]) for r in (first, again, second)] == ["first", "first", "second"]


def test_the_definition_cache_returns_one_parsed_program_per_definition_text_and_never_caches_a_failure() -> None:
    calls: list[str] = []

    def parse(definition: str) -> object:
        calls.append(definition)
        if definition == "broken":
            raise ValueError("syntax error")
        return object()

    cached = moto_patches._cached_definition_parser(parse)
    a = '{"StartAt": "A"}'
    assert cached(a) is cached(a)
    assert cached(a + " ") is not cached(a)
    for _ in range(2):
        with pytest.raises(ValueError):
            cached("broken")
    assert calls == [a, a + " ", "broken", "broken"]


def test_two_executions_of_one_cached_definition_keep_their_own_retry_counts_and_data(stack: Any) -> None:
    attempts: dict[str, int] = {}

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        attempts[event["id"]] = attempts.get(event["id"], 0) + 1
        if attempts[event["id"]] < 2:
            raise RuntimeError("first attempt fails")
        return {"id": event["id"], "attempts": attempts[event["id"]]}

    fn = _function(stack, flaky)
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Retry": [
                    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1, "JitterStrategy": "FULL"}
                ],
                "End": True,
            }
        },
    }
    arn = _machine(stack, definition, "EXPRESS")
    sfn = stack.client("stepfunctions")
    outputs = [
        json.loads(sfn.start_sync_execution(stateMachineArn=arn, name=n, input=json.dumps({"id": n}))["output"])
        for n in ("a", "b")
    ]
    assert outputs == [{"id": "a", "attempts": 2}, {"id": "b", "attempts": 2}]


def test_the_interpreter_reuses_one_client_per_region_service_and_endpoint_and_a_new_endpoint_gets_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, str]] = []

    def build(region: str, service: str, state_credentials: Any = None) -> object:
        made.append((region, service))
        return object()

    monkeypatch.setattr(moto_patches, "_clients", {})
    cached = moto_patches._cached_boto_client_for(build)
    monkeypatch.setenv("MOTO_PORT", "6001")
    first = cached("us-east-1", "dynamodb")
    assert cached("us-east-1", "dynamodb") is first
    assert cached("eu-west-1", "dynamodb") is not first
    assert cached("us-east-1", "lambda") is not first
    monkeypatch.setenv("MOTO_PORT", "6002")
    moved = cached("us-east-1", "dynamodb")
    assert moved is not first
    built_before_the_move = [("us-east-1", "dynamodb"), ("eu-west-1", "dynamodb"), ("us-east-1", "lambda")]
    assert made == [*built_before_the_move, ("us-east-1", "dynamodb")]


def test_the_installed_interpreter_hands_out_the_cached_client(stack: Any) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_dynamodb,
    )

    a = state_task_service_dynamodb.boto_client_for("us-east-1", "dynamodb")
    assert state_task_service_dynamodb.boto_client_for("us-east-1", "dynamodb") is a
    assert lambda_eval_utils.boto_client_for is state_task_service_dynamodb.boto_client_for


def test_a_cached_json_path_is_one_parsed_expression_per_text_that_reads_each_document_afresh() -> None:
    from moto.stepfunctions.parser.asl.utils import json_path

    moto_patches.install()
    assert json_path.parse is moto_patches._parse_json_path_ext
    first = moto_patches._parse_json_path_ext("$.rate.tier_key")
    assert moto_patches._parse_json_path_ext("$.rate.tier_key") is first
    assert moto_patches._parse_json_path_ext("$.rate.global_key") is not first
    assert json_path.extract_json("$.rate.tier_key", {"rate": {"tier_key": "a"}}) == "a"
    assert json_path.extract_json("$.rate.tier_key", {"rate": {"tier_key": "b"}}) == "b"
    with pytest.raises(json_path.NoSuchJsonPathError):
        json_path.extract_json("$.rate.tier_key", {"rate": {}})


def test_a_cached_result_path_writes_into_each_state_input_without_leaking_between_them() -> None:
    target = moto_patches._parse_json_path("$.execution")
    assert moto_patches._parse_json_path("$.execution") is target
    one = target.update_or_create({"a": 1}, {"r": 1})
    two = target.update_or_create({"b": 2}, {"r": 2})
    assert (one, two) == ({"a": 1, "execution": {"r": 1}}, {"b": 2, "execution": {"r": 2}})


def test_the_json_copy_of_state_data_shares_no_container_and_deep_copies_anything_that_is_not_json() -> None:
    import datetime as dt

    class Marker:
        def __init__(self) -> None:
            self.seen: list[int] = []

    marker = Marker()
    when = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    data = {"a": [1, 2.5, "x", None, True, {"b": [{"c": "d"}]}], "when": when, "marker": marker}
    copied = moto_patches.json_copy(data)
    assert copied == {**data, "marker": copied["marker"]}
    assert copied is not data
    assert copied["a"] is not data["a"]
    assert copied["a"][5] is not data["a"][5]
    assert copied["a"][5]["b"][0] is not data["a"][5]["b"][0]
    assert copied["marker"] is not marker, "a non-JSON object is deep-copied, not shared"
    copied["a"][5]["b"][0]["c"] = "changed"
    assert data["a"][5]["b"][0]["c"] == "d"


def test_parallel_branches_writing_into_the_same_state_data_never_see_each_others_writes(stack: Any) -> None:
    def branch(value: str) -> dict[str, Any]:
        return {
            "StartAt": "W",
            "States": {"W": {"Type": "Pass", "Result": value, "ResultPath": "$.shared.written", "End": True}},
        }

    arn = _machine(
        stack,
        {
            "StartAt": "Both",
            "States": {
                "Both": {
                    "Type": "Parallel",
                    "Branches": [branch("left"), branch("right")],
                    "ResultPath": "$.branches",
                    "Next": "Keep",
                },
                "Keep": {"Type": "Pass", "End": True},
            },
        },
        "EXPRESS",
    )
    data = {"shared": {"list": [1, {"deep": True}]}}
    result = stack.client("stepfunctions").start_sync_execution(stateMachineArn=arn, input=json.dumps(data))
    output = json.loads(result["output"])
    assert output["shared"] == data["shared"], "the state's own data is unchanged by the branches"
    assert [b["shared"]["written"] for b in output["branches"]] == ["left", "right"]
    assert all(b["shared"]["list"] == [1, {"deep": True}] for b in output["branches"])


def test_the_backend_of_a_host_is_looked_up_once_and_remembered_per_host_text() -> None:
    looked_up: list[str | None] = []

    def lookup(self: Any, host: str | None) -> str | None:
        looked_up.append(host)
        return None if host == "unknown.example" else f"backend-of-{host}"

    cached = moto_patches._cached_backend_for_host(lookup)
    assert cached(None, "dynamodb") == "backend-of-dynamodb"
    assert cached(None, "dynamodb") == "backend-of-dynamodb"
    assert cached(None, "s3.us-east-1.amazonaws.com") == "backend-of-s3.us-east-1.amazonaws.com"
    assert cached(None, "unknown.example") is None
    assert cached(None, "unknown.example") is None
    assert cached(None, None) is None
    assert looked_up == ["dynamodb", "s3.us-east-1.amazonaws.com", "unknown.example"]


def test_the_installed_dispatcher_finds_the_same_backend_for_every_host_as_moto_does(stack: Any) -> None:
    from moto import backend_index
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    moto_patches.install()
    hosts = [
        None,
        "moto_api",
        "dynamodb",
        "states.us-east-1.amazonaws.com",
        "lambda.eu-west-1.amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        "my-bucket.s3.amazonaws.com",
        "logs.us-east-1.amazonaws.com",
        "no-such-service.example",
    ]
    moto_answers = [
        None,
        "moto_api",
        "dynamodb",
        "stepfunctions",
        "awslambda",
        "s3",
        "s3",
        "logs",
        None,
    ]
    dispatcher = DomainDispatcherApplication(lambda backend: None)  # type: ignore[arg-type,return-value]
    assert dispatcher.backend_url_patterns is backend_index.backend_url_patterns
    moto_lookup = DomainDispatcherApplication.get_backend_for_host.__wrapped__  # type: ignore[attr-defined]
    assert moto_lookup is not DomainDispatcherApplication.get_backend_for_host
    assert [moto_lookup(dispatcher, h) for h in hosts] == moto_answers
    assert [dispatcher.get_backend_for_host(h) for h in hosts] == moto_answers
    assert [dispatcher.get_backend_for_host(h) for h in hosts] == moto_answers, "and the same again, remembered"
    assert stack.client("dynamodb").list_tables()["TableNames"]  # the running server dispatches through it


def test_a_log_filter_pattern_is_parsed_once_per_text_and_filters_exactly_as_a_fresh_parse(stack: Any) -> None:
    from moto.logs import models as logs_models
    from moto.logs.utils import EventMessageFilter

    moto_patches.install()
    assert logs_models.EventMessageFilter is moto_patches._event_message_filter
    assert moto_patches._event_message_filter("ERROR") is moto_patches._event_message_filter("ERROR")
    assert moto_patches._event_message_filter("ERROR") is not moto_patches._event_message_filter("INFO")

    group = f"/patch-test/{uuid.uuid4().hex[:8]}"
    logs = stack.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    messages = ["ERROR payments timeout", "INFO order created", "ERROR disk full", "WARN payments slow", ""]
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now_ms + i, "message": m or " "} for i, m in enumerate(messages)],
    )
    for pattern in ("ERROR", "ERROR payments", '"payments timeout"', "payments", "NOPE", "", "{ $.x = 1 }"):
        found = [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]]
        fresh = EventMessageFilter(pattern)
        assert found == [m or " " for m in messages if fresh.matches(m or " ")], pattern
        assert found == [
            e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        ]
