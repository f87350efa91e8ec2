"""The authorization server in-process, with in-memory ports: the flow, and the failure rules that the
end-to-end suite cannot provoke (the IdP unreachable at refresh, KMS context binding, state unavailable)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from mcp_gateway.domain.errors import ReasonCode
from mcp_gateway.domain.oauth import ClientRecord, CodeGrant, PendingAuthorization, RefreshFamily
from mcp_gateway.domain.oauth_ports import IdpRefused, StoreConflict
from mcp_gateway.domain.tokens import JwksCache, SessionKeySet, SessionTokenService, generate_session_key
from mcp_gateway.gateway.oauth_server import OAuthConfig, OAuthFailure, OAuthServer
from mcp_gateway_local.idp import LocalIdP

BASE = "https://gw.example.com"
RESOURCE = f"{BASE}/mcp"
REDIRECT = "http://127.0.0.1:3000/cb"
IDP_CLIENT = "gateway-web"


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.used: set[str] = set()
        self.revoked_users: dict[str, int] = {}
        self.fail = False

    def _check(self) -> None:
        if self.fail:
            raise ConnectionError("state unavailable")

    def put_pending(self, state_hash: str, pending: PendingAuthorization) -> None:
        self._check()
        self.items[f"p{state_hash}"] = pending

    def take_pending(self, state_hash: str) -> PendingAuthorization | None:
        self._check()
        value: PendingAuthorization | None = self.items.pop(f"p{state_hash}", None)
        return value

    def put_code(self, code_hash: str, grant: CodeGrant) -> None:
        self.items[f"c{code_hash}"] = grant

    def take_code(self, code_hash: str) -> tuple[CodeGrant | None, bool]:
        grant = self.items.get(f"c{code_hash}")
        first = code_hash not in self.used
        self.used.add(code_hash)
        return grant, first

    def put_family(self, family: RefreshFamily, refresh_hash: str) -> None:
        self.items[f"f{family.family_id}"] = family
        self.items[f"r{refresh_hash}"] = family.family_id

    def family_for_refresh(self, refresh_hash: str) -> RefreshFamily | None:
        fid = self.items.get(f"r{refresh_hash}")
        return self.get_family(fid) if fid else None

    def get_family(self, family_id: str) -> RefreshFamily | None:
        value: RefreshFamily | None = self.items.get(f"f{family_id}")
        return value

    def rotate(self, family: RefreshFamily, old_hash: str, new_hash: str, updates: Mapping[str, Any]) -> None:
        current = self.get_family(family.family_id)
        if current is None or current.current_hash != old_hash or current.revoked:
            raise StoreConflict("family")
        self.items[f"f{family.family_id}"] = current.model_copy(update={**updates, "current_hash": new_hash})
        self.items[f"r{new_hash}"] = family.family_id

    def revoke_family(self, family_id: str, reason: str) -> None:
        family = self.get_family(family_id)
        if family is not None:
            self.items[f"f{family_id}"] = family.model_copy(update={"revoked": True, "revoked_reason": reason})

    def families_for_user(self, email: str) -> list[RefreshFamily]:
        return [v for v in self.items.values() if isinstance(v, RefreshFamily) and v.email == email]

    def put_user_revocation(self, email: str, revoked_at: int, keep_until: int) -> None:
        self.revoked_users[email] = revoked_at

    def user_revoked_at(self, email: str) -> int | None:
        return self.revoked_users.get(email)

    def remember_once(self, key_hash: str, until: int) -> bool:
        key = f"o{key_hash}"
        if key in self.items:
            return False
        self.items[key] = until
        return True

    def put_client(self, client: ClientRecord, expires_at: int) -> None:
        self.items[f"k{client.client_id}"] = client

    def get_client(self, client_id: str) -> ClientRecord | None:
        value: ClientRecord | None = self.items.get(f"k{client_id}")
        return value


class ContextBox:
    """Seals by prefixing the encryption context: opening under another context fails, as with KMS."""

    def seal(self, plaintext: str, context: Mapping[str, str]) -> str:
        return base64.b64encode(f"{sorted(context.items())}|{plaintext}".encode()).decode()

    def unseal(self, ciphertext: str, context: Mapping[str, str]) -> str:
        bound, _, plain = base64.b64decode(ciphertext).decode().partition("|")
        if bound != str(sorted(context.items())):
            raise PermissionError("InvalidCiphertextException")
        return plain


class FakeIdp:
    def __init__(self, idp: LocalIdP) -> None:
        self.idp = idp
        self.nonce: str | None = None
        self.groups = ["developers"]
        self.down = False
        self.refused = False
        self.refreshes = 0

    def _tokens(self, nonce: str | None) -> dict[str, Any]:
        extra: dict[str, Any] = {"azp": IDP_CLIENT, **({"nonce": nonce} if nonce else {})}
        id_token = self.idp.mint("alice@example.com", self.groups, audience=IDP_CLIENT, extra_claims=extra)
        return {"id_token": id_token, "refresh_token": "idp-rt-" + secrets.token_hex(4)}

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> Mapping[str, Any]:
        assert redirect_uri == f"{BASE}/oauth/callback"
        return self._tokens(self.nonce)

    def refresh(self, refresh_token: str) -> Mapping[str, Any]:
        self.refreshes += 1
        if self.down:
            raise ConnectionError("IdP unreachable")
        if self.refused:
            raise IdpRefused("invalid_grant")
        assert refresh_token.startswith("idp-rt-")
        return self._tokens(None)


@pytest.fixture
def world() -> tuple[OAuthServer, MemoryStore, FakeIdp]:
    idp = LocalIdP("http://127.0.0.1:9/idp")
    keys = SessionKeySet(active_kid="k", keys=(generate_session_key("k"),))
    store, fake = MemoryStore(), FakeIdp(idp)
    client = ClientRecord(client_id="app", kind="static", redirect_uris=(REDIRECT,))
    server = OAuthServer(
        config=OAuthConfig(
            idp_authorization_endpoint=f"{idp.issuer}/authorize",
            idp_client_id=IDP_CLIENT,
            static_clients={"app": client},
        ),
        store=store,
        box=ContextBox(),
        idp_client=fake,
        idp_config=idp.idp_config(),
        jwks=JwksCache(idp.jwks_url, idp.fetcher()),
        session_tokens=lambda issuer, audience: SessionTokenService(keys, issuer=issuer, audience=audience),
        hash_key=lambda: b"h" * 32,
        fetch_metadata=lambda url: ({}, None),
        required_groups=frozenset({"developers"}),
        clock=time.time,
    )
    return server, store, fake


def _sign_in(server: OAuthServer, fake: FakeIdp) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE,
        "state": "s1",
    }
    to_idp = server.authorize(params, BASE, RESOURCE).location
    assert to_idp is not None
    idp_params = {k: v[0] for k, v in parse_qs(urlsplit(to_idp).query).items()}
    assert idp_params["code_challenge_method"] == "S256" and idp_params["client_id"] == IDP_CLIENT
    fake.nonce = idp_params["nonce"]
    back = server.callback({"code": "idp-code", "state": idp_params["state"]}, BASE, RESOURCE).location
    assert back is not None
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    assert query["state"] == "s1" and query["iss"] == BASE
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT,
        "client_id": "app",
        "code_verifier": verifier,
    }
    body = server.token(form, {}, BASE, RESOURCE).body
    return str(body["access_token"]), str(body["refresh_token"])


def _refresh(server: OAuthServer, token: str) -> Any:
    return server.token({"grant_type": "refresh_token", "refresh_token": token, "client_id": "app"}, {}, BASE, RESOURCE)


def test_the_flow_issues_a_15_minute_access_token_and_a_rotating_refresh_token(world: Any) -> None:
    server, store, fake = world
    _access, refresh = _sign_in(server, fake)
    rotated = _refresh(server, refresh).body
    assert rotated["refresh_token"] != refresh and rotated["expires_in"] == 900
    assert fake.refreshes == 1
    assert not any(refresh in str(v) for v in store.items.values())  # only keyed hashes are stored
    (family,) = store.families_for_user("alice@example.com")
    assert "idp-rt-" not in family.idp_refresh_ciphertext  # sealed


def test_an_idp_outage_at_refresh_is_temporary_and_keeps_the_session(world: Any) -> None:
    server, _store, fake = world
    _, refresh = _sign_in(server, fake)
    fake.down = True
    with pytest.raises(OAuthFailure) as exc:
        _refresh(server, refresh)
    assert exc.value.error == "temporarily_unavailable" and exc.value.status == 503
    fake.down = False
    assert _refresh(server, refresh).status == 200  # the same refresh token still works afterwards


def test_an_idp_refusal_at_refresh_revokes_the_session(world: Any) -> None:
    server, store, fake = world
    _, refresh = _sign_in(server, fake)
    fake.refused = True
    with pytest.raises(OAuthFailure) as exc:
        _refresh(server, refresh)
    assert exc.value.reason is ReasonCode.AUTH_IDP_REFUSED
    assert store.families_for_user("alice@example.com")[0].revoked


def test_a_sealed_idp_refresh_token_moved_to_another_family_does_not_open(world: Any) -> None:
    server, store, fake = world
    _sign_in(server, fake)
    _, second = _sign_in(server, fake)
    one, two = store.families_for_user("alice@example.com")
    store.items[f"f{two.family_id}"] = two.model_copy(update={"idp_refresh_ciphertext": one.idp_refresh_ciphertext})
    with pytest.raises(OAuthFailure) as exc:
        _refresh(server, second)
    assert exc.value.status == 503  # the box refuses: no IdP call is made with a foreign token
    assert fake.refreshes == 0


def test_a_nonce_that_differs_from_the_authorization_request_is_refused(world: Any) -> None:
    server, _store, fake = world
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE,
    }
    to_idp = server.authorize(params, BASE, RESOURCE).location
    assert to_idp is not None
    state = parse_qs(urlsplit(to_idp).query)["state"][0]
    fake.nonce = "an-injected-id-token-nonce"
    with pytest.raises(OAuthFailure) as exc:
        server.callback({"code": "idp-code", "state": state}, BASE, RESOURCE)
    assert exc.value.reason is ReasonCode.AUTH_STATE_MISMATCH
    assert exc.value.redirect is not None and "code=" not in exc.value.redirect


def test_unavailable_state_at_authorize_is_refused_with_a_redirect_to_the_client(world: Any) -> None:
    server, store, _fake = world
    store.fail = True
    params = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "code_challenge": "A" * 43,
        "code_challenge_method": "S256",
        "resource": RESOURCE,
    }
    with pytest.raises(OAuthFailure) as exc:
        server.authorize(params, BASE, RESOURCE)
    assert exc.value.reason is ReasonCode.AUTH_STATE_UNAVAILABLE
    assert exc.value.redirect is not None and exc.value.redirect.startswith(REDIRECT)
