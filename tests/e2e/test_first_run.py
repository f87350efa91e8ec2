"""A new user's first run (issue 18): the local stack fails closed like a real deploy must (eve@evil.com in group
`nobody` is refused), and every loopback name reaches the MCP endpoint while a foreign Host still gets 421."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import exchange

LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
ACCEPT = "application/json, text/event-stream"


def test_eve_in_group_nobody_is_refused_by_the_local_stack_defaults(stack: Any) -> None:
    token = exchange(stack.info.gateway_url, stack.idp.mint("eve@evil.com", ["nobody"]))["access_token"]
    resp = httpx.post(
        stack.info.mcp_url, json=LIST, headers={"authorization": f"Bearer {token}", "accept": ACCEPT}, timeout=30
    )
    assert resp.status_code == 403
    assert resp.json()["reason"] == "AUTH_INSUFFICIENT_GROUP"


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]"])
def test_every_loopback_name_reaches_the_local_mcp_endpoint(stack: Any, name: str) -> None:
    token = exchange(stack.info.gateway_url, stack.idp.mint("alice@example.com", ["developers"]))["access_token"]
    port = stack.ports["gateway"]
    resp = httpx.post(
        f"http://{name}:{port}/mcp",
        json=LIST,
        headers={"authorization": f"Bearer {token}", "accept": ACCEPT},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"]["tools"]


def test_a_foreign_host_is_still_refused_locally(stack: Any) -> None:
    token = exchange(stack.info.gateway_url, stack.idp.mint("alice@example.com", ["developers"]))["access_token"]
    resp = httpx.post(
        stack.info.mcp_url,
        json=LIST,
        headers={"authorization": f"Bearer {token}", "accept": ACCEPT, "host": "evil.example:80"},
        timeout=30,
    )
    assert resp.status_code == 421
