"""The IdP's OIDC token endpoint, called by the gateway as a confidential client (client_secret_post).

Used for the authorization_code leg of a browser sign-in and to re-check the user at every gateway refresh.
Bounded in time and size; the endpoint comes from configuration only. An RFC 6749 ``invalid_grant`` (the
user was disabled, removed or the grant revoked) raises ``IdpRefused``; anything else raises ``ConnectionError``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..domain.oauth_ports import IdpRefused

MAX_RESPONSE_BYTES = 65_536
TIMEOUT_SECONDS = 5.0


class OidcTokenClient:
    def __init__(self, token_endpoint: str, client_id: str, client_secret: Callable[[], str]) -> None:
        parts = urlsplit(token_endpoint)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("the IdP token endpoint must be https")
        self.token_endpoint = token_endpoint
        self.client_id = client_id
        self.client_secret = client_secret

    def _post(self, form: Mapping[str, str]) -> Mapping[str, Any]:
        body = urlencode({**form, "client_id": self.client_id, "client_secret": self.client_secret()}).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.token_endpoint,
            data=body,
            method="POST",
            headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
                raw = resp.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raw = exc.read(MAX_RESPONSE_BYTES + 1)
            try:
                error = json.loads(raw).get("error")
            except (ValueError, AttributeError):
                error = None
            if exc.code in (400, 401) and error in ("invalid_grant", "access_denied", "unauthorized_client"):
                raise IdpRefused(str(error)) from None
            raise ConnectionError(f"IdP token endpoint answered {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ConnectionError(f"IdP token endpoint unreachable: {type(exc).__name__}") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise ConnectionError("IdP token response too large")
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("id_token"), str):
            raise ConnectionError("IdP token response holds no id_token")
        return data

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> Mapping[str, Any]:
        return self._post(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )

    def refresh(self, refresh_token: str) -> Mapping[str, Any]:
        return self._post({"grant_type": "refresh_token", "refresh_token": refresh_token})
