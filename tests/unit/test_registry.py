"""The tool registry, generically: every registered tool is checked the same way, so a new registry entry is
covered without editing a test. Each tool has a description and a portable output schema generated from its
output model, its example arguments map to an action the shipped policy allows, its executor's answer to the
example (in-process moto with the demo data) matches its output model, and the request an explanation is
about is built by the same function, and is equal to, the request a real call sends."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Iterator
from typing import Any

import anyio
import mcp_types as types
import pytest
from conftest import ROOT
from mcp_gateway.domain.models import ActionRequest, CallContext, Outcome, Principal
from mcp_gateway.domain.policy import evaluate, parse_policy
from mcp_gateway.domain.redaction import RedactionConfig, Redactor
from mcp_gateway.gateway import mcp_server, requests, tool_explain_policy
from mcp_gateway.gateway.mcp_server import build_server, output_schema, tool_definition
from mcp_gateway.tools import REGISTRY, TOOLS, ExecContext, LocalTool, Registry, Tool
from pydantic import ValidationError

NOW = 1_795_507_200.0  # 2026-11-24T08:00:00Z
REGION, ACCOUNT = "us-east-1", "123456789012"
POLICY = parse_policy((ROOT / "policy" / "gateway-policy.yaml").read_text())
PRINCIPAL = Principal(
    sub="u1", email="dev@example.com", groups=("developers", "sre"), token_id="t1", expires_at=2_000_000_000
)
EVERY_TOOL = sorted(TOOLS)
READ_TOOLS = sorted(name for name, tool in TOOLS.items() if tool.annotations.read_only)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def request_for(name: str, arguments: dict[str, Any] | None = None) -> ActionRequest:
    args = TOOLS[name].example if arguments is None else arguments
    return requests.build_request(name, args, PRINCIPAL, region=REGION, account=ACCOUNT, now=NOW)


@pytest.mark.parametrize("name", EVERY_TOOL)
def test_every_registered_tool_is_described_and_publishes_a_portable_output_schema(name: str) -> None:
    tool = TOOLS[name]
    assert tool.name == name
    assert tool.title and len(tool.description) > 40
    schema = output_schema(tool)
    assert schema["required"] == ["request_id", "status"]
    result = schema["properties"]["result"]
    assert result["type"] == "object"
    assert result == {**tool.result_schema, "description": "the tool's data, redacted"}
    for node in walk(result):
        assert "$ref" not in node and "$defs" not in node, "the result schema is embedded: no references"
        assert not isinstance(node.get("type"), list), "one type per schema: nullable fields are anyOf with null"
        for alternative in node.get("anyOf", []):
            assert isinstance(alternative.get("type"), str), "every anyOf branch has one type"
    definition = tool_definition(tool)
    assert definition.output_schema == schema
    assert definition.input_schema["additionalProperties"] is False
    assert definition.annotations is not None
    assert definition.annotations.read_only_hint is tool.annotations.read_only
    json.dumps(definition.model_dump(mode="json"))


@pytest.mark.parametrize("name", EVERY_TOOL)
def test_every_registered_tools_example_maps_to_an_action_the_shipped_policy_allows(name: str) -> None:
    request = request_for(name)
    rules = list(POLICY.allow) + [r for g in PRINCIPAL.groups if g in POLICY.groups for r in POLICY.groups[g].allow]
    assert any(rule.action == request.action and all(rule.covers(r) for r in request.resources) for rule in rules)
    decision = evaluate(POLICY, request)
    assert decision.outcome is Outcome.ALLOW, (decision.reason, decision.rule_id)


@pytest.mark.parametrize("name", EVERY_TOOL)
def test_every_registered_tools_example_round_trips_as_a_request_and_its_unknown_arguments_are_refused(
    name: str,
) -> None:
    request = request_for(name)
    assert request.tool == name
    assert ActionRequest.model_validate(json.loads(request.model_dump_json())) == request
    with pytest.raises(ValidationError):
        request_for(name, {**TOOLS[name].example, "unexpected_argument": 1})


@pytest.fixture(scope="module")
def demo_aws() -> Iterator[Any]:
    """In-process moto with the local stack's demo data (buckets, log groups and streams, metrics, alarms)."""
    import boto3
    from mcp_gateway_local import demo_data
    from moto import mock_aws

    with mock_aws():
        demo_data.seed(lambda service: boto3.client(service, region_name=REGION))
        yield lambda service: boto3.client(service, region_name=REGION)


@pytest.mark.parametrize("name", READ_TOOLS)
def test_every_read_tools_executor_answers_its_example_in_the_shape_of_its_output_model(
    name: str, demo_aws: Any
) -> None:
    tool = TOOLS[name]
    now = dt.datetime.now(dt.UTC)
    request = requests.build_request(name, tool.example, PRINCIPAL, region=REGION, account=ACCOUNT, now=now.timestamp())
    context = ExecContext(
        operation=request.operation,
        params=dict(request.parameters),
        redactor=Redactor(RedactionConfig()),
        pii=True,
        cap=200_000,
        sleep=lambda seconds: None,
    )
    out = tool.execute(demo_aws(request.service), context)
    assert out["status"] == "ok", out
    parsed = tool.output_model.model_validate(out["data"])
    assert parsed.model_dump(mode="json") == out["data"]


# --- one request builder for real calls and explanations ------------------------------------------------
EXPLAINED_CALLS = [(name, TOOLS[name].example) for name in EVERY_TOOL] + [
    ("list_objects", {"bucket": "acme-app-logs", "prefix": "orders-api/", "intent": "find yesterday's logs"}),
    ("get_object", {"bucket": "acme-finance-private", "key": "payroll.csv"}),
    ("call_aws", {"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": "acme-scratch"}}),
    ("call_aws", {"service": "ec2", "operation": "DescribeInstances"}),
    ("filter_log_events", {"log_group": "/aws/lambda/orders-api", "start_time": "2026-11-24T07:00:00Z"}),
]


class Recorder:
    def __init__(self) -> None:
        self.built: list[ActionRequest] = []

    def __call__(self, *args: Any, **kwargs: Any) -> ActionRequest:
        request = BUILD(*args, **kwargs)
        self.built.append(request)
        return request


BUILD = requests.build_request


def comparable(request: ActionRequest) -> dict[str, Any]:
    dumped: dict[str, Any] = request.model_dump(mode="json", exclude={"request_id"})
    return dumped


def test_a_real_call_and_its_explanation_build_equal_requests_with_the_same_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(mcp_server, "build_request", recorder)
    monkeypatch.setattr(tool_explain_policy, "build_request", recorder)
    sent: list[dict[str, Any]] = []

    def run_workflow(payload: dict[str, Any]) -> dict[str, Any]:
        sent.append(payload["request"])
        return {"request_id": payload["request"]["request_id"], "status": "ok", "result": {}}

    explainer = tool_explain_policy.ExplainPolicyTool(POLICY, "", region=REGION, account=ACCOUNT, clock=lambda: NOW)
    handler = mcp_server.call_tool_handler(
        run_workflow,
        region=REGION,
        account=ACCOUNT,
        clock=lambda: NOW,
        local_tools={tool_explain_policy.NAME: explainer},
    )
    ctx = type("Ctx", (), {"request": type("Req", (), {"state": type("S", (), {"principal": PRINCIPAL})()})()})()

    async def call(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        result: types.CallToolResult = await handler(ctx, types.CallToolRequestParams(name=name, arguments=arguments))
        return result

    for name, arguments in EXPLAINED_CALLS:
        recorder.built.clear()
        real = anyio.run(call, name, arguments)
        explained = anyio.run(call, tool_explain_policy.NAME, {"tool": name, "arguments": arguments})
        assert not real.is_error and not explained.is_error, (name, arguments)
        real_request, explained_request = recorder.built
        assert comparable(real_request) == comparable(explained_request), name
        assert sent[-1] == real_request.model_dump(mode="json")
        assert explained.structured_content is not None
        assert explained.structured_content["decision"] == evaluate(POLICY, real_request).model_dump(mode="json")


def test_the_cli_explanation_builds_the_request_with_the_same_function(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_gateway_local import policy_cli

    recorder = Recorder()
    monkeypatch.setattr(requests, "build_request", recorder)
    for name, arguments in EXPLAINED_CALLS:
        recorder.built.clear()
        answer = policy_cli.explain_tool_call(
            POLICY,
            "",
            name,
            arguments,
            PRINCIPAL.email,
            list(PRINCIPAL.groups),
            region=REGION,
            account=ACCOUNT,
            now=NOW,
        )
        (built,) = recorder.built
        assert comparable(built) == {
            **comparable(request_for(name, arguments)),
            "principal": comparable(built)["principal"],
        }
        assert answer["decision"] == evaluate(POLICY, built).model_dump(mode="json")


def test_call_aws_parameters_the_aws_api_rejects_are_refused_by_explanations_as_by_real_calls() -> None:
    from mcp_gateway.adapters.service_model import ServiceModelError

    bad = {"service": "s3", "operation": "ListObjectsV2", "parameters": {"Bucket": "b", "Bukket": "c"}}
    with pytest.raises(ServiceModelError) as refused:
        requests.build_request("call_aws", bad, PRINCIPAL, region=REGION, account=ACCOUNT, now=NOW)
    assert {"field": "Bukket", "type": "unknown_parameter"} in refused.value.errors
    explainer = tool_explain_policy.ExplainPolicyTool(POLICY, "", region=REGION, account=ACCOUNT, clock=lambda: NOW)
    answer = anyio.run(explainer, PRINCIPAL, {"tool": "call_aws", "arguments": bad})
    assert answer.is_error
    assert json.loads(answer.content[0].text)["error"]["reason"] == "INVALID_INPUT"


def test_the_intent_comes_from_the_arguments_else_from_the_calls_meta() -> None:
    built = requests.build_request(
        "list_buckets", {}, PRINCIPAL, region=REGION, account=ACCOUNT, now=NOW, meta={"prompt": "find the logs"}
    )
    assert built.intent == "find the logs"
    own = requests.build_request(
        "list_buckets", {"intent": "mine"}, PRINCIPAL, region=REGION, account=ACCOUNT, now=NOW, meta={"intent": "x"}
    )
    assert own.intent == "mine"
    assert built.context == CallContext()


# --- the registry itself ---------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", list(REGISTRY.local.values()), ids=lambda e: e.name)
def test_every_gateway_local_tool_references_a_module_with_its_name_definition_and_handler(entry: LocalTool) -> None:
    module = importlib.import_module(entry.module)
    assert entry.name == module.NAME
    definition = module.definition()
    assert definition.name == entry.name and definition.description and definition.output_schema
    assert callable(getattr(module, entry.handler))


def test_a_tool_name_is_registered_once_whatever_its_kind() -> None:
    tool: Tool = TOOLS["list_buckets"]
    with pytest.raises(ValueError, match="twice"):
        Registry([tool, tool])
    with pytest.raises(ValueError, match="twice"):
        Registry([tool], local=[LocalTool("list_buckets", "m", "C")])
    assert not set(REGISTRY.tools) & set(REGISTRY.local)


def test_the_mcp_server_refuses_a_local_handler_that_is_not_in_the_registry() -> None:
    async def handler(principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="not in the registry"):
        build_server(lambda payload: {}, region=REGION, account=ACCOUNT, extra_tools={"sneaky": handler})


def test_dispatch_in_the_execute_step_goes_through_the_registry() -> None:
    from mcp_gateway.handlers import execute

    assert not [name for name in dir(execute.Executor) if name.startswith("_tool_")]
    unknown = execute.Executor(lambda service, principal: object())._run(
        {"tool": "no_such_tool", "service": "s3", "parameters": {}}, {}
    )
    assert unknown["reason"] == "UNKNOWN_TOOL"
