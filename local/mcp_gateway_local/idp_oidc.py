"""The local IdP as a small but real OIDC provider (local mode and tests only; never shipped).

On top of ``LocalIdP``'s keys, JWKS and minting: a discovery document, an HTML login page (e-mail and groups,
a plain form, no JavaScript), the authorization code flow with PKCE (S256), a token endpoint with rotating
refresh tokens, and ID-JAG issuance (RFC 8693 token exchange to ``urn:ietf:params:oauth:token-type:id-jag``,
SEP-990 leg 1). A tiny user directory stands in for the IdP's: signing in through the form records the user
and groups; ``set_user`` / ``disable`` change it, so a refresh sees a user removed from a group or disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from mcp_gateway.domain.errors import AuthError
from mcp_gateway.domain.tokens import IdpConfig, JwksCache, verify_idp_token

from .idp import LocalIdP

__all__ = ["OidcClient", "OidcProvider"]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - a URN
ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_GROUP = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
CODE_TTL = 60
ID_TOKEN_TTL = 3600
ID_JAG_TTL = 300

Response = tuple[int, dict[str, str], bytes]


@dataclass
class OidcClient:
    client_id: str
    secret: str | None
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    email: str
    expires_at: float


def _json(status: int, body: Any, extra: Mapping[str, str] | None = None) -> Response:
    return (
        status,
        {"content-type": "application/json", "cache-control": "no-store", **(extra or {})},
        json.dumps(body).encode(),
    )


def _error(status: int, error: str, description: str = "") -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return _json(status, body)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _single(values: Mapping[str, list[str]]) -> dict[str, str] | None:
    if any(len(v) != 1 for v in values.values()):
        return None
    return {k: v[0] for k, v in values.items()}


class OidcProvider:
    def __init__(self, idp: LocalIdP, clock: Callable[[], float] = time.time) -> None:
        self.idp = idp
        self.clock = clock
        self.clients: dict[str, OidcClient] = {}
        self.directory: dict[str, dict[str, Any]] = {}  # email -> {"groups": [...], "active": bool}
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (client_id, email)
        self._lock = threading.Lock()
        self.token_requests: list[str] = []  # grant types seen at /token (tests assert on them)
        path = urlsplit(idp.issuer).path
        self.paths = {
            "authorize": f"{path}/authorize",
            "login": f"{path}/login",
            "token": f"{path}/token",
            "discovery": f"{path}/.well-known/openid-configuration",
        }

    # --- configuration -------------------------------------------------------------------------------
    def register_client(self, client_id: str, secret: str | None, redirect_uris: list[str]) -> None:
        self.clients[client_id] = OidcClient(client_id, secret, list(redirect_uris))

    def set_user(self, email: str, groups: list[str], *, active: bool = True) -> None:
        with self._lock:
            self.directory[email.lower()] = {"email": email, "groups": list(groups), "active": active}

    def disable(self, email: str) -> None:
        with self._lock:
            if email.lower() in self.directory:
                self.directory[email.lower()]["active"] = False

    def discovery(self) -> dict[str, Any]:
        doc = dict(self.idp.openid_configuration())
        doc.update(
            {
                "authorization_endpoint": f"{self.idp.issuer}/authorize",
                "token_endpoint": f"{self.idp.issuer}/token",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token", TOKEN_EXCHANGE],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "scopes_supported": ["openid", "email", "profile", "groups", "offline_access"],
                "authorization_response_iss_parameter_supported": True,
                "identity_chaining_requested_token_types_supported": [ID_JAG_TYPE],
            }
        )
        return doc

    # --- HTTP ------------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response | None:
        """Serve one request, or None when the path is not this provider's."""
        parts = urlsplit(target)
        if method == "GET" and parts.path == self.paths["discovery"]:
            return _json(200, self.discovery(), {"cache-control": "max-age=300"})
        if method == "GET" and parts.path == self.paths["authorize"]:
            return self.authorize_page(parse_qs(parts.query, keep_blank_values=True))
        if method == "POST" and parts.path in (self.paths["login"], self.paths["token"]):
            if "application/x-www-form-urlencoded" not in headers.get("content-type", "") or len(body) > 32_768:
                return _error(400, "invalid_request", "form-encoded body required")
            form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
            if parts.path == self.paths["login"]:
                return self.login(form)
            return self.token(form, headers)
        return None

    def _check_request(self, params: Mapping[str, str]) -> tuple[OidcClient, str] | str:
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return "unknown client_id"
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return "redirect_uri is not registered for this client"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(params.get("code_challenge", "")):
            return "PKCE with S256 is required"
        return client, redirect_uri

    def authorize_page(self, query: Mapping[str, list[str]]) -> Response:
        params = _single(query)
        if params is None:
            return _error(400, "invalid_request", "repeated parameters")
        checked = self._check_request(params)
        if isinstance(checked, str):
            return _error(400, "invalid_request", checked)  # never redirect to an unchecked URI
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(params.get(k, ""))}">'
            for k in (
                "client_id",
                "redirect_uri",
                "response_type",
                "state",
                "nonce",
                "code_challenge",
                "code_challenge_method",
                "scope",
            )
        )
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - local IdP</title></head>
<body>
<h1>Sign in to the local IdP</h1>
<p>Development only: any e-mail address and groups are accepted.</p>
<form method="post" action="{html.escape(self.idp.issuer)}/login">
{hidden}
<p><label for="email">E-mail</label> <input id="email" name="email" type="email" required value="alice@example.com"></p>
<p><label for="groups">Groups (comma-separated)</label> <input id="groups" name="groups" value="developers"></p>
<p><button type="submit" id="sign-in">Sign in</button></p>
</form>
</body></html>
"""
        return (
            200,
            {
                "content-type": "text/html; charset=utf-8",
                "cache-control": "no-store",
                "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
                "x-frame-options": "DENY",
            },
            page.encode(),
        )

    def login(self, form: Mapping[str, list[str]]) -> Response:
        params = _single(form)
        if params is None:
            return _error(400, "invalid_request", "repeated parameters")
        checked = self._check_request(params)
        if isinstance(checked, str):
            return _error(400, "invalid_request", checked)
        client, redirect_uri = checked
        email = params.get("email", "").strip()
        groups = [g.strip() for g in params.get("groups", "").split(",") if g.strip()]
        if not _EMAIL.match(email) or len(groups) > 32 or not all(_GROUP.match(g) for g in groups):
            return _error(400, "invalid_request", "a valid e-mail address and group names are required")
        self.set_user(email, groups)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                challenge=params["code_challenge"],
                nonce=params.get("nonce") or None,
                email=email.lower(),
                expires_at=self.clock() + CODE_TTL,
            )
        parts = urlsplit(redirect_uri)
        response = {"code": code, "iss": self.idp.issuer}
        if params.get("state"):
            response["state"] = params["state"]
        query = f"{parts.query}&{urlencode(response)}" if parts.query else urlencode(response)
        location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        return 302, {"location": location, "cache-control": "no-store"}, b""

    # --- /token ------------------------------------------------------------------------------------------
    def _client_auth(self, params: Mapping[str, str], headers: Mapping[str, str]) -> OidcClient | None:
        client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                raw = base64.b64decode(auth[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                return None
            client_id, _, secret = raw.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        client = self.clients.get(client_id)
        if client is None or client.secret is None or not hmac.compare_digest(client.secret, secret):
            return None
        return client

    def _user(self, email: str) -> dict[str, Any] | None:
        with self._lock:
            user = self.directory.get(email.lower())
            return dict(user) if user and user["active"] else None

    def id_token(self, client_id: str, email: str, groups: list[str], nonce: str | None = None) -> str:
        extra: dict[str, Any] = {"azp": client_id}
        if nonce:
            extra["nonce"] = nonce
        return self.idp.mint(email, groups, ttl=ID_TOKEN_TTL, audience=client_id, extra_claims=extra, now=self.clock())

    def _tokens(self, client: OidcClient, user: Mapping[str, Any], nonce: str | None) -> Response:
        refresh = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[refresh] = (client.client_id, str(user["email"]).lower())
        return _json(
            200,
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": ID_TOKEN_TTL,
                "id_token": self.id_token(client.client_id, str(user["email"]), list(user["groups"]), nonce),
                "refresh_token": refresh,
                "scope": "openid email groups offline_access",
            },
        )

    def token(self, form: Mapping[str, list[str]], headers: Mapping[str, str]) -> Response:
        params = _single(form)
        if params is None:
            return _error(400, "invalid_request", "repeated parameters")
        client = self._client_auth(params, headers)
        if client is None:
            return _error(401, "invalid_client")
        grant = params.get("grant_type", "")
        self.token_requests.append(grant)
        if grant == "authorization_code":
            with self._lock:
                code = self._codes.pop(params.get("code", ""), None)
            if (
                code is None
                or code.expires_at <= self.clock()
                or code.client_id != client.client_id
                or code.redirect_uri != params.get("redirect_uri")
                or not hmac.compare_digest(_s256(params.get("code_verifier", "")), code.challenge)
            ):
                return _error(400, "invalid_grant")
            user = self._user(code.email)
            if user is None:
                return _error(400, "invalid_grant", "user disabled")
            return self._tokens(client, user, code.nonce)
        if grant == "refresh_token":
            with self._lock:
                bound = self._refresh.pop(params.get("refresh_token", ""), None)
            if bound is None or bound[0] != client.client_id:
                return _error(400, "invalid_grant")
            user = self._user(bound[1])
            if user is None:
                return _error(400, "invalid_grant", "user disabled or removed")
            return self._tokens(client, user, None)
        if grant == TOKEN_EXCHANGE and params.get("requested_token_type") == ID_JAG_TYPE:
            return self._id_jag(client, params)
        return _error(400, "unsupported_grant_type")

    def _id_jag(self, client: OidcClient, params: Mapping[str, str]) -> Response:
        """SEP-990 leg 1: the user's ID token (issued to this client) in, an ID-JAG for the gateway out."""
        if params.get("subject_token_type") != ID_TOKEN_TYPE or not params.get("audience"):
            return _error(400, "invalid_request", "an id_token subject and an audience are required")
        config = IdpConfig(
            issuer=self.idp.issuer,
            audience=client.client_id,
            jwks_url=self.idp.jwks_url,
            allowed_client_ids=(client.client_id,),
        )
        try:
            identity = verify_idp_token(
                params.get("subject_token", ""), config, JwksCache(self.idp.jwks_url, self.idp.fetcher()), self.clock
            )
        except AuthError as exc:
            return _error(400, "invalid_grant", exc.code.value)
        user = self._user(identity.email)
        if user is None:
            return _error(400, "invalid_grant", "user disabled or removed")
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.idp.issuer,
            "sub": identity.sub,
            "aud": params["audience"],
            "client_id": client.client_id,
            "email": identity.email,
            "groups": list(user["groups"]),
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "nbf": now,
            "exp": now + ID_JAG_TTL,
        }
        if params.get("resource"):
            claims["resource"] = params["resource"]
        if params.get("scope"):
            claims["scope"] = params["scope"]
        jag = self.idp.sign({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": self.idp.rsa_kid}, claims, "RS256")
        return _json(
            200,
            {"access_token": jag, "issued_token_type": ID_JAG_TYPE, "token_type": "N_A", "expires_in": ID_JAG_TTL},
        )


def serve(handler: Any, provider: OidcProvider | None, method: str) -> bool:
    """Answer a ``BaseHTTPRequestHandler`` request from the provider; False when it is not the provider's."""
    if provider is None:
        return False
    length = int(handler.headers.get("content-length") or 0)
    body = handler.rfile.read(min(length, 65_536)) if length else b""
    headers = {k.lower(): v for k, v in handler.headers.items()}
    reply = provider.handle(method, handler.path, headers, body)
    if reply is None:
        return False
    status, out_headers, data = reply
    handler.send_response(status)
    for key, value in out_headers.items():
        handler.send_header(key, value)
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    return True
