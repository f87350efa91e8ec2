"""The gateway's MCP server answers the SDK's input-schema look-up (the Mcp-Param-* header check of a 2026-07-28
tools/call) with exactly the schema its tools/list advertises for that tool, for every tool, and with nothing for a
name it does not list; the SDK then needs no tools/list per call."""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp_gateway.gateway.mcp_server import build_server, tool_definition
from mcp_gateway.tools import REGISTRY
from mcp_types.methods import serialize_server_result

EXTRA = types.Tool(name="whoami", description="who am I", input_schema={"type": "object", "properties": {}})


def _listed(server: Any, version: str) -> dict[str, Any]:
    """What tools/list answers on the wire (the SDK's own serialisation of the handler's result)."""
    definitions = [tool_definition(s) for s in REGISTRY.tools.values()] + [EXTRA]
    data = types.ListToolsResult(tools=definitions).model_dump(by_alias=True, mode="json", exclude_none=True)
    return {t["name"]: t["inputSchema"] for t in serialize_server_result("tools/list", version, data)["tools"]}


def test_the_input_schema_look_up_answers_what_tools_list_advertises_for_every_tool() -> None:
    server = build_server(lambda payload: {}, region="us-east-1", account="123456789012", extra_definitions=[EXTRA])
    lookup = server.get_tool_input_schema
    assert lookup is not None
    for version in ("2026-07-28", "2025-11-25"):
        listed = _listed(server, version)
        assert len(listed) == len(REGISTRY.tools) + 1
        assert {name: lookup(name) for name in listed} == listed
    assert lookup("no_such_tool") is None
