"""The gateway's HTTP edge, behind a Lambda function URL (payload 2.0).

Routes:
- ``POST /mcp``: MCP (stateless streamable HTTP, JSON responses), gateway session tokens only.
- ``POST /oauth/token``: RFC 8693 token exchange, IdP JWT in, 15-minute session token out.
- ``GET /.well-known/oauth-protected-resource[/mcp]``: RFC 9728 metadata.
- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata of the authorization server.
- ``GET /authorize``, ``GET /oauth/callback``, ``POST /oauth/revoke``, ``POST /register`` and the
  authorization_code / refresh_token / jwt-bearer grants of ``/oauth/token``: the OAuth 2.1 authorization
  server in front of the IdP (``oauth_server.py``), when it is configured.

Authentication returns nothing on any doubt; every rejection is audited (reason code, source IP, user agent,
token fingerprint; never the token) and never reaches the workflow.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs

from mangum import Mangum
from mcp.server.transport_security import TransportSecuritySettings

from ..domain.errors import AuthError, ReasonCode
from ..domain.models import CallContext, Principal
from ..domain.oauth import AUTHORIZATION_CODE, JWT_BEARER, REFRESH_TOKEN
from ..domain.tokens import IdpConfig, JwksCache, SessionTokenService, token_fingerprint, verify_idp_token
from ..domain.tracing import parse_traceparent
from .edge_limits import EdgeGuard
from .oauth_server import OAuthFailure, OAuthServer, Reply

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN, not a secret
SUBJECT_TOKEN_TYPES = {
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:access_token",
}
ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN, not a secret
MAX_BODY_BYTES = 1_048_576
MAX_FORM_BYTES = 16_384
QUERY_TOKEN_PARAMS = {"access_token", "token", "id_token", "subject_token", "bearer", "authorization"}
SCOPES = ["aws.read"]

AuditSink = Callable[[dict[str, Any]], None]
OAUTH_ROUTES = {"/authorize": "GET", "/oauth/callback": "GET", "/oauth/revoke": "POST", "/register": "POST"}


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "content-type": "application/json",
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
            **(headers or {}),
        },
        "body": json.dumps(body) if body is not None else "",
        "isBase64Encoded": False,
    }


def _headers(event: dict[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}


def _query_token(event: dict[str, Any]) -> str:
    """The credential a client put in the query string (only to fingerprint it for the audit record)."""
    query = event.get("queryStringParameters") or {}
    return next((str(v) for k, v in query.items() if str(k).lower() in QUERY_TOKEN_PARAMS), "")


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=False)
        except ValueError:
            return b""
    return raw.encode() if isinstance(raw, str) else bytes(raw)


class Gateway:
    def __init__(
        self,
        *,
        server_factory: Callable[[], Any],
        session_tokens: Callable[[str, str], SessionTokenService],
        idp_config: IdpConfig,
        jwks: JwksCache,
        resource_url: str,
        audit: AuditSink,
        fingerprint_key: Callable[[], bytes],
        allowed_hosts: list[str] | None,
        allowed_origins: list[str] | None,
        required_groups: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
        oauth: OAuthServer | None = None,
    ) -> None:
        self.server = server_factory()
        self.oauth = oauth
        self.session_tokens = session_tokens
        self.idp_config = idp_config
        self.jwks = jwks
        self.configured_resource_url = resource_url
        self._request = threading.local()
        self.audit = audit
        self.fingerprint_key = fingerprint_key
        self.allowed_hosts = allowed_hosts
        self.allowed_origins = allowed_origins
        self.required_groups = required_groups
        self.clock = clock
        self.edge_guard: EdgeGuard | None = None  # the bounded edge (edge_limits.py), set by the wiring

    # --- routing ---------------------------------------------------------------------------------------
    def _urls(self, event: dict[str, Any]) -> tuple[str, str]:
        """(base URL, MCP resource URL). Configured, or derived from the function URL's domain, which AWS
        sets (requestContext.domainName) - never from the client's Host header."""
        if self.configured_resource_url:
            resource = self.configured_resource_url
        else:
            domain = str((event.get("requestContext") or {}).get("domainName") or "")
            scheme = "http" if domain.startswith(("127.0.0.1", "localhost", "[::1]")) else "https"
            resource = f"{scheme}://{domain}/mcp"
        base = resource[: -len("/mcp")] if resource.endswith("/mcp") else resource.rstrip("/")
        return base, resource

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._request.base_url, self._request.resource_url = self._urls(event)
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(http.get("method", "GET")).upper()
        path = str(event.get("rawPath") or http.get("path") or "/")
        if path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
            return (
                self.protected_resource_metadata()
                if method == "GET"
                else _response(405, {"error": "method_not_allowed"})
            )
        if path == "/.well-known/oauth-authorization-server":
            return (
                self.authorization_server_metadata()
                if method == "GET"
                else _response(405, {"error": "method_not_allowed"})
            )
        if path == "/oauth/token":
            if method != "POST":
                return _response(405, {"error": "invalid_request", "error_description": "use POST"})
            return self.token_exchange(event)
        if self.oauth is not None and path in OAUTH_ROUTES:
            if method != OAUTH_ROUTES[path]:
                return _response(405, {"error": "invalid_request", "error_description": f"use {OAUTH_ROUTES[path]}"})
            return self.oauth_route(event, path)
        if path == "/mcp":
            return self.mcp(event, context, method)
        return _response(404, {"error": "not_found"})

    # --- metadata ----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """This request's base URL (thread-local: the local server serves requests on several threads)."""
        return str(self._request.base_url)

    @property
    def resource_url(self) -> str:
        return str(self._request.resource_url)

    @property
    def resource_metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/oauth-protected-resource/mcp"

    def protected_resource_metadata(self) -> dict[str, Any]:
        return _response(
            200,
            {
                "resource": self.resource_url,
                "authorization_servers": [self.base_url],
                "bearer_methods_supported": ["header"],
                "scopes_supported": SCOPES,
                "resource_name": "MCP security gateway for AWS",
            },
            {"cache-control": "max-age=300"},
        )

    def authorization_server_metadata(self) -> dict[str, Any]:
        if self.oauth is not None:
            return _response(200, self.oauth.metadata(self.base_url), {"cache-control": "max-age=300"})
        return _response(
            200,
            {
                "issuer": self.base_url,
                "token_endpoint": f"{self.base_url}/oauth/token",
                "grant_types_supported": [TOKEN_EXCHANGE],
                "token_endpoint_auth_methods_supported": ["none"],
                "response_types_supported": [],
                "scopes_supported": SCOPES,
            },
            {"cache-control": "max-age=300"},
        )

    # --- auth failures -------------------------------------------------------------------------------------
    def _context(self, event: dict[str, Any]) -> CallContext:
        http = (event.get("requestContext") or {}).get("http") or {}
        return CallContext(
            source_ip=str(http.get("sourceIp", ""))[:64],
            user_agent=str(http.get("userAgent") or _headers(event).get("user-agent", ""))[:256],
            traceparent=parse_traceparent(_headers(event).get("traceparent", "")),
        )

    def _audit_auth_failure(self, event: dict[str, Any], code: ReasonCode, token: str, endpoint: str) -> None:
        ctx = self._context(event)
        fingerprint = ""
        if token:
            try:
                fingerprint = token_fingerprint(token[:16_384], self.fingerprint_key())
            except Exception:  # noqa: BLE001 - a missing key must not stop the audit record
                fingerprint = "unavailable"
        self.audit(
            {
                "kind": "auth_failure",
                "endpoint": endpoint,
                "reason": code.value,
                "source_ip": ctx.source_ip,
                "user_agent": ctx.user_agent,
                "token_fingerprint": fingerprint,
            }
        )

    def _unauthorized(self, code: ReasonCode, *, status: int = 401) -> dict[str, Any]:
        error = (
            "insufficient_scope"
            if status == 403
            else (
                "invalid_request"
                if code in (ReasonCode.AUTH_TOKEN_IN_QUERY, ReasonCode.AUTH_WRONG_SCHEME)
                else "invalid_token"
            )
        )
        challenge = f'Bearer resource_metadata="{self.resource_metadata_url}"'
        if code is not ReasonCode.AUTH_MISSING:
            challenge += f', error="{error}", error_description="{code.value}"'
        if status == 403:
            challenge += f', scope="{" ".join(SCOPES)}"'
        body = {"error": error, "reason": code.value}
        return _response(status, body, {"www-authenticate": challenge})

    # --- /oauth/token ----------------------------------------------------------------------------------------
    def token_exchange(self, event: dict[str, Any]) -> dict[str, Any]:
        headers = _headers(event)
        body = _body(event)
        if event.get("rawQueryString"):
            leaked = _query_token(event)
            self._audit_auth_failure(event, ReasonCode.AUTH_TOKEN_IN_QUERY, leaked, "/oauth/token")
            return _response(
                400, {"error": "invalid_request", "error_description": "no parameters in the query string"}
            )
        if "application/x-www-form-urlencoded" not in headers.get("content-type", "") or len(body) > MAX_FORM_BYTES:
            self._audit_auth_failure(event, ReasonCode.AUTH_MALFORMED, "", "/oauth/token")
            return _response(400, {"error": "invalid_request", "error_description": "form-encoded body required"})
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            form = {}
        if any(len(v) != 1 for v in form.values()):
            self._audit_auth_failure(event, ReasonCode.AUTH_MALFORMED, "", "/oauth/token")
            return _response(400, {"error": "invalid_request", "error_description": "repeated or missing parameters"})
        values = {k: v[0] for k, v in form.items()}
        if self.oauth is not None and values.get("grant_type") in (AUTHORIZATION_CODE, REFRESH_TOKEN, JWT_BEARER):
            return self._oauth_call(
                event,
                "/oauth/token",
                lambda: self.oauth_server.token(values, headers, self.base_url, self.resource_url),
            )
        if values.get("grant_type") != TOKEN_EXCHANGE:
            self._audit_auth_failure(event, ReasonCode.AUTH_MALFORMED, "", "/oauth/token")
            return _response(400, {"error": "unsupported_grant_type"})
        subject = values.get("subject_token", "")
        if values.get("subject_token_type") not in SUBJECT_TOKEN_TYPES or not subject:
            self._audit_auth_failure(event, ReasonCode.AUTH_MALFORMED, subject, "/oauth/token")
            return _response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "subject_token and a JWT subject_token_type are required",
                },
            )
        try:
            identity = verify_idp_token(subject, self.idp_config, self.jwks, self.clock)
            issued = self.session_tokens(self.base_url, self.resource_url).mint(identity)
        except AuthError as exc:
            self._audit_auth_failure(event, exc.code, subject, "/oauth/token")
            status = 503 if exc.code is ReasonCode.AUTH_KEYS_UNAVAILABLE else 400
            return _response(
                status,
                {
                    "error": "invalid_grant" if status == 400 else "temporarily_unavailable",
                    "error_description": exc.code.value,
                },
            )
        except Exception:  # noqa: BLE001 - fail closed, with an audit record and no details
            self._audit_auth_failure(event, ReasonCode.AUTH_KEYS_UNAVAILABLE, subject, "/oauth/token")
            return _response(503, {"error": "temporarily_unavailable"})
        return _response(
            200,
            {
                "access_token": issued.access_token,
                "issued_token_type": ISSUED_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": " ".join(SCOPES),
            },
        )

    # --- the authorization server's other routes ------------------------------------------------------------
    @property
    def oauth_server(self) -> OAuthServer:
        assert self.oauth is not None
        return self.oauth

    def _oauth_call(self, event: dict[str, Any], endpoint: str, call: Callable[[], Reply]) -> dict[str, Any]:
        try:
            reply = call()
        except OAuthFailure as failure:
            self._audit_auth_failure(event, failure.reason, failure.token, endpoint)
            if failure.redirect is not None:
                return _response(302, None, {"location": failure.redirect})
            return _response(
                failure.status,
                {"error": failure.error, "error_description": failure.reason.value},
                failure.headers,
            )
        except Exception:  # noqa: BLE001 - fail closed, audited, no details
            self._audit_auth_failure(event, ReasonCode.AUTH_STATE_UNAVAILABLE, "", endpoint)
            return _response(503, {"error": "temporarily_unavailable"})
        headers = dict(reply.headers)
        if reply.location is not None:
            headers["location"] = reply.location
        return _response(reply.status, reply.body, headers)

    def _query(self, event: dict[str, Any]) -> dict[str, str] | None:
        """The query parameters, or None when one is repeated (RFC 6749 3.1) or the query is oversized."""
        raw = str(event.get("rawQueryString") or "")
        if len(raw) > MAX_FORM_BYTES:
            return None
        try:
            parsed = parse_qs(raw, keep_blank_values=True, max_num_fields=40)
        except ValueError:
            return None
        if any(len(v) != 1 for v in parsed.values()):
            return None
        return {k: v[0] for k, v in parsed.items()}

    def _form(self, event: dict[str, Any]) -> dict[str, str] | None:
        body = _body(event)
        if (
            "application/x-www-form-urlencoded" not in _headers(event).get("content-type", "")
            or len(body) > MAX_FORM_BYTES
        ):
            return None
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return None
        if any(len(v) != 1 for v in parsed.values()):
            return None
        return {k: v[0] for k, v in parsed.items()}

    def oauth_route(self, event: dict[str, Any], path: str) -> dict[str, Any]:
        oauth = self.oauth_server
        base, resource = self.base_url, self.resource_url
        if path in ("/authorize", "/oauth/callback"):
            params = self._query(event)
            if params is None:
                self._audit_auth_failure(event, ReasonCode.AUTH_MALFORMED, "", path)
                return _response(400, {"error": "invalid_request", "error_description": "repeated parameters"})
            if path == "/authorize":
                return self._oauth_call(event, path, lambda: oauth.authorize(params, base, resource))
            return self._oauth_call(event, path, lambda: oauth.callback(params, base, resource))
        if path == "/register":
            return self._oauth_call(event, path, lambda: oauth.register(_body(event)))
        form = self._form(event)
        if form is None or event.get("rawQueryString"):
            self._audit_auth_failure(event, ReasonCode.AUTH_MALFORMED, "", path)
            return _response(400, {"error": "invalid_request", "error_description": "form-encoded body required"})
        return self._oauth_call(event, path, lambda: oauth.revoke(form, _headers(event)))

    # --- /mcp ------------------------------------------------------------------------------------------------
    def authenticate(self, event: dict[str, Any]) -> tuple[Principal | None, ReasonCode, str]:
        query = event.get("queryStringParameters") or {}
        raw_query = str(event.get("rawQueryString") or "")
        if any(k.lower() in QUERY_TOKEN_PARAMS for k in query) or any(
            p in raw_query.lower() for p in ("access_token=", "token=")
        ):
            return None, ReasonCode.AUTH_TOKEN_IN_QUERY, _query_token(event)
        auth = _headers(event).get("authorization", "")
        if not auth:
            return None, ReasonCode.AUTH_MISSING, ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, ReasonCode.AUTH_WRONG_SCHEME, token
        token = token.strip()
        try:
            principal = self.session_tokens(self.base_url, self.resource_url).verify(token)
        except AuthError as exc:
            return None, exc.code, token
        except Exception:  # noqa: BLE001 - any doubt: not authenticated
            return None, ReasonCode.AUTH_KEYS_UNAVAILABLE, token
        return principal, ReasonCode.ALLOWED, token

    def mcp(self, event: dict[str, Any], context: Any, method: str) -> dict[str, Any]:
        early = self.edge_guard.early(event, method, _headers(event), _body(event)) if self.edge_guard else None
        if early is not None:
            return early
        principal, code, token = self.authenticate(event)
        if principal is None:
            self._audit_auth_failure(event, code, token, "/mcp")
            if code is ReasonCode.AUTH_TOKEN_IN_QUERY:
                return self._unauthorized(code, status=400)
            return self._unauthorized(code)
        if self.oauth is not None:
            try:
                cut_off = self.oauth.cut_off(principal.email, principal.expires_at)
            except Exception:  # noqa: BLE001 - revocation state unreadable: fail closed
                self._audit_auth_failure(event, ReasonCode.AUTH_STATE_UNAVAILABLE, token, "/mcp")
                return self._unauthorized(ReasonCode.AUTH_STATE_UNAVAILABLE)
            if cut_off:
                self._audit_auth_failure(event, ReasonCode.AUTH_SESSION_REVOKED, token, "/mcp")
                return self._unauthorized(ReasonCode.AUTH_SESSION_REVOKED)
        if self.required_groups and not (self.required_groups & set(principal.groups)):
            self._audit_auth_failure(event, ReasonCode.AUTH_INSUFFICIENT_GROUP, token, "/mcp")
            return self._unauthorized(ReasonCode.AUTH_INSUFFICIENT_GROUP, status=403)
        if self.edge_guard is not None:
            hosts = self.allowed_hosts or [self.base_url.split("://", 1)[1]]
            origins = self.allowed_origins or [self.base_url]
            serve = lambda: self._mcp_app(event, context, principal)  # noqa: E731
            return self.edge_guard.bounded(event, principal, _headers(event), _body(event), hosts, origins, serve)
        return self._mcp_app(event, context, principal)

    def _mcp_app(self, event: dict[str, Any], context: Any, principal: Principal) -> dict[str, Any]:
        if len(_body(event)) > MAX_BODY_BYTES:
            return _response(413, {"error": "request_too_large"})
        call_context = self._context(event)
        app = self.server.streamable_http_app(
            streamable_http_path="/mcp",
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=self.allowed_hosts or [self.base_url.split("://", 1)[1]],
                allowed_origins=self.allowed_origins or [self.base_url],
            ),
        )

        async def with_principal(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope.setdefault("state", {})
                scope["state"]["principal"] = principal
                scope["state"]["call_context"] = call_context
            await app(scope, receive, send)

        handler = Mangum(cast(Any, with_principal), lifespan="on", api_gateway_base_path="/")
        result: dict[str, Any] = handler(event, context)
        return result
