"""The authorization server's pure rules (domain/oauth.py) and the SSRF guard of the client metadata fetcher."""

from __future__ import annotations

import pytest
from mcp.shared.auth import OAuthMetadata
from mcp_gateway.adapters.oauth_cimd import MetadataDocumentFetcher
from mcp_gateway.domain.errors import AuthError, ReasonCode
from mcp_gateway.domain.oauth import (
    CodeGrant,
    RefreshFamily,
    authorization_server_metadata,
    check_code_redemption,
    check_refresh,
    client_metadata_url_problem,
    keyed_hash,
    pkce_challenge,
    redirect_uri_allowed,
    redirect_uri_problem,
    redirect_with,
    refused_address,
    verify_pkce,
)

RESOURCE = "https://gw.example.com/mcp"
VERIFIER = "v" * 43 + "-._~"
NOW = 1_800_000_000.0


def grant(**overrides: object) -> CodeGrant:
    values: dict[str, object] = {
        "client_id": "https://app.example.com/client.json",
        "redirect_uri": "http://127.0.0.1:3000/cb",
        "code_challenge": pkce_challenge(VERIFIER),
        "resource": RESOURCE,
        "scope": "aws.read",
        "sub": "00u1",
        "email": "alice@example.com",
        "family_id": "fam-1",
        "expires_at": int(NOW) + 60,
        **overrides,
    }
    return CodeGrant.model_validate(values)


def family(**overrides: object) -> RefreshFamily:
    values: dict[str, object] = {
        "family_id": "fam-1",
        "client_id": "c1",
        "sub": "00u1",
        "email": "alice@example.com",
        "resource": RESOURCE,
        "scope": "aws.read",
        "current_hash": "a" * 64,
        "started_at": int(NOW),
        "absolute_expires_at": int(NOW) + 43_200,
        **overrides,
    }
    return RefreshFamily.model_validate(values)


def test_the_metadata_document_is_what_the_issue_lists_and_parses_as_sdk_oauth_metadata() -> None:
    doc = authorization_server_metadata("https://gw.example.com", registration=True, scopes=["aws.read"])
    parsed = OAuthMetadata.model_validate(doc)
    assert str(parsed.issuer) == "https://gw.example.com"
    assert doc["authorization_endpoint"] == "https://gw.example.com/authorize"
    assert doc["token_endpoint"] == "https://gw.example.com/oauth/token"
    assert doc["revocation_endpoint"] == "https://gw.example.com/oauth/revoke"
    assert doc["registration_endpoint"] == "https://gw.example.com/register"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    }
    assert "none" in doc["token_endpoint_auth_methods_supported"]
    assert doc["client_id_metadata_document_supported"] is True
    assert doc["authorization_response_iss_parameter_supported"] is True


def test_switching_registration_off_removes_the_registration_endpoint() -> None:
    doc = authorization_server_metadata("https://gw.example.com", registration=False, scopes=["aws.read"])
    assert "registration_endpoint" not in doc


def test_pkce_accepts_only_the_matching_s256_verifier() -> None:
    challenge = pkce_challenge(VERIFIER)
    assert verify_pkce(VERIFIER, challenge)
    assert not verify_pkce(VERIFIER + "x", challenge)
    assert not verify_pkce("short", pkce_challenge("short"))  # RFC 7636: 43..128 characters
    assert not verify_pkce(VERIFIER, VERIFIER)  # "plain" is not accepted


@pytest.mark.parametrize(
    ("registered", "requested", "allowed"),
    [
        (["http://127.0.0.1:3000/cb"], "http://127.0.0.1:3000/cb", True),
        (["http://127.0.0.1/cb"], "http://127.0.0.1:49152/cb", True),  # RFC 8252 7.3: any loopback port
        (["http://127.0.0.1/cb"], "http://127.0.0.1:49152/other", False),
        (["https://app.example.com/cb"], "https://app.example.com/cb/", False),
        (["https://app.example.com/cb"], "https://app.example.com:8443/cb", False),
        (["https://app.example.com/cb"], "https://evil.example.com/cb", False),
        (["cursor://anysphere.cursor-retrieval/oauth/cb"], "cursor://anysphere.cursor-retrieval/oauth/cb", True),
    ],
)
def test_redirect_uris_match_exactly_except_the_loopback_port(
    registered: list[str], requested: str, allowed: bool
) -> None:
    assert redirect_uri_allowed(registered, requested) is allowed


@pytest.mark.parametrize(
    "uri",
    ["javascript:alert(1)", "data:text/html,x", "http://evil.example.com/cb", "https://a.example.com/cb#f",
     "https://user@a.example.com/cb", "file:///etc/passwd", "https://a.example.com/c b"],
)  # fmt: skip
def test_dangerous_redirect_uris_cannot_be_registered(uri: str) -> None:
    assert redirect_uri_problem(uri) is not None


def test_the_authorization_response_keeps_the_registered_query_and_appends_parameters() -> None:
    url = redirect_with("https://app.example.com/cb?x=1", {"code": "c", "state": "s&t", "iss": None})
    assert url == "https://app.example.com/cb?x=1&code=c&state=s%26t"


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::", "fd00::1",
     "fe80::1", "::ffff:10.0.0.1", "224.0.0.1", "240.0.0.1", "127.0.0.1", "::1", "not-an-ip"],
)  # fmt: skip
def test_private_loopback_and_reserved_addresses_are_refused(address: str) -> None:
    assert refused_address(address, allow_loopback=False)


def test_loopback_is_allowed_only_in_local_mode_and_public_addresses_always() -> None:
    assert not refused_address("127.0.0.1", allow_loopback=True)
    assert refused_address("10.0.0.1", allow_loopback=True)
    assert not refused_address("93.184.216.34", allow_loopback=False)
    assert not refused_address("2606:2800:220:1::1", allow_loopback=False)


def test_client_metadata_urls_must_be_https_with_a_path() -> None:
    assert client_metadata_url_problem("https://app.example.com/client.json", allow_loopback_http=False) is None
    for url in ("http://app.example.com/c.json", "https://app.example.com/", "https://u@app.example.com/c.json",
                "https://app.example.com/c.json#x", "ftp://app.example.com/c.json"):  # fmt: skip
        assert client_metadata_url_problem(url, allow_loopback_http=False) is not None


def test_a_host_name_resolving_to_a_private_address_is_refused_before_any_connection() -> None:
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["93.184.216.34", "10.0.0.7"]  # one private answer among public ones is enough to refuse

    fetch = MetadataDocumentFetcher(resolver=resolver)
    with pytest.raises(ValueError, match="private"):
        fetch("https://rebind.example.com/client.json")
    assert calls == [("rebind.example.com", 443)]


def test_a_code_is_redeemed_only_by_its_client_redirect_uri_verifier_and_resource() -> None:
    g = grant()
    ok = {"client_id": g.client_id, "redirect_uri": g.redirect_uri, "code_verifier": VERIFIER, "resource": RESOURCE}
    check_code_redemption(g, expected_resource=RESOURCE, now=NOW, **ok)
    cases = [
        ({"client_id": "https://evil.example.com/c.json"}, NOW, ReasonCode.AUTH_CLIENT_MISMATCH),
        ({"redirect_uri": "http://127.0.0.1:3000/other"}, NOW, ReasonCode.AUTH_REDIRECT_MISMATCH),
        ({"code_verifier": "w" * 43}, NOW, ReasonCode.AUTH_PKCE_FAILED),
        ({"resource": "https://other.example.com/mcp"}, NOW, ReasonCode.AUTH_WRONG_RESOURCE),
        ({}, NOW + 60, ReasonCode.AUTH_EXPIRED),
    ]
    for change, now, code in cases:
        with pytest.raises(AuthError) as exc:
            check_code_redemption(g, expected_resource=RESOURCE, now=now, **{**ok, **change})
        assert exc.value.code is code


def test_only_the_current_refresh_token_of_a_live_family_is_honoured() -> None:
    f = family()
    check_refresh(f, presented_hash="a" * 64, client_id="c1", resource=None, expected_resource=RESOURCE, now=NOW)
    cases = [
        (f, {"presented_hash": "b" * 64}, NOW, ReasonCode.AUTH_REFRESH_REUSED),
        (f, {"client_id": "c2"}, NOW, ReasonCode.AUTH_CLIENT_MISMATCH),
        (f, {}, NOW + 43_200, ReasonCode.AUTH_SESSION_EXPIRED),
        (family(revoked=True), {}, NOW, ReasonCode.AUTH_SESSION_REVOKED),
        (f, {"resource": "https://other.example.com/mcp"}, NOW, ReasonCode.AUTH_WRONG_RESOURCE),
    ]
    base = {"presented_hash": "a" * 64, "client_id": "c1", "resource": None}
    for fam, change, now, code in cases:
        with pytest.raises(AuthError) as exc:
            check_refresh(fam, expected_resource=RESOURCE, now=now, **{**base, **change})  # type: ignore[arg-type]
        assert exc.value.code is code


def test_keyed_hashes_depend_on_key_and_purpose() -> None:
    key = b"k" * 32
    assert keyed_hash(key, "t", "code") != keyed_hash(key, "t", "refresh")
    assert keyed_hash(key, "t", "code") != keyed_hash(b"j" * 32, "t", "code")
    assert len(keyed_hash(key, "t", "code")) == 64
    with pytest.raises(ValueError):
        keyed_hash(b"short", "t", "code")
