"""The gateway as an OAuth 2.1 authorization server: the pure rules (no I/O).

What lives here: the RFC 8414 metadata document, PKCE (S256 only), redirect-URI rules (exact match; any
port on a loopback redirect, RFC 8252 7.3; no open redirects), the records the gateway keeps (pending
authorizations, single-use codes, refresh-token families, registered clients) and the checks made when a
code or a refresh token is redeemed. Every refusal is an ``AuthError`` with a precise ``AUTH_*`` reason
code; the edge maps it to an RFC 6749 error and audits it.

Storage, KMS, the IdP's token endpoint and the fetch of client ID metadata documents are adapters
(``mcp_gateway.adapters.oauth_*``); they are handed records defined here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import Field, StringConstraints

from .errors import AuthError, ReasonCode
from .models import StrictModel

__all__ = [
    "AUTHORIZATION_CODE",
    "CODE_TTL_SECONDS",
    "DEFAULT_SESSION_LIFETIME_SECONDS",
    "ID_JAG_PROFILE",
    "ID_JAG_TYP",
    "JWT_BEARER",
    "REFRESH_TOKEN",
    "TOKEN_EXCHANGE",
    "ClientRecord",
    "CodeGrant",
    "PendingAuthorization",
    "RefreshFamily",
    "authorization_server_metadata",
    "check_code_redemption",
    "check_refresh",
    "client_metadata_url_problem",
    "keyed_hash",
    "new_secret",
    "pkce_challenge",
    "redirect_uri_allowed",
    "redirect_uri_problem",
    "redirect_with",
    "refused_address",
    "verify_pkce",
]

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name, not a secret
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ID_JAG_PROFILE = "urn:ietf:params:oauth:grant-profile:id-jag"
ID_JAG_TYP = "oauth-id-jag+jwt"
ID_JAG_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id-jag"  # noqa: S105 - a URN
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, TOKEN_EXCHANGE, JWT_BEARER)
CODE_TTL_SECONDS = 60
PENDING_TTL_SECONDS = 600
DEFAULT_SESSION_LIFETIME_SECONDS = 12 * 3600
MAX_SESSION_LIFETIME_SECONDS = 30 * 86_400

_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]{0,63}$")
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss"})

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=512)]
Text = Annotated[str, StringConstraints(max_length=2048)]


def new_secret(nbytes: int = 32) -> str:
    """An opaque, unguessable value (codes, refresh tokens, state, nonces)."""
    return secrets.token_urlsafe(nbytes)


def keyed_hash(key: bytes, value: str, purpose: str) -> str:
    """HMAC-SHA256 of a secret value: the only form in which codes and refresh tokens are stored."""
    if len(key) < 16:
        raise ValueError("the hashing key must hold at least 16 bytes")
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------------
# Metadata (RFC 8414)
# --------------------------------------------------------------------------------------------------


def authorization_server_metadata(
    issuer: str, *, registration: bool, scopes: Sequence[str], documentation: str | None = None
) -> dict[str, Any]:
    """The RFC 8414 document. The token endpoint keeps its historic path (/oauth/token)."""
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "scopes_supported": list(scopes),
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "authorization_grant_profiles_supported": [ID_JAG_PROFILE],
    }
    if registration:
        metadata["registration_endpoint"] = f"{issuer}/register"
    if documentation:
        metadata["service_documentation"] = documentation
    return metadata


# --------------------------------------------------------------------------------------------------
# PKCE (RFC 7636, S256 only)
# --------------------------------------------------------------------------------------------------


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def valid_challenge(challenge: str) -> bool:
    return bool(_CHALLENGE_RE.match(challenge))


def verify_pkce(verifier: str, challenge: str) -> bool:
    if not isinstance(verifier, str) or not _VERIFIER_RE.match(verifier) or not valid_challenge(challenge):
        return False
    return hmac.compare_digest(pkce_challenge(verifier), challenge)


# --------------------------------------------------------------------------------------------------
# Redirect URIs and client ID metadata document URLs
# --------------------------------------------------------------------------------------------------


def _is_loopback_host(host: str) -> bool:
    return host.lower() in _LOOPBACK_NAMES


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI may not be registered (None: acceptable). https anywhere; http only on loopback;
    private-use schemes of native apps (``cursor://``, ``vscode://``); no fragment, no user info."""
    if not isinstance(uri, str) or not 0 < len(uri) <= 2048 or any(c in uri for c in "\r\n\t\x00 "):
        return "not a bounded URI"
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not _SCHEME_RE.match(scheme) or scheme in _FORBIDDEN_SCHEMES:
        return "scheme not allowed"
    if parts.fragment or "#" in uri:
        return "fragment not allowed"
    if "@" in parts.netloc:
        return "user info not allowed"
    if scheme == "https":
        return None if parts.hostname else "https URI without host"
    if scheme == "http":
        return None if parts.hostname and _is_loopback_host(parts.hostname) else "http only on loopback"
    # A private-use scheme (RFC 8252 7.1) must look like a reverse domain name or a known app scheme.
    return None if ("." in scheme or scheme in {"cursor", "vscode", "vscode-insiders", "claude"}) else "scheme"


def redirect_uri_allowed(registered: Sequence[str], requested: str) -> bool:
    """Exact string match, except that a loopback redirect may use any port (RFC 8252 7.3)."""
    if redirect_uri_problem(requested) is not None:
        return False
    if requested in registered:
        return True
    want = urlsplit(requested)
    if want.scheme != "http" or not want.hostname or not _is_loopback_host(want.hostname):
        return False
    for candidate in registered:
        have = urlsplit(candidate)
        if (
            have.scheme == "http"
            and have.hostname == want.hostname
            and have.path == want.path
            and have.query == want.query
        ):
            return True
    return False


def redirect_with(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """The redirect URI with authorization-response parameters appended to its query."""
    parts = urlsplit(redirect_uri)
    extra = urlencode([(k, v) for k, v in params.items() if v is not None])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def refused_address(address: str, *, allow_loopback: bool) -> bool:
    """True when an address resolved for a client metadata URL must not be contacted (SSRF)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return not allow_loopback
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_private


def client_metadata_url_problem(url: str, *, allow_loopback_http: bool) -> str | None:
    """Why a client_id cannot be a client ID metadata document URL (None: it can be fetched)."""
    if not isinstance(url, str) or not 0 < len(url) <= 2048 or any(c in url for c in "\r\n\t\x00 \\"):
        return "not a bounded URL"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "not an https URL"
    if parts.scheme == "http" and not (allow_loopback_http and _is_loopback_host(parts.hostname)):
        return "not an https URL"
    if parts.path in ("", "/") or parts.fragment or "@" in parts.netloc or "/." in parts.path:
        return "path, fragment or user info not acceptable"
    return None


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


class ClientRecord(StrictModel):
    """A client the gateway knows: pre-registered (config), dynamically registered, or a metadata document."""

    client_id: Id
    kind: Literal["static", "dynamic", "metadata_document"]
    redirect_uris: tuple[Url, ...] = Field(default=(), max_length=20)
    grant_types: tuple[Annotated[str, StringConstraints(max_length=128)], ...] = Field(
        default=(AUTHORIZATION_CODE, REFRESH_TOKEN), max_length=8
    )
    token_endpoint_auth_method: Literal["none", "client_secret_post", "client_secret_basic"] = "none"  # noqa: S105 - not a secret
    client_secret_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    client_name: Annotated[str, StringConstraints(max_length=256)] = ""

    def secret_matches(self, secret: str | None) -> bool:
        if self.client_secret_sha256 is None or not secret:
            return False
        digest = hashlib.sha256(secret.encode("utf-8", errors="replace")).hexdigest()
        return hmac.compare_digest(digest, self.client_secret_sha256)


class PendingAuthorization(StrictModel):
    """A client's /authorize request, parked while the browser is at the IdP (keyed by the IdP state)."""

    client_id: Id
    redirect_uri: Url
    code_challenge: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
    state: Text | None = None
    resource: Url
    scope: Text
    idp_nonce: Id
    idp_code_verifier: Annotated[str, StringConstraints(min_length=43, max_length=128)] = Field(repr=False)
    expires_at: int = Field(ge=0)


class CodeGrant(StrictModel):
    """What a single-use gateway authorization code stands for (stored under the code's keyed hash)."""

    client_id: Id
    redirect_uri: Url
    code_challenge: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
    resource: Url
    scope: Text
    sub: Id
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    groups: tuple[Annotated[str, StringConstraints(max_length=256)], ...] = Field(default=(), max_length=64)
    family_id: Id
    idp_refresh_ciphertext: Annotated[str, StringConstraints(max_length=16384)] = Field(default="", repr=False)
    expires_at: int = Field(ge=0)


class RefreshFamily(StrictModel):
    """One sign-in session: every refresh token rotated from one authorization code."""

    family_id: Id
    client_id: Id
    sub: Id
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    groups: tuple[Annotated[str, StringConstraints(max_length=256)], ...] = Field(default=(), max_length=64)
    resource: Url
    scope: Text
    current_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    idp_refresh_ciphertext: Annotated[str, StringConstraints(max_length=16384)] = Field(default="", repr=False)
    started_at: int = Field(ge=0)
    absolute_expires_at: int = Field(ge=0)
    last_refreshed_at: int = Field(default=0, ge=0)
    revoked: bool = False
    revoked_reason: Annotated[str, StringConstraints(max_length=64)] = ""


# --------------------------------------------------------------------------------------------------
# Redemption rules
# --------------------------------------------------------------------------------------------------


def _refuse(code: ReasonCode, message: str) -> AuthError:
    return AuthError(message, code=code)


def check_code_redemption(
    grant: CodeGrant,
    *,
    client_id: str,
    redirect_uri: str,
    code_verifier: str,
    resource: str | None,
    expected_resource: str,
    now: float,
) -> None:
    """RFC 6749 4.1.3 + RFC 7636 4.6 + RFC 8707: the code is redeemed by the client it was issued to, with the
    same redirect URI, the matching PKCE verifier and for this resource. (Single use is the store's job.)"""
    if now >= grant.expires_at:
        raise _refuse(ReasonCode.AUTH_EXPIRED, "authorization code expired")
    if not hmac.compare_digest(grant.client_id.encode(), client_id.encode()):
        raise _refuse(ReasonCode.AUTH_CLIENT_MISMATCH, "code was issued to another client")
    if not hmac.compare_digest(grant.redirect_uri.encode(), redirect_uri.encode()):
        raise _refuse(ReasonCode.AUTH_REDIRECT_MISMATCH, "redirect_uri differs from the authorization request")
    if not verify_pkce(code_verifier, grant.code_challenge):
        raise _refuse(ReasonCode.AUTH_PKCE_FAILED, "PKCE verification failed")
    if resource is not None and resource != grant.resource:
        raise _refuse(ReasonCode.AUTH_WRONG_RESOURCE, "resource differs from the authorization request")
    if grant.resource != expected_resource:
        raise _refuse(ReasonCode.AUTH_WRONG_RESOURCE, "code was issued for another resource")


def check_refresh(
    family: RefreshFamily,
    *,
    presented_hash: str,
    client_id: str,
    resource: str | None,
    expected_resource: str,
    now: float,
) -> None:
    """A refresh token is honoured only as the family's current token, for its client, within the absolute
    session lifetime. A rotated (older) token means the family leaked: the caller revokes it."""
    if family.revoked:
        raise _refuse(ReasonCode.AUTH_SESSION_REVOKED, "session revoked")
    if not hmac.compare_digest(family.client_id.encode(), client_id.encode()):
        raise _refuse(ReasonCode.AUTH_CLIENT_MISMATCH, "refresh token was issued to another client")
    if not hmac.compare_digest(family.current_hash, presented_hash):
        raise _refuse(ReasonCode.AUTH_REFRESH_REUSED, "a rotated refresh token was presented again")
    if now >= family.absolute_expires_at:
        raise _refuse(ReasonCode.AUTH_SESSION_EXPIRED, "the session reached its absolute lifetime")
    if resource is not None and resource != expected_resource:
        raise _refuse(ReasonCode.AUTH_WRONG_RESOURCE, "refresh for another resource")
    if family.resource != expected_resource:
        raise _refuse(ReasonCode.AUTH_WRONG_RESOURCE, "session belongs to another resource")
