"""The tool registry's vocabulary: what one tool is, declared once.

An AWS tool (:class:`Tool`) is its name and description, its bounded input model, how validated arguments map
to ONE canonical AWS action and its resources (:class:`ActionSpec`), the pydantic model of its result (the MCP
``outputSchema`` is generated from it) and its executor: a function that gets an injected client and an
:class:`ExecContext` (the authorized request's parameters, the result limits, the redactor) and returns the
execute step's result envelope (see :mod:`.paging`). A gateway-local tool (:class:`LocalTool`) runs in the
gateway itself and is named here by reference to its implementation module.

Nothing here performs I/O; executors touch AWS only through the client they are given.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from ..domain.catalog import ToolInput
from ..domain.errors import InvalidInputError
from ..domain.redaction import Redactor


@dataclass(frozen=True)
class ActionSpec:
    """What one tool call means in AWS terms."""

    service: str
    operation: str
    action: str
    resources: tuple[str, ...]
    api_params: dict[str, Any]


@dataclass(frozen=True)
class Annotations:
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = False


READ_ONLY = Annotations()


@dataclass(frozen=True)
class ExecContext:
    """What an executor gets besides its client: the authorized request and the limits on its result."""

    operation: str
    params: dict[str, Any]
    redactor: Redactor
    pii: bool  # True: PII is redacted for this caller
    cap: int  # the whole result envelope stays under this many bytes
    limits: Mapping[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    query_poll_attempts: int = 25


ToAction = Callable[[Any, str, str, dt.datetime], ActionSpec]
ToolExecutor = Callable[[Any, ExecContext], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    """One AWS tool, declared once."""

    name: str
    title: str
    description: str
    input_model: type[ToolInput]
    to_action: ToAction
    output_model: type[BaseModel]
    execute: ToolExecutor
    example: dict[str, Any]  # arguments that work against the demo stack (tests call every tool with them)
    annotations: Annotations = READ_ONLY
    # call_aws: the arguments are free-form API parameters, checked against botocore's service model first
    check_api_model: bool = False

    @property
    def result_schema(self) -> dict[str, Any]:
        return result_schema(self.output_model)


@dataclass(frozen=True)
class LocalTool:
    """A tool the gateway answers itself (no workflow, no data role). ``module`` names its implementation,
    which provides ``NAME``, ``definition()`` and the class ``handler`` the gateway wiring instantiates."""

    name: str
    module: str
    handler: str


class ToolResult(BaseModel):
    """Base of every tool's output model: unknown fields are refused, the model is immutable."""

    model_config = {"extra": "forbid", "frozen": True}


# --- portable output schemas ----------------------------------------------------------------------------
class PortableSchema(GenerateJsonSchema):
    """JSON Schema that strict MCP clients accept: every ``type`` is ONE type name, never a list (a client
    mapping tool schemas onto a single-``type`` dialect, e.g. the OpenAPI subset of Gemini function
    declarations, rejects the tool or drops the constraint; the MCP Inspector's ``--strict`` check warns
    about it). ``X | None`` is ``{"anyOf": [X, {"type": "null"}]}``, each branch with a single type."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if inner == {"type": "null"}:
            return inner
        return {"anyOf": [inner, {"type": "null"}]}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = _inline(defs[ref.removeprefix("#/$defs/")], defs)
            return {**target, **{k: _inline(v, defs) for k, v in node.items() if k != "$ref"}}
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def result_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a tool's ``result``: generated from its output model, references inlined (it is
    embedded in the response envelope), nullable fields as ``anyOf`` with a null branch. A result too large
    for the payload cap is replaced by ``{"truncated_json": ...}``, so that property is published and nothing
    is required at the top level."""
    raw = model.model_json_schema(mode="serialization", schema_generator=PortableSchema)
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    schema.pop("required", None)
    if schema.get("additionalProperties") is False:
        schema["properties"] = {
            **schema.get("properties", {}),
            "truncated_json": {
                "type": "string",
                "description": "only when the result exceeded the payload cap: its JSON, cut short",
            },
        }
    return schema


# --- the registry ---------------------------------------------------------------------------------------
class Registry:
    """Every tool by name. A name is registered once, whatever its kind."""

    def __init__(self, tools: Iterable[Tool], local: Iterable[LocalTool] = ()) -> None:
        self.tools: dict[str, Tool] = {}
        self.local: dict[str, LocalTool] = {}
        for tool in tools:
            self._claim(tool.name)
            self.tools[tool.name] = tool
        for entry in local:
            self._claim(entry.name)
            self.local[entry.name] = entry

    def _claim(self, name: str) -> None:
        if name in self.tools or name in self.local:
            raise ValueError(f"tool {name!r} is registered twice")

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def resolve(
        self, name: str, arguments: dict[str, Any], region: str, account: str, now: dt.datetime
    ) -> tuple[ToolInput, ActionSpec]:
        """Validate the arguments against the tool's model and map them to one canonical action.
        Raises ValidationError (arguments) or InvalidInputError (unknown tool, bad time)."""
        tool = self.tools.get(name)
        if tool is None:
            raise InvalidInputError(f"unknown tool {name[:64]!r}")
        parsed = tool.input_model.model_validate(arguments)
        return parsed, tool.to_action(parsed, region, account, now)
