"""Sign-in that MCP clients do by themselves (issue 15), end to end against the local stack.

The official SDK's ``OAuthClientProvider`` connects with no token configured: protected-resource and
authorization-server discovery, a client ID metadata document (and, separately, dynamic registration),
authorization code + PKCE through the local IdP's login form driven over HTTP, tools/list and tools/call,
and - once an injected clock has passed 15 minutes - a refresh it does by itself. ``IdentityAssertionOAuthProvider``
gets a token with an ID-JAG from the local IdP. ``mcp-gateway sessions revoke`` cuts a signed-in user off.
"""

from __future__ import annotations

import time
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from conftest import tool_answer, unique_email
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from mcp_gateway.domain.errors import ReasonCode
from oauth_support import REDIRECT_URI, Browser, MemoryStorage, MetadataHost, reasons

pytestmark = pytest.mark.e2e

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def metadata_host(stack: Any) -> Iterator[MetadataHost]:
    host = MetadataHost(stack.local_ca.server_context())
    import threading

    threading.Thread(target=host.serve_forever, daemon=True).start()
    yield host
    host.close()


class _Offset:
    """An injected clock: real time plus an offset the test moves (no sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(stack: Any, monkeypatch: pytest.MonkeyPatch) -> _Offset:
    """One clock for the SDK client's token-expiry checks and for the gateway's authorization server."""
    offset = _Offset()
    fake_time = types.SimpleNamespace(time=offset, monotonic=time.monotonic)
    import mcp.client.auth.oauth2 as oauth2
    import mcp.shared.auth_utils as auth_utils

    monkeypatch.setattr(oauth2, "time", fake_time)
    monkeypatch.setattr(auth_utils, "time", fake_time)
    monkeypatch.setattr(stack.functions["GatewayFunction"].GATEWAY, "clock", offset)
    return offset


def client_metadata() -> OAuthClientMetadata:
    return OAuthClientMetadata(
        redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
        client_name="oauth-suite SDK client",
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )


@asynccontextmanager
async def signed_in(stack: Any, provider: Any) -> AsyncIterator[Any]:
    http = httpx2.AsyncClient(auth=provider, timeout=60, follow_redirects=False)
    async with Client(streamable_http_client(stack.info.mcp_url, http_client=http)) as client:
        yield client


async def test_the_sdk_client_signs_in_with_a_client_metadata_document_and_refreshes_by_itself_after_15_minutes(
    stack: Any, metadata_host: MetadataHost, clock: _Offset
) -> None:
    email = unique_email("cimd")
    client_id = metadata_host.publish("/clients/sdk-cimd.json")
    browser, storage = Browser(email), MemoryStorage()
    provider = OAuthClientProvider(
        server_url=stack.info.mcp_url,
        client_metadata=client_metadata(),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
        client_metadata_url=client_id,
    )
    async with signed_in(stack, provider) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"list_buckets", "whoami"} <= tools
        whoami = tool_answer(await client.call_tool("whoami", {}))
        assert email in str(whoami)
        assert storage.client_info is not None and storage.client_info.client_id == client_id  # CIMD, not DCR
        assert browser.result is not None and browser.result.iss == stack.info.gateway_url  # RFC 9207
        assert any(h.startswith(stack.idp.issuer + "/authorize") for h in browser.hops)  # via the IdP's own login
        first = storage.tokens
        assert first is not None and first.refresh_token and first.expires_in == 900
        idp_refreshes = stack.oidc.token_requests.count("refresh_token")

        clock.offset += 16 * 60  # the access token is now past its 15 minutes
        buckets = tool_answer(await client.call_tool("list_buckets", {"intent": "check the refresh"}))
        assert buckets["status"] == "ok"
        second = storage.tokens
        assert second is not None and second.access_token != first.access_token
        assert second.refresh_token and second.refresh_token != first.refresh_token  # rotated
        assert stack.oidc.token_requests.count("refresh_token") == idp_refreshes + 1  # the user re-checked at the IdP
        assert metadata_host.requests.count("/clients/sdk-cimd.json") == 1  # the document is cached


async def test_the_sdk_client_signs_in_with_dynamic_registration_when_it_has_no_metadata_document(
    stack: Any,
) -> None:
    email = unique_email("dcr")
    browser, storage = Browser(email), MemoryStorage()
    provider = OAuthClientProvider(
        server_url=stack.info.mcp_url,
        client_metadata=client_metadata(),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    async with signed_in(stack, provider) as client:
        assert "list_buckets" in {t.name for t in (await client.list_tools()).tools}
        answer = tool_answer(await client.call_tool("list_buckets", {"intent": "dcr sign-in"}))
        assert answer["status"] == "ok"
    assert storage.client_info is not None and storage.client_info.client_id.startswith("dcr-")


async def test_an_agent_gets_a_token_with_an_id_jag_from_the_local_idp_and_calls_a_tool(stack: Any) -> None:
    email = unique_email("idjag")
    stack.oidc.set_user(email, ["developers"])
    agent = stack.oauth_agent
    id_token = stack.oidc.id_token(agent.client_id, email, ["developers"])  # the user's SSO session at the IdP

    async def assertion(audience: str, resource: str) -> str:
        async with httpx.AsyncClient(timeout=30) as http:
            resp = await http.post(
                f"{stack.idp.issuer}/token",
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                    "subject_token": id_token,
                    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                    "audience": audience,
                    "resource": resource,
                    "client_id": agent.client_id,
                    "client_secret": agent.client_secret,
                },
            )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    storage = MemoryStorage()
    provider = IdentityAssertionOAuthProvider(
        server_url=stack.info.mcp_url,
        storage=storage,
        client_id=agent.client_id,
        client_secret=agent.client_secret,
        issuer=stack.info.gateway_url,
        assertion_provider=assertion,
    )
    async with signed_in(stack, provider) as client:
        answer = tool_answer(await client.call_tool("whoami", {}))
    assert email in str(answer)
    assert storage.tokens is not None and storage.tokens.refresh_token is None  # SEP-990: no refresh token


async def test_sessions_revoke_cuts_a_signed_in_user_off_at_once(
    stack: Any, metadata_host: MetadataHost, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from mcp_gateway_local.cli import main

    def cli(*args: str) -> str:
        capsys.readouterr()
        assert main(["--state-dir", str(stack.state_dir), "sessions", *args]) == 0
        return capsys.readouterr().out

    email = unique_email("revoke")
    client_id = metadata_host.publish("/clients/sdk-revoke.json")
    browser, storage = Browser(email), MemoryStorage()
    provider = OAuthClientProvider(
        server_url=stack.info.mcp_url,
        client_metadata=client_metadata(),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
        client_metadata_url=client_id,
    )
    async with signed_in(stack, provider) as client:
        assert tool_answer(await client.call_tool("list_buckets", {"intent": "before"}))["status"] == "ok"
    assert storage.tokens is not None
    access, refresh = storage.tokens.access_token, storage.tokens.refresh_token
    sessions = json.loads(cli("list", "--user", email, "--json"))["sessions"]
    assert len(sessions) == 1 and sessions[0]["client_id"] == client_id and not sessions[0]["revoked"]

    assert "revoked 1 session(s)" in cli("revoke", "--user", email)  # mcp-gateway sessions revoke --user EMAIL
    ua = f"oauth-suite/revoke-{time.time_ns()}"
    with httpx.Client(timeout=30) as http:
        call = http.post(
            stack.info.mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "authorization": f"Bearer {access}",
                "accept": "application/json, text/event-stream",
                "user-agent": ua,
            },
        )
        again = http.post(
            f"{stack.info.gateway_url}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": client_id},
            headers={"user-agent": ua},
        )
    assert call.status_code == 401
    assert call.json()["reason"] == ReasonCode.AUTH_SESSION_REVOKED.value
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert again.json()["error_description"] == ReasonCode.AUTH_SESSION_REVOKED.value
    assert reasons(stack, ua) == [ReasonCode.AUTH_SESSION_REVOKED.value] * 2
    assert json.loads(cli("list", "--user", email, "--json"))["sessions"][0]["revoked"]
