"""Shared library of the MCP security gateway for AWS.

- ``mcp_gateway.domain``: the pure core (no boto3, no I/O): models, policy, detection, redaction,
  tokens, signatures, audit chain, rate-limit arithmetic.
- ``mcp_gateway.adapters``: thin boto3-backed implementations of the ports the core declares.
"""

__version__ = "0.1.0"
