"""Ports of the authorization server: what the gateway needs from storage, KMS, the IdP and the web.

Implemented in ``mcp_gateway.adapters.oauth_store`` (DynamoDB), ``oauth_kms`` (KMS), ``oauth_idp`` (the IdP's
token endpoint) and ``oauth_cimd`` (client ID metadata documents, SSRF-guarded). Tests substitute fakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .oauth import ClientRecord, CodeGrant, PendingAuthorization, RefreshFamily


class StoreConflict(Exception):
    """A conditional write lost (the item was already used, rotated or is gone)."""


class OAuthStatePort(Protocol):
    def put_pending(self, state_hash: str, pending: PendingAuthorization) -> None: ...

    def take_pending(self, state_hash: str) -> PendingAuthorization | None:
        """Atomically delete and return (single use)."""
        ...

    def put_code(self, code_hash: str, grant: CodeGrant) -> None: ...

    def take_code(self, code_hash: str) -> tuple[CodeGrant | None, bool]:
        """(grant, first_use). A second redemption returns the grant with first_use False."""
        ...

    def put_family(self, family: RefreshFamily, refresh_hash: str) -> None: ...

    def family_for_refresh(self, refresh_hash: str) -> RefreshFamily | None: ...

    def get_family(self, family_id: str) -> RefreshFamily | None: ...

    def rotate(self, family: RefreshFamily, old_hash: str, new_hash: str, updates: Mapping[str, Any]) -> None:
        """Replace the family's current refresh hash iff it still is ``old_hash``; raises StoreConflict."""
        ...

    def revoke_family(self, family_id: str, reason: str) -> None: ...

    def families_for_user(self, email: str) -> list[RefreshFamily]: ...

    def put_user_revocation(self, email: str, revoked_at: int, keep_until: int) -> None: ...

    def user_revoked_at(self, email: str) -> int | None: ...

    def remember_once(self, key_hash: str, until: int) -> bool:
        """True the first time (replay protection); False when already seen."""
        ...

    def put_client(self, client: ClientRecord, expires_at: int) -> None: ...

    def get_client(self, client_id: str) -> ClientRecord | None: ...


class SecretBoxPort(Protocol):
    def seal(self, plaintext: str, context: Mapping[str, str]) -> str: ...

    def unseal(self, ciphertext: str, context: Mapping[str, str]) -> str: ...


class IdpClientPort(Protocol):
    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> Mapping[str, Any]:
        """The IdP token endpoint's JSON for an authorization_code grant; raises on any failure."""
        ...

    def refresh(self, refresh_token: str) -> Mapping[str, Any]:
        """The IdP token endpoint's JSON for a refresh_token grant; raises IdpRefused on invalid_grant."""
        ...


class IdpRefused(Exception):
    pass


class MetadataFetchPort(Protocol):
    def __call__(self, url: str) -> tuple[Mapping[str, Any], int | None]:
        """(document, max-age). Raises ValueError with a short reason on any refusal."""
        ...
