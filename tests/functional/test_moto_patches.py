"""Every moto workaround in local/mcp_gateway_local/moto_patches.py, exercised against the moto server over HTTP."""

from __future__ import annotations

import io
import json
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


def test_start_sync_execution_runs_an_express_machine_to_completion_and_returns_its_output(stack: Any) -> None:
    arn = _machine(stack, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "End": True}}}, "EXPRESS")
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
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                           "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                                           "OutputPath": "$.Payload", "End": True}}},
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
        {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": fn},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}], "End": True},
            "Caught": {"Type": "Pass", "End": True}}},
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
        {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                                           "Parameters": {"StateMachineArn": child, "Name": "nested-1", "Input": {"x.$": "$.x"}},
                                           "ResultPath": "$.started", "End": True}}},
        "EXPRESS",
    )
    result = stack.client("stepfunctions").start_sync_execution(stateMachineArn=parent, name="e1", input='{"x": 7}')
    assert result["status"] == "SUCCEEDED", result.get("cause")
    executions = stack.client("stepfunctions").list_executions(stateMachineArn=child)["executions"]
    assert [e["name"] for e in executions] == ["nested-1"]
