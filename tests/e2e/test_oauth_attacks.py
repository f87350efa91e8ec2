"""Attacks on the authorization server (issue 15), over real HTTP against the local stack. Each one is refused
with the RFC 6749 error and an ``AUTH_*`` reason code, and leaves an audit record with that reason (never the
token): wrong PKCE verifier, code reuse, a code redeemed by another client or with another redirect URI, a
``resource`` of another server, open-redirect attempts, state/iss mix-ups, refresh-token reuse (the family is
revoked), a refresh after the user left the required group at the IdP, client metadata document URLs at private
addresses, huge or slow metadata documents, and an IdP token sent straight to /mcp."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from conftest import unique_email
from mcp_gateway.domain.errors import ReasonCode
from oauth_support import REDIRECT_URI, Browser, Document, MetadataHost, auth_records, pkce_pair, reasons

pytestmark = pytest.mark.e2e

MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
LIST_TOOLS = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})


@pytest.fixture(scope="module")
def metadata_host(stack: Any) -> Iterator[MetadataHost]:
    host = MetadataHost(stack.local_ca.server_context())
    threading.Thread(target=host.serve_forever, daemon=True).start()
    yield host
    host.close()


def _ua(name: str) -> str:
    return f"oauth-attacks/{name}/{time.time_ns()}"


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Flow:
    """One browser sign-in done by hand: client, PKCE pair, the code the client's redirect received."""

    client_id: str
    verifier: str
    code: str
    state: str
    landing: str


def authorize_url(stack: Any, client_id: str, challenge: str, **overrides: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "client-state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": stack.info.mcp_url,
        "scope": "aws.read",
        **overrides,
    }
    return f"{stack.info.gateway_url}/authorize?{urlencode(params)}"


def register(stack: Any, redirect_uris: list[str] | None = None) -> str:
    resp = httpx.post(
        f"{stack.info.gateway_url}/register",
        json={
            "redirect_uris": redirect_uris or [REDIRECT_URI],
            "client_name": "attack-suite",
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["client_id"])


async def sign_in(stack: Any, email: str, ua: str, groups: str = "developers", client_id: str = "") -> Flow:
    client_id = client_id or register(stack)
    verifier, challenge = pkce_pair()
    browser = Browser(email, groups=groups, user_agent=ua)
    landing = await browser.sign_in(authorize_url(stack, client_id, challenge))
    query = _query(landing)
    assert "code" in query, landing
    return Flow(client_id, verifier, query["code"], query.get("state", ""), landing)


def token(stack: Any, ua: str, **form: str) -> httpx.Response:
    return httpx.post(f"{stack.info.gateway_url}/oauth/token", data=form, headers={"user-agent": ua}, timeout=30)


def redeem(stack: Any, flow: Flow, ua: str, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": REDIRECT_URI,
        "client_id": flow.client_id,
        "code_verifier": flow.verifier,
        "resource": stack.info.mcp_url,
        **overrides,
    }
    return token(stack, ua, **form)


def refused(resp: httpx.Response, error: str, code: ReasonCode) -> None:
    assert resp.status_code in (400, 401), resp.text
    assert resp.json()["error"] == error
    assert resp.json()["error_description"] == code.value
    assert "access_token" not in resp.json()


# ------------------------------------------------------------------------------------------------------
# The happy path this suite attacks (and the RFC 9207 iss on it)
# ------------------------------------------------------------------------------------------------------
async def test_a_hand_driven_sign_in_redirects_with_the_client_state_and_the_gateway_issuer(stack: Any) -> None:
    ua = _ua("happy")
    flow = await sign_in(stack, unique_email("happy"), ua)
    assert flow.landing.startswith(REDIRECT_URI + "?")
    assert flow.state == "client-state-123"
    assert _query(flow.landing)["iss"] == stack.info.gateway_url
    resp = redeem(stack, flow, ua)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["refresh_token"]
    call = httpx.post(
        stack.info.mcp_url,
        content=LIST_TOOLS,
        headers={**MCP_HEADERS, "authorization": f"Bearer {body['access_token']}"},
    )
    assert call.status_code == 200
    assert reasons(stack, ua) == []


# ------------------------------------------------------------------------------------------------------
# Codes
# ------------------------------------------------------------------------------------------------------
async def test_a_wrong_pkce_verifier_is_refused_and_audited(stack: Any) -> None:
    ua = _ua("pkce")
    flow = await sign_in(stack, unique_email("pkce"), ua)
    wrong, _ = pkce_pair()
    refused(redeem(stack, flow, ua, code_verifier=wrong), "invalid_grant", ReasonCode.AUTH_PKCE_FAILED)
    # the code is gone even for the right verifier now: single use
    refused(redeem(stack, flow, ua), "invalid_grant", ReasonCode.AUTH_CODE_REUSED)
    assert reasons(stack, ua) == sorted([ReasonCode.AUTH_PKCE_FAILED.value, ReasonCode.AUTH_CODE_REUSED.value])


async def test_a_reused_code_is_refused_and_revokes_what_was_issued_from_it(stack: Any) -> None:
    ua = _ua("reuse")
    flow = await sign_in(stack, unique_email("reuse"), ua)
    first = redeem(stack, flow, ua)
    assert first.status_code == 200
    refused(redeem(stack, flow, ua), "invalid_grant", ReasonCode.AUTH_CODE_REUSED)
    again = token(
        stack, ua, grant_type="refresh_token", refresh_token=first.json()["refresh_token"], client_id=flow.client_id
    )
    refused(again, "invalid_grant", ReasonCode.AUTH_SESSION_REVOKED)
    assert reasons(stack, ua) == sorted([ReasonCode.AUTH_CODE_REUSED.value, ReasonCode.AUTH_SESSION_REVOKED.value])


async def test_a_code_redeemed_by_another_client_or_with_another_redirect_uri_is_refused(stack: Any) -> None:
    ua = _ua("binding")
    other_client = register(stack)
    flow = await sign_in(stack, unique_email("binding"), ua)
    refused(redeem(stack, flow, ua, client_id=other_client), "invalid_grant", ReasonCode.AUTH_CLIENT_MISMATCH)
    flow2 = await sign_in(stack, unique_email("binding2"), ua)
    other_uri = "http://127.0.0.1:53682/other"
    refused(redeem(stack, flow2, ua, redirect_uri=other_uri), "invalid_grant", ReasonCode.AUTH_REDIRECT_MISMATCH)
    assert reasons(stack, ua) == sorted(
        [ReasonCode.AUTH_CLIENT_MISMATCH.value, ReasonCode.AUTH_REDIRECT_MISMATCH.value]
    )


async def test_a_resource_of_another_server_is_refused_at_authorize_and_at_the_token_endpoint(stack: Any) -> None:
    ua = _ua("resource")
    client_id = register(stack)
    _, challenge = pkce_pair()
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(authorize_url(stack, client_id, challenge, resource="https://other-mcp.example.com/mcp"))
    assert resp.status_code == 302
    back = _query(resp.headers["location"])
    assert resp.headers["location"].startswith(REDIRECT_URI)  # the registered URI only
    assert back["error"] == "invalid_target" and back["error_description"] == ReasonCode.AUTH_WRONG_RESOURCE.value
    assert back["state"] == "client-state-123" and back["iss"] == stack.info.gateway_url
    flow = await sign_in(stack, unique_email("resource"), ua, client_id=client_id)
    wrong = redeem(stack, flow, ua, resource="https://other-mcp.example.com/mcp")
    refused(wrong, "invalid_target", ReasonCode.AUTH_WRONG_RESOURCE)
    assert reasons(stack, ua) == [ReasonCode.AUTH_WRONG_RESOURCE.value] * 2


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/callback",
        "http://127.0.0.1:53682/callback/../../steal",
        "http://127.0.0.1.evil.example.com/callback",
        "javascript:alert(1)",
        "http://127.0.0.1:53682/callback#frag",
        "//evil.example.com/callback",
    ],
    ids=["other-host", "path-traversal", "lookalike-host", "javascript", "fragment", "scheme-relative"],
)
def test_an_open_redirect_attempt_gets_an_error_page_and_no_redirect(stack: Any, redirect_uri: str) -> None:
    ua = _ua("open-redirect")
    client_id = register(stack)
    _, challenge = pkce_pair()
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(authorize_url(stack, client_id, challenge, redirect_uri=redirect_uri))
    assert resp.status_code == 400
    assert "location" not in resp.headers
    assert resp.json()["error_description"] == ReasonCode.AUTH_REDIRECT_MISMATCH.value
    assert reasons(stack, ua) == [ReasonCode.AUTH_REDIRECT_MISMATCH.value]


def test_registration_refuses_redirect_uris_that_would_allow_open_redirects(stack: Any) -> None:
    ua = _ua("register")
    for uri in ("http://evil.example.com/cb", "javascript:alert(1)", "https://x.example.com/cb#f"):
        resp = httpx.post(
            f"{stack.info.gateway_url}/register", json={"redirect_uris": [uri]}, headers={"user-agent": ua}, timeout=30
        )
        assert resp.status_code == 400
        assert resp.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
    assert len(reasons(stack, ua)) == 3


def test_an_unknown_client_gets_an_error_page_and_no_redirect(stack: Any) -> None:
    ua = _ua("unknown-client")
    _, challenge = pkce_pair()
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(authorize_url(stack, "dcr-never-registered", challenge))
    assert resp.status_code == 400 and "location" not in resp.headers
    assert reasons(stack, ua) == [ReasonCode.AUTH_UNKNOWN_CLIENT.value]


# ------------------------------------------------------------------------------------------------------
# state / iss mix-ups at the IdP leg
# ------------------------------------------------------------------------------------------------------
async def _to_callback(stack: Any, ua: str) -> str:
    """Walk to the point where the IdP redirects back to the gateway; return that callback URL (not followed)."""
    client_id = register(stack)
    _, challenge = pkce_pair()
    async with httpx.AsyncClient(timeout=30, headers={"user-agent": ua}) as http:
        to_idp = (await http.get(authorize_url(stack, client_id, challenge))).headers["location"]
        page = await http.get(to_idp)
        import html
        import re

        form = {html.unescape(k): html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
        form.update({"email": unique_email("mixup"), "groups": "developers"})
        posted = await http.post(f"{stack.idp.issuer}/login", data=form)
    callback = str(posted.headers["location"])
    assert callback.startswith(f"{stack.info.gateway_url}/oauth/callback?")
    return callback


async def test_a_forged_or_replayed_idp_state_is_refused_and_audited(stack: Any) -> None:
    ua = _ua("state")
    callback = await _to_callback(stack, ua)
    params = _query(callback)
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        forged = http.get(f"{stack.info.gateway_url}/oauth/callback?{urlencode({**params, 'state': 'forged'})}")
        good = http.get(callback)
        replayed = http.get(callback)
    assert forged.status_code == 400 and "location" not in forged.headers
    assert good.status_code == 302 and "code=" in good.headers["location"]
    assert replayed.status_code == 400 and "location" not in replayed.headers
    assert reasons(stack, ua) == [ReasonCode.AUTH_STATE_MISMATCH.value] * 2


async def test_a_callback_carrying_another_idps_iss_is_refused_as_a_mix_up(stack: Any) -> None:
    ua = _ua("iss")
    callback = await _to_callback(stack, ua)
    params = _query(callback)
    assert params["iss"] == stack.idp.issuer  # the local IdP sends RFC 9207 iss
    mixed = {**params, "iss": "https://attacker-idp.example.com"}
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(f"{stack.info.gateway_url}/oauth/callback?{urlencode(mixed)}")
    assert resp.status_code == 302
    back = _query(resp.headers["location"])
    assert resp.headers["location"].startswith(REDIRECT_URI)
    assert back["error"] == "access_denied" and "code" not in back
    assert back["error_description"] == ReasonCode.AUTH_WRONG_ISSUER.value
    assert reasons(stack, ua) == [ReasonCode.AUTH_WRONG_ISSUER.value]


# ------------------------------------------------------------------------------------------------------
# Refresh tokens
# ------------------------------------------------------------------------------------------------------
async def test_a_reused_refresh_token_revokes_the_whole_family(stack: Any) -> None:
    ua = _ua("refresh-reuse")
    flow = await sign_in(stack, unique_email("refresh"), ua)
    first = redeem(stack, flow, ua).json()["refresh_token"]
    rotated = token(stack, ua, grant_type="refresh_token", refresh_token=first, client_id=flow.client_id)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    refused(
        token(stack, ua, grant_type="refresh_token", refresh_token=first, client_id=flow.client_id),
        "invalid_grant",
        ReasonCode.AUTH_REFRESH_REUSED,
    )
    refused(
        token(stack, ua, grant_type="refresh_token", refresh_token=second, client_id=flow.client_id),
        "invalid_grant",
        ReasonCode.AUTH_SESSION_REVOKED,
    )
    assert reasons(stack, ua) == sorted([ReasonCode.AUTH_REFRESH_REUSED.value, ReasonCode.AUTH_SESSION_REVOKED.value])


async def test_a_refresh_token_presented_by_another_client_is_refused(stack: Any) -> None:
    ua = _ua("refresh-client")
    flow = await sign_in(stack, unique_email("refresh-client"), ua)
    refresh = redeem(stack, flow, ua).json()["refresh_token"]
    refused(
        token(stack, ua, grant_type="refresh_token", refresh_token=refresh, client_id=register(stack)),
        "invalid_grant",
        ReasonCode.AUTH_CLIENT_MISMATCH,
    )
    assert reasons(stack, ua) == [ReasonCode.AUTH_CLIENT_MISMATCH.value]


async def test_a_refresh_after_the_user_left_the_required_group_at_the_idp_is_refused(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = stack.functions["GatewayFunction"].GATEWAY
    monkeypatch.setattr(gateway, "required_groups", frozenset({"developers"}))
    monkeypatch.setattr(gateway.oauth, "required_groups", frozenset({"developers"}))
    ua, email = _ua("group"), unique_email("group")
    flow = await sign_in(stack, email, ua)
    refresh = redeem(stack, flow, ua).json()["refresh_token"]
    stack.oidc.set_user(email, ["contractors"])  # removed from "developers" at the IdP
    refused(
        token(stack, ua, grant_type="refresh_token", refresh_token=refresh, client_id=flow.client_id),
        "invalid_grant",
        ReasonCode.AUTH_INSUFFICIENT_GROUP,
    )
    assert reasons(stack, ua) == [ReasonCode.AUTH_INSUFFICIENT_GROUP.value]


async def test_a_refresh_for_a_user_disabled_at_the_idp_is_refused_and_the_family_revoked(stack: Any) -> None:
    ua, email = _ua("disabled"), unique_email("disabled")
    flow = await sign_in(stack, email, ua)
    refresh = redeem(stack, flow, ua).json()["refresh_token"]
    stack.oidc.disable(email)
    refused(
        token(stack, ua, grant_type="refresh_token", refresh_token=refresh, client_id=flow.client_id),
        "invalid_grant",
        ReasonCode.AUTH_IDP_REFUSED,
    )
    assert reasons(stack, ua) == [ReasonCode.AUTH_IDP_REFUSED.value]


# ------------------------------------------------------------------------------------------------------
# Client ID metadata documents
# ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "client_id",
    [
        "https://10.0.0.5/clients/app.json",
        "https://169.254.169.254/latest/meta-data/app.json",
        "https://192.168.1.10/clients/app.json",
        "https://[fd00::1]/clients/app.json",
        "https://100.64.0.1/clients/app.json",
        "https://0.0.0.0/clients/app.json",
        "http://mcp-client.example.com/clients/app.json",
    ],
    ids=["rfc1918", "metadata-service", "rfc1918-192", "ula-ipv6", "cgnat", "unspecified", "plain-http"],
)
def test_a_client_metadata_url_at_a_private_address_is_refused_without_a_fetch(stack: Any, client_id: str) -> None:
    ua = _ua("cimd-private")
    _, challenge = pkce_pair()
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(authorize_url(stack, client_id, challenge))
    assert resp.status_code == 400 and "location" not in resp.headers
    assert resp.json()["error_description"] == ReasonCode.AUTH_CLIENT_METADATA_REFUSED.value
    assert reasons(stack, ua) == [ReasonCode.AUTH_CLIENT_METADATA_REFUSED.value]


def test_a_huge_client_metadata_document_is_refused(stack: Any, metadata_host: MetadataHost) -> None:
    ua = _ua("cimd-huge")
    url = f"{metadata_host.base}/clients/huge.json"
    doc = {"client_id": url, "redirect_uris": [REDIRECT_URI], "padding": "x" * 200_000}
    metadata_host.raw("/clients/huge.json", Document(json.dumps(doc).encode()))
    _, challenge = pkce_pair()
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(authorize_url(stack, url, challenge))
    assert resp.status_code == 400 and "location" not in resp.headers
    assert reasons(stack, ua) == [ReasonCode.AUTH_CLIENT_METADATA_REFUSED.value]


def test_a_slow_client_metadata_document_is_cut_off_by_the_deadline(stack: Any, metadata_host: MetadataHost) -> None:
    ua = _ua("cimd-slow")
    url = f"{metadata_host.base}/clients/slow.json"
    doc = json.dumps({"client_id": url, "redirect_uris": [REDIRECT_URI]}).encode()
    metadata_host.raw("/clients/slow.json", Document(doc, stall=True))
    _, challenge = pkce_pair()
    started = time.monotonic()
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(authorize_url(stack, url, challenge))
    assert time.monotonic() - started < 10  # the gateway's 2 s local deadline, not the drip, decides
    assert resp.status_code == 400 and "location" not in resp.headers
    assert reasons(stack, ua) == [ReasonCode.AUTH_CLIENT_METADATA_REFUSED.value]


def test_a_client_metadata_document_naming_another_client_id_is_refused(
    stack: Any, metadata_host: MetadataHost
) -> None:
    ua = _ua("cimd-mismatch")
    url = metadata_host.publish(
        "/clients/mismatch.json", {"client_id": "https://other.example.com/c.json", "redirect_uris": [REDIRECT_URI]}
    )
    _, challenge = pkce_pair()
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        resp = http.get(authorize_url(stack, url, challenge))
    assert resp.status_code == 400
    assert reasons(stack, ua) == [ReasonCode.AUTH_CLIENT_METADATA_REFUSED.value]


# ------------------------------------------------------------------------------------------------------
# IdP tokens are never accepted as access tokens
# ------------------------------------------------------------------------------------------------------
def test_an_idp_id_token_sent_straight_to_mcp_is_refused_and_audited(stack: Any) -> None:
    ua = _ua("idp-token")
    email = unique_email("idp-token")
    stack.oidc.set_user(email, ["developers"])
    id_token = stack.oidc.id_token("mcp-gateway-web", email, ["developers"])
    resp = httpx.post(
        stack.info.mcp_url,
        content=LIST_TOOLS,
        headers={**MCP_HEADERS, "authorization": f"Bearer {id_token}", "user-agent": ua},
        timeout=30,
    )
    assert resp.status_code == 401
    assert resp.json()["reason"] == ReasonCode.AUTH_WRONG_TOKEN_TYPE.value
    assert reasons(stack, ua) == [ReasonCode.AUTH_WRONG_TOKEN_TYPE.value]
    records = auth_records(stack, ua)
    assert id_token not in json.dumps(records)  # audited by fingerprint, never the token


# ------------------------------------------------------------------------------------------------------
# Session lifetime, RFC 7009 revocation, registration switched off
# ------------------------------------------------------------------------------------------------------
async def test_a_refresh_past_the_absolute_session_lifetime_is_refused(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ua = _ua("lifetime")
    flow = await sign_in(stack, unique_email("lifetime"), ua)
    refresh = redeem(stack, flow, ua).json()["refresh_token"]
    gateway = stack.functions["GatewayFunction"].GATEWAY
    lifetime = gateway.oauth.config.session_lifetime_seconds
    assert lifetime == 12 * 3600  # the template's default
    monkeypatch.setattr(gateway, "clock", lambda: time.time() + lifetime + 1)
    refused(
        token(stack, ua, grant_type="refresh_token", refresh_token=refresh, client_id=flow.client_id),
        "invalid_grant",
        ReasonCode.AUTH_SESSION_EXPIRED,
    )
    assert reasons(stack, ua) == [ReasonCode.AUTH_SESSION_EXPIRED.value]


async def test_a_refresh_token_revoked_at_the_revocation_endpoint_stops_working(stack: Any) -> None:
    ua = _ua("rfc7009")
    flow = await sign_in(stack, unique_email("rfc7009"), ua)
    refresh = redeem(stack, flow, ua).json()["refresh_token"]
    with httpx.Client(timeout=30, headers={"user-agent": ua}) as http:
        other = http.post(
            f"{stack.info.gateway_url}/oauth/revoke", data={"token": refresh, "client_id": register(stack)}
        )
        still = token(stack, ua, grant_type="refresh_token", refresh_token=refresh, client_id=flow.client_id)
        assert other.status_code == 200 and still.status_code == 200  # another client cannot revoke it
        refresh = still.json()["refresh_token"]
        revoked = http.post(
            f"{stack.info.gateway_url}/oauth/revoke",
            data={"token": refresh, "token_type_hint": "refresh_token", "client_id": flow.client_id},
        )
        unknown = http.post(
            f"{stack.info.gateway_url}/oauth/revoke", data={"token": "nope", "client_id": flow.client_id}
        )
    assert revoked.status_code == 200 and unknown.status_code == 200  # RFC 7009 2.2: 200 for unknown tokens too
    refused(
        token(stack, ua, grant_type="refresh_token", refresh_token=refresh, client_id=flow.client_id),
        "invalid_grant",
        ReasonCode.AUTH_SESSION_REVOKED,
    )


def test_dynamic_registration_switched_off_is_absent_from_metadata_and_refused(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    oauth = stack.functions["GatewayFunction"].GATEWAY.oauth
    monkeypatch.setattr(oauth, "config", dataclasses.replace(oauth.config, registration_enabled=False))
    with httpx.Client(timeout=30) as http:
        metadata = http.get(f"{stack.info.gateway_url}/.well-known/oauth-authorization-server").json()
        resp = http.post(f"{stack.info.gateway_url}/register", json={"redirect_uris": [REDIRECT_URI]})
    assert "registration_endpoint" not in metadata
    assert metadata["client_id_metadata_document_supported"] is True
    assert resp.status_code == 404


# ------------------------------------------------------------------------------------------------------
# ID-JAG (jwt-bearer)
# ------------------------------------------------------------------------------------------------------
def _id_jag(stack: Any, email: str, **overrides: str) -> str:
    agent = stack.oauth_agent
    stack.oidc.set_user(email, ["developers"])
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
        "subject_token": stack.oidc.id_token(agent.client_id, email, ["developers"]),
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "audience": stack.info.gateway_url,
        "resource": stack.info.mcp_url,
        "client_id": agent.client_id,
        "client_secret": agent.client_secret,
        **overrides,
    }
    resp = httpx.post(f"{stack.idp.issuer}/token", data=form, timeout=30)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _jwt_bearer(stack: Any, ua: str, assertion: str, **overrides: str) -> httpx.Response:
    agent = stack.oauth_agent
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": assertion,
        "client_id": agent.client_id,
        "client_secret": agent.client_secret,
        "resource": stack.info.mcp_url,
        **overrides,
    }
    return token(stack, ua, **form)


def test_an_id_jag_is_accepted_once_and_a_replay_is_refused(stack: Any) -> None:
    ua = _ua("idjag-replay")
    jag = _id_jag(stack, unique_email("idjag-replay"))
    first = _jwt_bearer(stack, ua, jag)
    assert first.status_code == 200, first.text
    assert "refresh_token" not in first.json()
    refused(_jwt_bearer(stack, ua, jag), "invalid_grant", ReasonCode.AUTH_REPLAY)
    assert reasons(stack, ua) == [ReasonCode.AUTH_REPLAY.value]


def test_an_id_jag_for_another_audience_or_resource_is_refused(stack: Any) -> None:
    ua = _ua("idjag-target")
    other_aud = _id_jag(stack, unique_email("idjag-aud"), audience="https://other-as.example.com")
    other_resource = _id_jag(stack, unique_email("idjag-res"), resource="https://other.example.com/mcp")
    refused(_jwt_bearer(stack, ua, other_aud), "invalid_grant", ReasonCode.AUTH_WRONG_AUDIENCE)
    refused(_jwt_bearer(stack, ua, other_resource), "invalid_target", ReasonCode.AUTH_WRONG_RESOURCE)
    assert reasons(stack, ua) == sorted([ReasonCode.AUTH_WRONG_AUDIENCE.value, ReasonCode.AUTH_WRONG_RESOURCE.value])


def test_the_jwt_bearer_grant_needs_the_confidential_client_and_an_id_jag(stack: Any) -> None:
    ua = _ua("idjag-client")
    jag = _id_jag(stack, unique_email("idjag-client"))
    wrong_secret = _jwt_bearer(stack, ua, jag, client_secret="not-the-secret")
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    public = token(stack, ua, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=jag,
                   client_id=register(stack))  # fmt: skip
    assert public.status_code == 400 and public.json()["error"] == "unauthorized_client"
    plain_id_token = stack.oidc.id_token(stack.oauth_agent.client_id, unique_email("idjag-plain"), ["developers"])
    refused(_jwt_bearer(stack, ua, plain_id_token), "invalid_grant", ReasonCode.AUTH_WRONG_TOKEN_TYPE)
    assert reasons(stack, ua) == sorted(
        [ReasonCode.AUTH_UNKNOWN_CLIENT.value] * 2 + [ReasonCode.AUTH_WRONG_TOKEN_TYPE.value]
    )


def test_an_unreadable_revocation_state_fails_closed_at_mcp(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import exchange

    ua = _ua("state-down")
    access = exchange(stack.info.gateway_url, stack.idp.mint(unique_email("state-down"), ["developers"]))[
        "access_token"
    ]
    store = stack.functions["GatewayFunction"].GATEWAY.oauth.store

    def unavailable(email: str) -> int | None:
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(store, "user_revoked_at", unavailable)
    resp = httpx.post(
        stack.info.mcp_url,
        content=LIST_TOOLS,
        headers={**MCP_HEADERS, "authorization": f"Bearer {access}", "user-agent": ua},
        timeout=30,
    )
    assert resp.status_code == 401
    assert resp.json()["reason"] == ReasonCode.AUTH_STATE_UNAVAILABLE.value
    assert reasons(stack, ua) == [ReasonCode.AUTH_STATE_UNAVAILABLE.value]
