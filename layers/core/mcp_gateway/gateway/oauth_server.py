"""The gateway's OAuth 2.1 authorization server, in front of the IdP (stateless Lambda, DynamoDB state).

``/authorize``   checks the client (pre-registered, dynamically registered, or a client ID metadata document)
                 and its redirect URI, requires S256 PKCE and ``resource`` = this MCP URL, parks the request
                 and sends the browser to the IdP's OIDC authorization endpoint (its own state, nonce, PKCE).
``/oauth/callback`` exchanges the IdP's code, verifies the ID token with the hardened IdP checks (issuer,
                 audience = the gateway's IdP client, algorithm pinning, groups) and the nonce, and redirects
                 to the client with a single-use 60 s gateway code plus ``state`` and ``iss`` (RFC 9207).
``/oauth/token`` authorization_code (+PKCE), refresh_token (rotating, family revoked on reuse, the user
                 re-checked at the IdP each time), RFC 7523 jwt-bearer with an ID-JAG (SEP-990); the RFC 8693
                 exchange stays in ``edge.py``. The access token is the gateway's 15-minute ES256 session token.
``/oauth/revoke`` RFC 7009. ``/register`` RFC 7591 (switchable off).

The SDK's models (``OAuthClientMetadata``, ``OAuthToken``, ``OAuthMetadata``) validate what goes in and out;
its Starlette handlers do not fit a function-URL event and DynamoDB state, so the flow is implemented here.
Every refusal raises ``OAuthFailure`` (RFC 6749 error + ``AUTH_*`` reason); the edge audits it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from mcp.shared.auth import OAuthClientMetadata, OAuthMetadata, OAuthToken
from pydantic import ValidationError

from ..domain.errors import AuthError, ReasonCode
from ..domain.oauth import (
    AUTHORIZATION_CODE,
    CODE_TTL_SECONDS,
    ID_JAG_TYP,
    JWT_BEARER,
    PENDING_TTL_SECONDS,
    REFRESH_TOKEN,
    ClientRecord,
    CodeGrant,
    PendingAuthorization,
    RefreshFamily,
    authorization_server_metadata,
    check_code_redemption,
    check_refresh,
    client_metadata_url_problem,
    keyed_hash,
    new_secret,
    pkce_challenge,
    redirect_uri_allowed,
    redirect_uri_problem,
    redirect_with,
    valid_challenge,
)
from ..domain.oauth_ports import (
    IdpClientPort,
    IdpRefused,
    MetadataFetchPort,
    OAuthStatePort,
    SecretBoxPort,
    StoreConflict,
)
from ..domain.tokens import IdentityClaims, IdpConfig, JwksCache, SessionTokenService, verify_idp_token

SESSION_TTL_SECONDS = 900
CIMD_CACHE_MIN, CIMD_CACHE_DEFAULT, CIMD_CACHE_MAX, CIMD_CACHE_ENTRIES = 60, 300, 3600, 256
DCR_CLIENT_TTL_SECONDS = 180 * 86_400
MAX_REGISTRATION_BYTES = 16_384


class OAuthFailure(Exception):
    def __init__(
        self,
        error: str,
        reason: ReasonCode,
        *,
        status: int = 400,
        redirect: str | None = None,
        token: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason.value)
        self.error = error
        self.reason = reason
        self.status = status
        self.redirect = redirect
        self.token = token
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class OAuthConfig:
    idp_authorization_endpoint: str
    idp_client_id: str
    scopes: tuple[str, ...] = ("aws.read",)
    idp_scopes: str = "openid email profile groups offline_access"
    idp_authorize_params: tuple[tuple[str, str], ...] = ()
    session_lifetime_seconds: int = 12 * 3600
    registration_enabled: bool = True
    static_clients: Mapping[str, ClientRecord] = field(default_factory=dict)
    local_mode: bool = False
    documentation: str | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    location: str | None = None


def _segment_json(token: str, index: int) -> dict[str, Any]:
    """A segment of an already verified (or about to be strictly verified) compact JWS."""
    try:
        part = token.split(".")[index]
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return value if isinstance(value, dict) else {}


class OAuthServer:
    def __init__(
        self,
        *,
        config: OAuthConfig,
        store: OAuthStatePort,
        box: SecretBoxPort,
        idp_client: IdpClientPort,
        idp_config: IdpConfig,
        jwks: JwksCache,
        session_tokens: Callable[[str, str], SessionTokenService],
        hash_key: Callable[[], bytes],
        fetch_metadata: MetadataFetchPort,
        required_groups: frozenset[str],
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.store = store
        self.box = box
        self.idp_client = idp_client
        self.idp_config = idp_config
        self.jwks = jwks
        self.session_tokens = session_tokens
        self.hash_key = hash_key
        self.fetch_metadata = fetch_metadata
        self.required_groups = required_groups
        self.clock = clock
        self._cimd: dict[str, tuple[float, ClientRecord | None, str]] = {}
        self._cimd_lock = threading.Lock()

    # --- helpers ---------------------------------------------------------------------------------------
    def _hash(self, value: str, purpose: str) -> str:
        return keyed_hash(self.hash_key(), value, purpose)

    def _now(self) -> float:
        return float(self.clock())

    def metadata(self, base_url: str) -> dict[str, Any]:
        document = authorization_server_metadata(
            base_url,
            registration=self.config.registration_enabled,
            scopes=self.config.scopes,
            documentation=self.config.documentation,
        )
        OAuthMetadata.model_validate(document)  # what the SDK's clients parse, parsed here first
        return document

    # --- clients ---------------------------------------------------------------------------------------
    def client(self, client_id: str) -> ClientRecord:
        if not client_id or len(client_id) > 2048:
            raise OAuthFailure("invalid_client", ReasonCode.AUTH_UNKNOWN_CLIENT, status=401)
        static = self.config.static_clients.get(client_id)
        if static is not None:
            return static
        if client_id.startswith(("https://", "http://")):
            return self._metadata_document_client(client_id)
        try:
            found = self.store.get_client(client_id)
        except Exception:  # noqa: BLE001 - state unavailable: fail closed
            raise OAuthFailure("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE, status=503) from None
        if found is None:
            raise OAuthFailure("invalid_client", ReasonCode.AUTH_UNKNOWN_CLIENT, status=401)
        return found

    def _metadata_document_client(self, url: str) -> ClientRecord:
        now = time.monotonic()
        with self._cimd_lock:
            cached = self._cimd.get(url)
        if cached is not None and cached[0] > now:
            if cached[1] is None:
                raise OAuthFailure("invalid_client", ReasonCode.AUTH_CLIENT_METADATA_REFUSED, status=401)
            return cached[1]
        record: ClientRecord | None = None
        ttl: float = 30  # a refusal is remembered briefly: a slow or huge document is not fetched in a loop
        try:
            if client_metadata_url_problem(url, allow_loopback_http=self.config.local_mode):
                raise ValueError("not a client ID metadata document URL")
            document, max_age = self.fetch_metadata(url)
            record = self._record_from_document(url, document)
            ttl = min(max(max_age if isinstance(max_age, int) else CIMD_CACHE_DEFAULT, CIMD_CACHE_MIN), CIMD_CACHE_MAX)
        except (ValueError, ValidationError):
            record = None
        with self._cimd_lock:
            if len(self._cimd) >= CIMD_CACHE_ENTRIES:
                self._cimd.pop(next(iter(self._cimd)))
            self._cimd[url] = (now + ttl, record, "")
        if record is None:
            raise OAuthFailure("invalid_client", ReasonCode.AUTH_CLIENT_METADATA_REFUSED, status=401)
        return record

    @staticmethod
    def _record_from_document(url: str, document: Mapping[str, Any]) -> ClientRecord:
        if document.get("client_id") != url:
            raise ValueError("client_id in the document differs from its URL")
        uris = document.get("redirect_uris")
        if not isinstance(uris, list) or not 0 < len(uris) <= 20 or any(redirect_uri_problem(u) for u in uris):
            raise ValueError("redirect_uris missing or not acceptable")
        method = document.get("token_endpoint_auth_method", "none")
        if method != "none":
            raise ValueError("a metadata-document client is a public client")
        grants = document.get("grant_types") or [AUTHORIZATION_CODE, REFRESH_TOKEN]
        if not isinstance(grants, list):
            raise ValueError("grant_types is not a list")
        name = document.get("client_name", "")
        return ClientRecord(
            client_id=url,
            kind="metadata_document",
            redirect_uris=tuple(uris),
            grant_types=tuple(g for g in grants if g in (AUTHORIZATION_CODE, REFRESH_TOKEN)),
            token_endpoint_auth_method="none",  # noqa: S106 - not a secret
            client_name=name[:256] if isinstance(name, str) else "",
        )

    def authenticate_client(
        self, form: Mapping[str, str], headers: Mapping[str, str], *, required: bool = True
    ) -> ClientRecord:
        """RFC 6749 2.3: client_secret_basic, client_secret_post or (public clients) client_id alone."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                from urllib.parse import unquote

                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
                basic_id, _, basic_secret = decoded.partition(":")
                basic_id, basic_secret = unquote(basic_id), unquote(basic_secret)
            except (ValueError, UnicodeDecodeError, binascii.Error):
                raise OAuthFailure("invalid_client", ReasonCode.AUTH_MALFORMED, status=401) from None
            if client_id and client_id != basic_id:
                raise OAuthFailure("invalid_client", ReasonCode.AUTH_CLIENT_MISMATCH, status=401)
            client_id, secret = basic_id, basic_secret
        client = self.client(client_id)
        if client.token_endpoint_auth_method != "none" and not client.secret_matches(secret):  # noqa: S105 - not a secret
            raise OAuthFailure(
                "invalid_client", ReasonCode.AUTH_UNKNOWN_CLIENT, status=401, headers={"www-authenticate": "Basic"}
            )
        return client

    # --- /register (RFC 7591) ----------------------------------------------------------------------------
    def register(self, body: bytes) -> Reply:
        if not self.config.registration_enabled:
            return Reply(404, {"error": "not_found"})
        if len(body) > MAX_REGISTRATION_BYTES:
            raise OAuthFailure("invalid_client_metadata", ReasonCode.AUTH_CLIENT_METADATA_REFUSED)
        try:
            raw = json.loads(body)
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            metadata = OAuthClientMetadata.model_validate(raw)
        except (ValueError, ValidationError):
            raise OAuthFailure("invalid_client_metadata", ReasonCode.AUTH_CLIENT_METADATA_REFUSED) from None
        uris = [str(u) for u in metadata.redirect_uris or []]
        # pydantic renders "http://127.0.0.1:3030/callback" unchanged; use the client's own spelling
        raw_uris = raw.get("redirect_uris") if isinstance(raw.get("redirect_uris"), list) else uris
        if not raw_uris or len(raw_uris) > 10 or any(redirect_uri_problem(str(u)) for u in raw_uris):
            raise OAuthFailure("invalid_redirect_uri", ReasonCode.AUTH_REDIRECT_MISMATCH)
        grants = list(metadata.grant_types)
        if AUTHORIZATION_CODE not in grants or any(g not in (AUTHORIZATION_CODE, REFRESH_TOKEN) for g in grants):
            raise OAuthFailure("invalid_client_metadata", ReasonCode.AUTH_CLIENT_METADATA_REFUSED)
        method = metadata.token_endpoint_auth_method or "none"
        if method not in ("none", "client_secret_post", "client_secret_basic"):
            raise OAuthFailure("invalid_client_metadata", ReasonCode.AUTH_CLIENT_METADATA_REFUSED)
        secret = new_secret(32) if method != "none" else None
        now = int(self._now())
        record = ClientRecord(
            client_id="dcr-" + new_secret(18),
            kind="dynamic",
            redirect_uris=tuple(str(u) for u in raw_uris),
            grant_types=tuple(grants),
            token_endpoint_auth_method=method,
            client_secret_sha256=hashlib.sha256(secret.encode()).hexdigest() if secret else None,
            client_name=(metadata.client_name or "")[:256],
        )
        try:
            self.store.put_client(record, now + DCR_CLIENT_TTL_SECONDS)
        except Exception:  # noqa: BLE001
            raise OAuthFailure("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE, status=503) from None
        body_out: dict[str, Any] = {
            "client_id": record.client_id,
            "client_id_issued_at": now,
            "redirect_uris": list(record.redirect_uris),
            "grant_types": list(record.grant_types),
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
        }
        if record.client_name:
            body_out["client_name"] = record.client_name
        if secret:
            body_out["client_secret"] = secret
            body_out["client_secret_expires_at"] = 0
        return Reply(201, body_out)

    # --- /authorize ------------------------------------------------------------------------------------
    def authorize(self, params: Mapping[str, str], base_url: str, resource_url: str) -> Reply:
        try:
            client = self.client(params.get("client_id", ""))
        except OAuthFailure as failure:
            if failure.status != 401:
                raise
            # RFC 6749 4.1.2.1: an unknown client is shown an error, never redirected anywhere
            raise OAuthFailure("invalid_request", failure.reason) from None
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not redirect_uri_allowed(client.redirect_uris, redirect_uri):
            # RFC 6749 4.1.2.1: never redirect to an unverified URI (no open redirect)
            raise OAuthFailure("invalid_request", ReasonCode.AUTH_REDIRECT_MISMATCH)
        state = params.get("state")

        def back(error: str, reason: ReasonCode) -> OAuthFailure:
            location = redirect_with(
                redirect_uri, {"error": error, "error_description": reason.value, "state": state, "iss": base_url}
            )
            return OAuthFailure(error, reason, status=302, redirect=location)

        if params.get("response_type") != "code":
            raise back("unsupported_response_type", ReasonCode.AUTH_MALFORMED)
        if AUTHORIZATION_CODE not in client.grant_types:
            raise back("unauthorized_client", ReasonCode.AUTH_UNKNOWN_CLIENT)
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256" or not valid_challenge(challenge):
            raise back("invalid_request", ReasonCode.AUTH_PKCE_FAILED)
        if params.get("resource") != resource_url:
            raise back("invalid_target", ReasonCode.AUTH_WRONG_RESOURCE)
        if state is not None and len(state) > 2048:
            raise back("invalid_request", ReasonCode.AUTH_MALFORMED)
        requested = set((params.get("scope") or "").split())
        unknown = requested - set(self.config.scopes) - {"openid", "offline_access", "email", "profile"}
        if unknown:
            raise back("invalid_scope", ReasonCode.AUTH_MALFORMED)
        idp_state, nonce, verifier = new_secret(), new_secret(), new_secret(48)
        pending = PendingAuthorization(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            state=state,
            resource=resource_url,
            scope=" ".join(self.config.scopes),
            idp_nonce=nonce,
            idp_code_verifier=verifier,
            expires_at=int(self._now()) + PENDING_TTL_SECONDS,
        )
        try:
            self.store.put_pending(self._hash(idp_state, "idp-state"), pending)
        except Exception:  # noqa: BLE001
            raise back("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE) from None
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.idp_client_id,
                "redirect_uri": f"{base_url}/oauth/callback",
                "scope": self.config.idp_scopes,
                "state": idp_state,
                "nonce": nonce,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        if self.config.idp_authorize_params:
            query += "&" + urlencode(self.config.idp_authorize_params)
        return Reply(302, None, location=f"{self.config.idp_authorization_endpoint}?{query}")

    # --- /oauth/callback (from the IdP) --------------------------------------------------------------------
    def _verify_id_token(self, id_token: str, nonce: str | None) -> IdentityClaims:
        config = self.idp_config.model_copy(
            update={"audience": self.config.idp_client_id, "allowed_client_ids": (self.config.idp_client_id,)}
        )
        identity = verify_idp_token(id_token, config, self.jwks, self.clock)
        if nonce is not None and _segment_json(id_token, 1).get("nonce") != nonce:
            raise AuthError("nonce mismatch", code=ReasonCode.AUTH_STATE_MISMATCH)
        if self.required_groups and not (self.required_groups & set(identity.groups)):
            raise AuthError("not in a required group", code=ReasonCode.AUTH_INSUFFICIENT_GROUP)
        return identity

    def callback(self, params: Mapping[str, str], base_url: str, resource_url: str) -> Reply:
        idp_state = params.get("state", "")
        if not idp_state or len(idp_state) > 512:
            raise OAuthFailure("invalid_request", ReasonCode.AUTH_STATE_MISMATCH)
        try:
            pending = self.store.take_pending(self._hash(idp_state, "idp-state"))
        except Exception:  # noqa: BLE001
            raise OAuthFailure("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE, status=503) from None
        if pending is None:
            raise OAuthFailure("invalid_request", ReasonCode.AUTH_STATE_MISMATCH)

        def back(error: str, reason: ReasonCode, token: str = "") -> OAuthFailure:
            location = redirect_with(
                pending.redirect_uri,
                {"error": error, "error_description": reason.value, "state": pending.state, "iss": base_url},
            )
            return OAuthFailure(error, reason, status=302, redirect=location, token=token)

        iss = params.get("iss")
        if iss is not None and iss != self.idp_config.issuer:  # RFC 9207 at the IdP leg: a mix-up
            raise back("access_denied", ReasonCode.AUTH_WRONG_ISSUER)
        if params.get("error"):
            raise back("access_denied", ReasonCode.AUTH_IDP_REFUSED)
        code = params.get("code", "")
        if not code or len(code) > 4096:
            raise back("invalid_request", ReasonCode.AUTH_MALFORMED)
        try:
            tokens = self.idp_client.exchange_code(code, f"{base_url}/oauth/callback", pending.idp_code_verifier)
        except IdpRefused:
            raise back("access_denied", ReasonCode.AUTH_IDP_REFUSED) from None
        except Exception:  # noqa: BLE001
            raise back("temporarily_unavailable", ReasonCode.AUTH_KEYS_UNAVAILABLE) from None
        id_token = str(tokens.get("id_token", ""))
        try:
            identity = self._verify_id_token(id_token, pending.idp_nonce)
        except AuthError as exc:
            raise back("access_denied", exc.code, id_token) from None
        family_id = new_secret(18)
        sealed = ""
        idp_refresh = tokens.get("refresh_token")
        if isinstance(idp_refresh, str) and idp_refresh:
            try:
                sealed = self.box.seal(idp_refresh, {"purpose": "idp-refresh", "family": family_id})
            except Exception:  # noqa: BLE001 - no KMS: sign in without a refresh token rather than keep it clear
                sealed = ""
        gateway_code = new_secret(32)
        grant = CodeGrant(
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            code_challenge=pending.code_challenge,
            resource=pending.resource,
            scope=pending.scope,
            sub=identity.sub,
            email=identity.email,
            groups=identity.groups,
            family_id=family_id,
            idp_refresh_ciphertext=sealed,
            expires_at=int(self._now()) + CODE_TTL_SECONDS,
        )
        try:
            self.store.put_code(self._hash(gateway_code, "code"), grant)
        except Exception:  # noqa: BLE001
            raise back("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE) from None
        location = redirect_with(pending.redirect_uri, {"code": gateway_code, "state": pending.state, "iss": base_url})
        return Reply(302, None, location=location)

    # --- /oauth/token ---------------------------------------------------------------------------------
    def _issue(
        self, base_url: str, resource_url: str, identity: IdentityClaims, cap: float, refresh: str | None
    ) -> Reply:
        now = self._now()
        capped = identity.model_copy(update={"expires_at": int(min(now + SESSION_TTL_SECONDS, cap))})
        try:
            issued = self.session_tokens(base_url, resource_url).mint(capped)
        except AuthError as exc:
            raise OAuthFailure("invalid_grant", exc.code) from None
        token = OAuthToken(
            access_token=issued.access_token,
            token_type="Bearer",  # noqa: S106 - not a secret
            expires_in=issued.expires_in,
            scope=" ".join(self.config.scopes),
            refresh_token=refresh,
        )
        return Reply(200, token.model_dump(exclude_none=True))

    def token(self, form: Mapping[str, str], headers: Mapping[str, str], base_url: str, resource_url: str) -> Reply:
        grant_type = form.get("grant_type", "")
        client = self.authenticate_client(form, headers)
        if grant_type not in client.grant_types:
            raise OAuthFailure("unauthorized_client", ReasonCode.AUTH_UNKNOWN_CLIENT)
        if grant_type == AUTHORIZATION_CODE:
            return self._authorization_code(client, form, base_url, resource_url)
        if grant_type == REFRESH_TOKEN:
            return self._refresh(client, form, base_url, resource_url)
        if grant_type == JWT_BEARER:
            return self._jwt_bearer(client, form, base_url, resource_url)
        raise OAuthFailure("unsupported_grant_type", ReasonCode.AUTH_MALFORMED)

    def _authorization_code(
        self, client: ClientRecord, form: Mapping[str, str], base_url: str, resource_url: str
    ) -> Reply:
        code = form.get("code", "")
        if not code or not form.get("code_verifier") or not form.get("redirect_uri"):
            raise OAuthFailure("invalid_request", ReasonCode.AUTH_MALFORMED, token=code)
        try:
            grant, first = self.store.take_code(self._hash(code, "code"))
        except Exception:  # noqa: BLE001
            raise OAuthFailure("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE, status=503) from None
        if grant is None:
            raise OAuthFailure("invalid_grant", ReasonCode.AUTH_INVALID, token=code)
        if not first:
            # RFC 6749 4.1.2: a code used twice revokes what was issued from it
            self.store.revoke_family(grant.family_id, ReasonCode.AUTH_CODE_REUSED.value)
            raise OAuthFailure("invalid_grant", ReasonCode.AUTH_CODE_REUSED, token=code)
        try:
            check_code_redemption(
                grant,
                client_id=client.client_id,
                redirect_uri=form.get("redirect_uri", ""),
                code_verifier=form.get("code_verifier", ""),
                resource=form.get("resource"),
                expected_resource=resource_url,
                now=self._now(),
            )
        except AuthError as exc:
            raise OAuthFailure(
                "invalid_grant" if exc.code is not ReasonCode.AUTH_WRONG_RESOURCE else "invalid_target",
                exc.code,
                token=code,
            ) from None
        now = self._now()
        absolute = int(now) + self.config.session_lifetime_seconds
        refresh: str | None = None
        if grant.idp_refresh_ciphertext and REFRESH_TOKEN in client.grant_types:
            refresh = new_secret(32)
            family = RefreshFamily(
                family_id=grant.family_id,
                client_id=client.client_id,
                sub=grant.sub,
                email=grant.email,
                groups=grant.groups,
                resource=grant.resource,
                scope=grant.scope,
                current_hash=self._hash(refresh, "refresh"),
                idp_refresh_ciphertext=grant.idp_refresh_ciphertext,
                started_at=int(now),
                absolute_expires_at=absolute,
                last_refreshed_at=int(now),
            )
            try:
                self.store.put_family(family, family.current_hash)
            except Exception:  # noqa: BLE001
                raise OAuthFailure("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE, status=503) from None
        identity = IdentityClaims(
            sub=grant.sub,
            email=grant.email,
            groups=grant.groups,
            expires_at=absolute,
            issuer=self.idp_config.issuer,
            token_id=grant.family_id,
        )
        return self._issue(base_url, resource_url, identity, absolute, refresh)

    def _refresh(self, client: ClientRecord, form: Mapping[str, str], base_url: str, resource_url: str) -> Reply:
        presented = form.get("refresh_token", "")
        if not presented or len(presented) > 512:
            raise OAuthFailure("invalid_request", ReasonCode.AUTH_MALFORMED, token=presented)
        presented_hash = self._hash(presented, "refresh")
        try:
            family = self.store.family_for_refresh(presented_hash)
        except Exception:  # noqa: BLE001
            raise OAuthFailure("temporarily_unavailable", ReasonCode.AUTH_STATE_UNAVAILABLE, status=503) from None
        if family is None:
            raise OAuthFailure("invalid_grant", ReasonCode.AUTH_INVALID, token=presented)
        now = self._now()
        try:
            check_refresh(
                family,
                presented_hash=presented_hash,
                client_id=client.client_id,
                resource=form.get("resource"),
                expected_resource=resource_url,
                now=now,
            )
            revoked_at = self.store.user_revoked_at(family.email)
            if revoked_at is not None and revoked_at >= family.started_at:
                raise AuthError("user sessions revoked", code=ReasonCode.AUTH_SESSION_REVOKED)
        except AuthError as exc:
            if exc.code in (ReasonCode.AUTH_REFRESH_REUSED, ReasonCode.AUTH_SESSION_REVOKED):
                self.store.revoke_family(family.family_id, exc.code.value)
            raise OAuthFailure("invalid_grant", exc.code, token=presented) from None
        context = {"purpose": "idp-refresh", "family": family.family_id}
        try:
            idp_refresh = self.box.unseal(family.idp_refresh_ciphertext, context)
            tokens = self.idp_client.refresh(idp_refresh)
        except IdpRefused:
            self.store.revoke_family(family.family_id, ReasonCode.AUTH_IDP_REFUSED.value)
            raise OAuthFailure("invalid_grant", ReasonCode.AUTH_IDP_REFUSED, token=presented) from None
        except Exception:  # noqa: BLE001 - IdP or KMS unreachable: no new token, the family stays
            raise OAuthFailure(
                "temporarily_unavailable", ReasonCode.AUTH_KEYS_UNAVAILABLE, status=503, token=presented
            ) from None
        try:
            identity = self._verify_id_token(str(tokens.get("id_token", "")), None)
            if identity.sub != family.sub or identity.email.lower() != family.email.lower():
                raise AuthError("the IdP answered for another user", code=ReasonCode.AUTH_IDP_REFUSED)
        except AuthError as exc:
            self.store.revoke_family(family.family_id, exc.code.value)
            raise OAuthFailure("invalid_grant", exc.code, token=presented) from None
        new_idp_refresh = tokens.get("refresh_token")
        sealed = family.idp_refresh_ciphertext
        if isinstance(new_idp_refresh, str) and new_idp_refresh and new_idp_refresh != idp_refresh:
            sealed = self.box.seal(new_idp_refresh, context)
        refresh = new_secret(32)
        try:
            self.store.rotate(
                family,
                presented_hash,
                self._hash(refresh, "refresh"),
                {"groups": identity.groups, "idp_refresh_ciphertext": sealed, "last_refreshed_at": int(now)},
            )
        except StoreConflict:
            self.store.revoke_family(family.family_id, ReasonCode.AUTH_REFRESH_REUSED.value)
            raise OAuthFailure("invalid_grant", ReasonCode.AUTH_REFRESH_REUSED, token=presented) from None
        claims = identity.model_copy(update={"token_id": family.family_id})
        return self._issue(base_url, resource_url, claims, family.absolute_expires_at, refresh)

    def _jwt_bearer(self, client: ClientRecord, form: Mapping[str, str], base_url: str, resource_url: str) -> Reply:
        """SEP-990 leg 2: an ID-JAG issued by the IdP (aud = this issuer, resource = the MCP URL, client_id =
        the authenticated client), verified against the IdP's JWKS; no browser, no refresh token."""
        if client.token_endpoint_auth_method == "none":  # noqa: S105 - not a secret
            raise OAuthFailure("invalid_client", ReasonCode.AUTH_UNKNOWN_CLIENT, status=401)
        assertion = form.get("assertion", "")
        if not assertion:
            raise OAuthFailure("invalid_request", ReasonCode.AUTH_MALFORMED)
        header = _segment_json(assertion, 0)
        typ = str(header.get("typ", "")).lower().removeprefix("application/")
        try:
            if typ != ID_JAG_TYP:
                raise AuthError("not an ID-JAG", code=ReasonCode.AUTH_WRONG_TOKEN_TYPE)
            config = self.idp_config.model_copy(
                update={
                    "audience": base_url,
                    "allowed_typ": (ID_JAG_TYP,),
                    "allowed_client_ids": (client.client_id,),
                    "require_nbf": False,
                    "max_lifetime_seconds": 3600,
                }
            )
            identity = verify_idp_token(assertion, config, self.jwks, self.clock)
            claims = _segment_json(assertion, 1)
            if claims.get("client_id") != client.client_id:
                raise AuthError("ID-JAG issued to another client", code=ReasonCode.AUTH_CLIENT_MISMATCH)
            if claims.get("resource") != resource_url or form.get("resource", resource_url) != resource_url:
                raise AuthError("ID-JAG for another resource", code=ReasonCode.AUTH_WRONG_RESOURCE)
            if self.required_groups and not (self.required_groups & set(identity.groups)):
                raise AuthError("not in a required group", code=ReasonCode.AUTH_INSUFFICIENT_GROUP)
            if not self.store.remember_once(self._hash(identity.token_id, "id-jag"), identity.expires_at + 60):
                raise AuthError("ID-JAG replayed", code=ReasonCode.AUTH_REPLAY)
        except AuthError as exc:
            status = 503 if exc.code is ReasonCode.AUTH_KEYS_UNAVAILABLE else 400
            error = "invalid_target" if exc.code is ReasonCode.AUTH_WRONG_RESOURCE else "invalid_grant"
            raise OAuthFailure(error, exc.code, status=status, token=assertion) from None
        return self._issue(base_url, resource_url, identity, identity.expires_at, None)

    # --- /oauth/revoke (RFC 7009) -------------------------------------------------------------------------
    def revoke(self, form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        client = self.authenticate_client(form, headers)
        token = form.get("token", "")
        if not token:
            raise OAuthFailure("invalid_request", ReasonCode.AUTH_MALFORMED)
        if len(token) <= 512:
            family = self.store.family_for_refresh(self._hash(token, "refresh"))
            if family is not None and family.client_id == client.client_id:
                self.store.revoke_family(family.family_id, "revoked_by_client")
        return Reply(200, {})

    # --- the edge's per-call check -----------------------------------------------------------------------
    def cut_off(self, email: str, token_expires_at: int) -> bool:
        """True when the user's sessions were revoked after this access token was issued (every token issued
        at or before the revocation expires at most 15 minutes after it). Raises when the state is unreadable."""
        revoked_at = self.store.user_revoked_at(email)
        return revoked_at is not None and token_expires_at <= revoked_at + SESSION_TTL_SECONDS
