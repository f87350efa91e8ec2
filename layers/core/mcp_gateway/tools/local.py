"""Gateway-local tools: answered by the gateway itself, without the request workflow or the data role.

Their implementations live in ``mcp_gateway.gateway`` (they read the gateway's own tables and policy), so
they are registered here by reference: each module provides ``NAME``, ``definition()`` and the handler
class the gateway wiring instantiates with its dependencies.
"""

from __future__ import annotations

from .registry import LocalTool

TOOLS = (
    LocalTool("whoami", "mcp_gateway.gateway.tool_whoami", "WhoAmITool"),
    LocalTool("explain_policy", "mcp_gateway.gateway.tool_explain_policy", "ExplainPolicyTool"),
    LocalTool("get_request_status", "mcp_gateway.gateway.tool_request_status", "RequestStatusTool"),
)
