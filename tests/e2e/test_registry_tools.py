"""Every read-only tool in the registry, called over real HTTP against the local stack's demo data with its
registered example arguments: each answers ``ok`` with a result its output model accepts. Generic over the
registry, so a new read tool is exercised end to end without editing this file."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import unique_email
from mcp_gateway.tools import TOOLS

pytestmark = pytest.mark.e2e

READ_TOOLS = sorted(name for name, tool in TOOLS.items() if tool.annotations.read_only)


async def test_every_read_tool_answers_its_example_with_a_result_its_output_model_accepts(
    stack: Any, session_factory: Any
) -> None:
    async with session_factory(unique_email("registry")).client() as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        for name in READ_TOOLS:
            tool = TOOLS[name]
            assert listed[name].output_schema["properties"]["result"]["properties"] == tool.result_schema["properties"]
            result = await client.call_tool(name, {**tool.example, "intent": "check every tool works"})
            assert not result.is_error, (name, result.content[0].text)
            body = result.structured_content
            assert body is not None and body["status"] == "ok", (name, body)
            parsed = tool.output_model.model_validate(body["result"])
            assert parsed.model_dump(mode="json") == body["result"], name
