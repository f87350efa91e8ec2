"""Local, dev-only tooling for the MCP gateway: local stack, local IdP, CLI. Never shipped to Lambda."""
