"""The tool registry: every tool the gateway offers, each declared once (see :mod:`.registry`).

Split by service: :mod:`.s3`, :mod:`.logs`, :mod:`.cloudwatch`, the generic :mod:`.generic` (``call_aws``)
and the gateway-local tools (:mod:`.local`). To add a tool, add its entry to its service's ``TOOLS``; the
MCP server, the execute step, ``explain_policy`` and the tests pick it up from here.

Layering: this package sits above ``mcp_gateway.domain`` and below ``handlers``/``gateway``; it imports the
domain only, and executors reach AWS only through the client they are given.
"""

from __future__ import annotations

from . import cloudwatch, generic, local, logs, s3
from .registry import ActionSpec, Annotations, ExecContext, LocalTool, Registry, Tool, ToolResult, result_schema

REGISTRY = Registry(
    (*s3.TOOLS, *logs.TOOLS, *cloudwatch.TOOLS, *generic.TOOLS),
    local=local.TOOLS,
)
TOOLS: dict[str, Tool] = REGISTRY.tools
resolve = REGISTRY.resolve

__all__ = [
    "REGISTRY",
    "TOOLS",
    "ActionSpec",
    "Annotations",
    "ExecContext",
    "LocalTool",
    "Registry",
    "Tool",
    "ToolResult",
    "resolve",
    "result_schema",
]
