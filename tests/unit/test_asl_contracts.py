"""Every JSONPath in statemachine/*.asl.json must exist in the JSON Schema of the contract model that holds
the data at that point (mcp_gateway.domain.contracts).

What is checked, per state:
- paths read from the state (InputPath, Parameters/ItemSelector values ending in ``.$``, Choice ``Variable``
  and ``...Path`` comparisons, TimeoutSecondsPath, intrinsic-function arguments): in the machine's input model
  (its StartAt state) or the workflow-state model (every other state);
- ResultSelector values and OutputPath: in the task's raw result (``$.Payload`` of a Lambda's output model);
- where the ASL writes (ResultPath, including every Catch's, and a Pass state's or ResultSelector's literal
  keys): the written keys must exist in the state model, so a state the ASL builds is one the models accept;
- literal keys of a Lambda's ``Payload`` and of a started execution's ``Input`` against that function's or
  machine's input model, ``Payload.$: "$"`` only where the state model is the function's input model;
- DynamoDB ``S.$``/``N.$`` values must be strings, ``Item.$`` a DynamoDB item, TimeoutSecondsPath an integer,
  and literal values must be members of the enum the schema allows there.
Context paths (``$$.``) are checked against the context object's known fields.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp_gateway.domain.contracts import (
    ApprovalInput,
    ApprovalResult,
    AuditResponse,
    DeferredAudit,
    ExecuteInput,
    ExecuteResult,
    NotifyApproversInput,
    ValidateInput,
    ValidateOutput,
    WorkflowState,
)
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
ASL_DIR = ROOT / "statemachine"
CONTEXT_PATHS = {
    "$$.Task.Token",
    "$$.Execution.Id",
    "$$.Execution.Name",
    "$$.Execution.StartTime",
    "$$.Execution.Input",
    "$$.State.Name",
    "$$.State.EnteredTime",
    "$$.State.RetryCount",
    "$$.StateMachine.Id",
    "$$.StateMachine.Name",
    "$$.Map.Item.Index",
    "$$.Map.Item.Value",
}
PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath", "TimeoutSecondsPath", "HeartbeatSecondsPath")
LAMBDA = "arn:aws:states:::lambda:invoke"
START_EXECUTION = "arn:aws:states:::states:startExecution"
DYNAMODB = ("arn:aws:states:::dynamodb:", "arn:aws:states:::aws-sdk:dynamodb:")


@dataclass(frozen=True)
class Machine:
    """Which model holds the data where: the machine's input, every later state, and each task's I/O."""

    input: type[BaseModel]
    state: type[BaseModel]
    outputs: tuple[type[BaseModel], ...]
    lambdas: dict[str, tuple[type[BaseModel], type[BaseModel]]]  # state name -> (function input, output)
    started: dict[str, type[BaseModel]] = field(default_factory=dict)  # state name -> started machine's input


MACHINES = {
    "request.asl.json": Machine(
        input=ValidateInput,
        state=WorkflowState,
        outputs=(AuditResponse, DeferredAudit),
        lambdas={
            "Validate": (ValidateInput, ValidateOutput),
            "Execute": (ExecuteInput, ExecuteResult),
            "AuditOutcome": (WorkflowState, AuditResponse),
        },
        started={"StartApproval": ApprovalInput},
    ),
    "approval.asl.json": Machine(
        input=ApprovalInput,
        state=WorkflowState,
        outputs=(AuditResponse, WorkflowState),
        lambdas={
            "NotifyApprovers": (NotifyApproversInput, ApprovalResult),  # waitForTaskToken: the callback's output
            "Execute": (ExecuteInput, ExecuteResult),
            "AuditOutcome": (WorkflowState, AuditResponse),
        },
    ),
}


# --------------------------------------------------------------------------------------------------
# JSON Schema navigation
# --------------------------------------------------------------------------------------------------


class Schema:
    """A model's JSON Schema, navigated by JSONPath segments through $ref, anyOf/oneOf/allOf."""

    def __init__(self, model: type[BaseModel] | dict[str, Any]) -> None:
        self.root = model if isinstance(model, dict) else model.model_json_schema()
        self.defs: dict[str, Any] = dict(self.root.get("$defs", {}))

    @classmethod
    def wrapping(cls, name: str, model: type[BaseModel]) -> Schema:
        """``{name: <model>}``: a Lambda task's raw result (``Payload``)."""
        inner = model.model_json_schema()
        defs = dict(inner.pop("$defs", {}))
        defs["__inner__"] = inner
        return cls(
            {
                "type": "object",
                "properties": {name: {"$ref": "#/$defs/__inner__"}, "StatusCode": {"type": "integer"}},
                "$defs": defs,
            }
        )

    def branches(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        """The alternatives a node allows, refs resolved, null dropped."""
        if "$ref" in node:
            return self.branches(self.defs[node["$ref"].rsplit("/", 1)[1]])
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                return [b for sub in node[key] for b in self.branches(sub)]
        if node.get("type") == "null":
            return []
        return [node]

    def lookup(self, segments: list[str | int]) -> list[dict[str, Any]]:
        """The schema nodes a path can reach (empty: the path does not exist)."""
        nodes = self.branches(self.root)
        for seg in segments:
            nxt: list[dict[str, Any]] = []
            for node in nodes:
                if isinstance(seg, int):
                    if node.get("type") == "array" and isinstance(node.get("items"), dict):
                        nxt += self.branches(node["items"])
                elif seg in node.get("properties", {}):
                    nxt += self.branches(node["properties"][seg])
                elif isinstance(node.get("additionalProperties"), dict):
                    nxt += self.branches(node["additionalProperties"])
            nodes = nxt
            if not nodes:
                return []
        return nodes

    @staticmethod
    def types(nodes: list[dict[str, Any]]) -> set[str]:
        return {str(n.get("type", "any")) for n in nodes}


# --------------------------------------------------------------------------------------------------
# JSONPath parsing
# --------------------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']+)'\]")
_QUOTED = re.compile(r"'(?:\\.|[^'\\])*'")
_ARG_PATH = re.compile(r"\$\$?[A-Za-z0-9_.\[\]']*")


def segments(path: str) -> list[str | int] | None:
    """``$.a.b[0]`` -> ["a", "b", 0]; None if it is not a plain reference path."""
    if not path.startswith("$") or path.startswith("$$"):
        return None
    rest, out, pos = path[1:], [], 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if m is None:
            return None
        out.append(int(m.group(2)) if m.group(2) else (m.group(1) or m.group(3)))
        pos = m.end()
    return out


def referenced_paths(expr: str) -> list[str]:
    """The paths an expression reads: itself, or the path arguments of an intrinsic function."""
    if not expr.startswith("States."):
        return [expr]
    return _ARG_PATH.findall(_QUOTED.sub("''", expr))


# --------------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------------


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)  # JSON pointers of every JSONPath that was checked

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _read(report: Report, where: str, expr: Any, schema: Schema, expect: set[str] | None = None) -> None:
    """Check one path expression (or intrinsic function) against the schema that holds its data."""
    report.checked.add(where)
    if not isinstance(expr, str):
        report.fail(where, f"{expr!r} is not a path")
        return
    for path in referenced_paths(expr):
        if path.startswith("$$"):
            if path not in CONTEXT_PATHS:
                report.fail(where, f"{path} is not a context object field")
            continue
        segs = segments(path)
        if segs is None:
            report.fail(where, f"{path} is not a path the checker can read")
            continue
        nodes = schema.lookup(segs)
        if not nodes:
            report.fail(where, f"{path} does not exist in the model")
        elif expect is not None and expr == path and not Schema.types(nodes) <= expect:
            report.fail(where, f"{path} is {sorted(Schema.types(nodes))}, expected {sorted(expect)}")


def _literal_value(report: Report, where: str, value: Any, nodes: list[dict[str, Any]]) -> None:
    allowed: set[Any] = set()
    for node in nodes:
        if "enum" in node:
            allowed.update(node["enum"])
        elif "const" in node:
            allowed.add(node["const"])
        else:
            return  # not an enumerated field
    if isinstance(value, str | bool | int) and value not in allowed:
        report.fail(where, f"{value!r} is not one of {sorted(map(str, allowed))}")


def _template(
    report: Report,
    where: str,
    template: Any,
    source: Schema,
    target: Schema | None,
    target_at: list[str | int],
    *,
    dynamodb: bool = False,
) -> None:
    """A Parameters/ResultSelector/ItemSelector object: its ``.$`` values read ``source``; its keys (and
    literal values) are written to ``target`` at ``target_at`` (when the target is a model)."""
    if not isinstance(template, dict):
        return
    for key, value in template.items():
        here = f"{where}/{key}"
        name = key[:-2] if key.endswith(".$") else key
        if key.endswith(".$"):
            expect = {"string"} if dynamodb and name in ("S", "N") else None
            if dynamodb and name == "Item":
                _read(report, here, value, source, {"object"})
                nodes = source.lookup(segments(value) or [])
                items = [n.get("additionalProperties") for n in nodes]
                if not items or not all(isinstance(i, dict) for i in items):
                    report.fail(here, f"{value} is not a DynamoDB item")
                else:
                    attrs = {k for i in items for b in source.branches(i) for k in b.get("properties", {})}
                    if not attrs or not attrs <= {"S", "N", "BOOL", "L", "M", "SS", "NS", "NULL"}:
                        report.fail(here, f"{value} is not a DynamoDB item (attributes {sorted(attrs)})")
            else:
                _read(report, here, value, source, expect)
        if target is not None:
            nodes = target.lookup([*target_at, name])
            if not nodes:
                report.fail(here, f"writes {name!r}, which the model does not define")
                continue
            if not key.endswith(".$"):
                if isinstance(value, dict):
                    _template(report, here, value, source, target, [*target_at, name], dynamodb=dynamodb)
                else:
                    _literal_value(report, here, value, nodes)
        elif isinstance(value, dict) and not key.endswith(".$"):
            _template(report, here, value, source, None, [], dynamodb=dynamodb)
        elif isinstance(value, list) and not key.endswith(".$"):  # e.g. a transaction's TransactItems
            for i, element in enumerate(value):
                _template(report, f"{here}/{i}", element, source, None, [], dynamodb=dynamodb)


def _result_path(report: Report, where: str, path: Any, state: Schema, written: str) -> list[str | int] | None:
    """Where a state writes its result; it must exist in the workflow-state model."""
    if path is None:
        return None
    report.checked.add(where)
    segs = segments(path) if isinstance(path, str) else None
    if segs is None:
        report.fail(where, f"ResultPath {path!r} is not a reference path")
        return None
    if segs and not state.lookup(segs):
        report.fail(where, f"ResultPath {path} ({written}) does not exist in the model")
        return None
    return segs


def _choice_rules(report: Report, where: str, rule: dict[str, Any], state: Schema) -> None:
    for key, value in rule.items():
        if key == "Variable" or key.endswith("Path"):
            _read(report, f"{where}/{key}", value, state)
        elif key in ("And", "Or"):
            for i, sub in enumerate(value):
                _choice_rules(report, f"{where}/{key}/{i}", sub, state)
        elif key == "Not":
            _choice_rules(report, f"{where}/Not", value, state)


def check_machine(asl: dict[str, Any], machine: Machine) -> Report:
    report = Report()
    state_schema = Schema(machine.state)
    input_schema = Schema(machine.input)
    for name, st in asl["States"].items():
        base = f"/States/{name}"
        here = input_schema if name == asl["StartAt"] else state_schema
        kind = st["Type"]
        # the template substitutes the partition (arn:${Partition}:states:::...); the checker reads the aws one
        resource = str(st.get("Resource", "")).replace("${Partition}", "aws")
        for fld in PATH_FIELDS:
            if fld in st and fld != "OutputPath":
                expect = {"integer"} if fld.endswith("SecondsPath") else None
                _read(report, f"{base}/{fld}", st[fld], here, expect)
        # what the state reads and what its task receives
        if kind == "Choice":
            for i, rule in enumerate(st.get("Choices", [])):
                _choice_rules(report, f"{base}/Choices/{i}", rule, here)
        params = st.get("Parameters")
        if kind == "Task" and resource.startswith(LAMBDA) and isinstance(params, dict):
            fn_input = machine.lambdas[name][0]
            if "Payload.$" in params:
                _read(report, f"{base}/Parameters/Payload.$", params["Payload.$"], here)
                if (
                    params["Payload.$"] != "$"
                    or (machine.input if here is input_schema else machine.state) is not fn_input
                ):
                    report.fail(
                        f"{base}/Parameters/Payload.$", f"passes {params['Payload.$']}, not a {fn_input.__name__}"
                    )
            if "Payload" in params:
                _template(report, f"{base}/Parameters/Payload", params["Payload"], here, Schema(fn_input), [])
        elif kind == "Task" and resource.startswith(START_EXECUTION) and isinstance(params, dict):
            for key, value in params.items():
                if key == "Input":
                    _template(report, f"{base}/Parameters/Input", value, here, Schema(machine.started[name]), [])
                elif key.endswith(".$"):
                    _read(report, f"{base}/Parameters/{key}", value, here)
        elif isinstance(params, dict) and kind != "Pass":
            _template(report, f"{base}/Parameters", params, here, None, [], dynamodb=resource.startswith(DYNAMODB))
        if "ItemSelector" in st:
            _template(report, f"{base}/ItemSelector", st["ItemSelector"], here, None, [])
        # what the state writes
        result_path = st.get("ResultPath", "$")
        if kind == "Pass":
            segs = _result_path(report, f"{base}/ResultPath", result_path, state_schema, "Parameters")
            if segs is not None and isinstance(params, dict):
                target = state_schema
                if not segs and st.get("End"):  # the machine's output
                    candidates = [Schema(m) for m in machine.outputs]
                    keys = {k[:-2] if k.endswith(".$") else k for k in params}
                    target = next((c for c in candidates if all(c.lookup([k]) for k in keys)), candidates[0])
                _template(report, f"{base}/Parameters", params, here, target, segs)
        elif kind == "Task":
            raw: Schema | None = None
            if resource.startswith(LAMBDA):
                output = machine.lambdas[name][1]
                raw = Schema(output) if resource.endswith(".waitForTaskToken") else Schema.wrapping("Payload", output)
            if "ResultSelector" in st:
                segs = _result_path(report, f"{base}/ResultPath", result_path, state_schema, "ResultSelector")
                if raw is None:
                    report.fail(f"{base}/ResultSelector", "a ResultSelector on a task whose result has no model")
                else:
                    target = state_schema if segs is not None else None
                    _template(report, f"{base}/ResultSelector", st["ResultSelector"], raw, target, segs or [])
            elif result_path is not None and result_path != "$":
                segs = _result_path(report, f"{base}/ResultPath", result_path, state_schema, "the task's result")
                if segs is not None and raw is not None and resource.endswith(".waitForTaskToken"):
                    titles = {n.get("title") for n in state_schema.lookup(segs)}
                    if machine.lambdas[name][1].__name__ not in titles:
                        report.fail(f"{base}/ResultPath", f"{result_path} is not a {machine.lambdas[name][1].__name__}")
            if "OutputPath" in st:
                source = raw if (result_path == "$" and raw is not None and "ResultSelector" not in st) else here
                _read(report, f"{base}/OutputPath", st["OutputPath"], source)
                if source is raw and st.get("End"):
                    titles = {n.get("title") for n in source.lookup(segments(st["OutputPath"]) or [])}
                    if not titles & {m.__name__ for m in machine.outputs}:
                        report.fail(f"{base}/OutputPath", "the machine's output is none of its output models")
        elif "OutputPath" in st:
            _read(report, f"{base}/OutputPath", st["OutputPath"], here)
        for i, catch in enumerate(st.get("Catch", [])):
            where = f"{base}/Catch/{i}/ResultPath"
            segs = _result_path(report, where, catch.get("ResultPath", "$"), state_schema, "the error")
            if segs is not None and not all(state_schema.lookup([*segs, k]) for k in ("Error", "Cause")):
                report.fail(where, f"{catch.get('ResultPath')} cannot hold an error (Error, Cause)")
    return report


def jsonpath_locations(asl: dict[str, Any]) -> Iterator[str]:
    """Every place in the ASL that holds a JSONPath: what the checker must have looked at."""

    def walk(node: Any, where: str, key: str) -> Iterator[str]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{where}/{k}", k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, f"{where}/{i}", key)
        elif isinstance(node, str) and (
            key.endswith(".$") or key in (*PATH_FIELDS, "ResultPath", "Variable") or key.endswith("Path")
        ):
            yield where

    for name, st in asl["States"].items():
        yield from walk(st, f"/States/{name}", "")


def load(name: str) -> dict[str, Any]:
    asl: dict[str, Any] = json.loads((ASL_DIR / name).read_text())
    return asl


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


def test_every_state_machine_in_the_repository_has_its_models_declared() -> None:
    assert sorted(p.name for p in ASL_DIR.glob("*.asl.json")) == sorted(MACHINES)


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_every_jsonpath_of_the_state_machine_exists_in_the_contract_models(name: str) -> None:
    report = check_machine(load(name), MACHINES[name])
    assert report.problems == []


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_the_checker_looks_at_every_jsonpath_of_the_state_machine(name: str) -> None:
    asl = load(name)
    report = check_machine(asl, MACHINES[name])
    locations = set(jsonpath_locations(asl))
    assert len(locations) > 40
    assert locations - report.checked == set()


def test_a_state_reading_a_path_the_models_do_not_define_is_reported() -> None:
    asl = load("request.asl.json")
    mutated = copy.deepcopy(asl)
    key = mutated["States"]["RateCheckTier"]["Parameters"]["Key"]["pk"]
    assert key["S.$"] == "$.rate.tier_key"
    key["S.$"] = "$.rate.tier_kee"
    report = check_machine(mutated, MACHINES["request.asl.json"])
    assert report.problems == [
        "/States/RateCheckTier/Parameters/Key/pk/S.$: $.rate.tier_kee does not exist in the model"
    ]


def test_a_choice_on_a_field_the_models_do_not_define_is_reported() -> None:
    mutated = load("approval.asl.json")
    mutated["States"]["RouteDecision"]["Choices"][0]["Variable"] = "$.approval_result.verdict"
    report = check_machine(mutated, MACHINES["approval.asl.json"])
    assert [p.split(":")[0] for p in report.problems] == ["/States/RouteDecision/Choices/0/Variable"]


def test_an_intrinsic_function_argument_the_models_do_not_define_is_reported() -> None:
    mutated = load("request.asl.json")
    values = mutated["States"]["AccountBytes"]["Parameters"]["ExpressionAttributeValues"]
    values[":n"]["N.$"] = "States.Format('{}', $.execution.result.bytes_sent)"
    report = check_machine(mutated, MACHINES["request.asl.json"])
    assert len(report.problems) == 1
    assert "$.execution.result.bytes_sent does not exist" in report.problems[0]


def test_a_result_path_the_state_model_does_not_define_is_reported() -> None:
    mutated = load("request.asl.json")
    mutated["States"]["Validate"]["Catch"][0]["ResultPath"] = "$.validate_error"
    report = check_machine(mutated, MACHINES["request.asl.json"])
    assert [p.split(":")[0] for p in report.problems] == ["/States/Validate/Catch/0/ResultPath"]


def test_a_pass_state_writing_a_field_the_models_do_not_define_is_reported() -> None:
    mutated = load("request.asl.json")
    mutated["States"]["ValidateFailed"]["Parameters"]["severity"] = "high"
    mutated["States"]["ExecuteFailed"]["Parameters"]["result"]["reason"] = "NOT_A_REASON_CODE"
    report = check_machine(mutated, MACHINES["request.asl.json"])
    assert sorted(p.split(":")[0] for p in report.problems) == [
        "/States/ExecuteFailed/Parameters/result/reason",
        "/States/ValidateFailed/Parameters/severity",
    ]


def test_a_lambda_result_field_the_output_model_does_not_define_is_reported() -> None:
    mutated = load("request.asl.json")
    mutated["States"]["Validate"]["ResultSelector"]["rate.$"] = "$.Payload.rates"
    report = check_machine(mutated, MACHINES["request.asl.json"])
    assert [p.split(":")[0] for p in report.problems] == ["/States/Validate/ResultSelector/rate.$"]


def test_a_dynamodb_number_read_from_a_non_string_field_is_reported() -> None:
    mutated = load("request.asl.json")
    values = mutated["States"]["RateCheckTier"]["Parameters"]["ExpressionAttributeValues"]
    values[":limit"]["N.$"] = "$.rate.tier_limits.limit"  # an integer: DynamoDB wants the N string
    report = check_machine(mutated, MACHINES["request.asl.json"])
    assert len(report.problems) == 1
    assert "expected ['string']" in report.problems[0]


def test_the_execute_payload_must_be_what_the_execute_function_accepts() -> None:
    mutated = load("approval.asl.json")
    mutated["States"]["Execute"]["Parameters"]["Payload"]["decision.$"] = "$.decision"
    report = check_machine(mutated, MACHINES["approval.asl.json"])
    assert [p.split(":")[0] for p in report.problems] == ["/States/Execute/Parameters/Payload/decision.$"]


def test_jsonpaths_are_split_into_segments() -> None:
    assert segments("$") == []
    assert segments("$.rate.tier_key") == ["rate", "tier_key"]
    assert segments("$.a[0]['b c']") == ["a", 0, "b c"]
    assert segments("$$.Task.Token") is None
    assert referenced_paths("States.Format('{} $.not.a.path', $.execution.result.bytes_returned)") == [
        "$.execution.result.bytes_returned"
    ]
    assert referenced_paths("States.JsonToString($)") == ["$"]
