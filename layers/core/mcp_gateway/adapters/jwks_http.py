"""Fetch an IdP's JWKS over HTTPS (plain HTTP only for loopback, i.e. the local IdP). Bounded in time and size;
honours Cache-Control max-age. The only outbound call the gateway makes to a URL, and that URL comes from
configuration, never from a token header."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any
from urllib.parse import urlsplit

MAX_JWKS_BYTES = 65_536
TIMEOUT_SECONDS = 3.0
_MAX_AGE = re.compile(r"max-age=(\d{1,9})")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError("JWKS URL must be https")


def fetch_jwks(url: str) -> tuple[dict[str, Any], int | None]:
    _check_url(url)
    request = urllib.request.Request(url, headers={"accept": "application/json"})  # noqa: S310 - scheme checked
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310 - scheme checked
        body = resp.read(MAX_JWKS_BYTES + 1)
        cache_control = resp.headers.get("cache-control", "")
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("JWKS document too large")
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("JWKS is not a JSON object")
    match = _MAX_AGE.search(cache_control or "")
    return data, int(match.group(1)) if match else None
