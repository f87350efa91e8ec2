"""The gateway function: HTTP edge, authentication and the MCP server."""
