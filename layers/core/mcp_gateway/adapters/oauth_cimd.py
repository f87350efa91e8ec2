"""Fetch a client ID metadata document (the ``client_id`` is an HTTPS URL), guarded against SSRF.

- https only (plain http to loopback only when ``allow_loopback`` is set: local mode);
- the host is resolved here, once, and every address must be public (no private, loopback, link-local,
  multicast, reserved or unspecified address; loopback only in local mode); the connection then goes to the
  vetted address itself, so a second DNS answer (rebinding) is never used; TLS still verifies the host name;
- no redirects, a JSON body of at most ``max_bytes``, one overall deadline (a slow drip is cut off);
- the result is cached by the caller (``max-age`` honoured within bounds).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..domain.oauth import client_metadata_url_problem, refused_address

Resolver = Callable[[str, int], list[str]]
MAX_BYTES = 16_384
TIMEOUT_SECONDS = 3.0
_MAX_AGE = re.compile(r"max-age=(\d{1,9})")


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class MetadataDocumentFetcher:
    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        max_bytes: int = MAX_BYTES,
        timeout_seconds: float = TIMEOUT_SECONDS,
        resolver: Resolver = resolve,
        ca_file: str | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.max_bytes = max_bytes
        self.timeout = timeout_seconds
        self.resolver = resolver
        self.ca_file = ca_file or None

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context

    def __call__(self, url: str) -> tuple[Mapping[str, Any], int | None]:
        problem = client_metadata_url_problem(url, allow_loopback_http=self.allow_loopback)
        if problem:
            raise ValueError(problem)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        deadline = time.monotonic() + self.timeout
        try:
            addresses = self.resolver(host, port)
        except OSError:
            raise ValueError("host does not resolve") from None
        if not addresses:
            raise ValueError("host does not resolve")
        if any(refused_address(a, allow_loopback=self.allow_loopback) for a in addresses):
            raise ValueError("host resolves to a private or reserved address")
        address = addresses[0]
        try:
            raw = socket.create_connection((address, port), timeout=self.timeout)
        except OSError:
            raise ValueError("connection failed") from None
        try:
            sock: socket.socket = raw
            if parts.scheme == "https":
                sock = self._context().wrap_socket(raw, server_hostname=host)
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            conn.sock = sock  # the vetted address: no second resolution
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", target, headers={"accept": "application/json", "user-agent": "mcp-aws-gateway/cimd"})
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            resp = conn.getresponse()
            if resp.status != 200:
                raise ValueError(f"metadata document answered {resp.status}")
            length = resp.getheader("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                raise ValueError("metadata document too large")
            body = b""
            while len(body) <= self.max_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ValueError("metadata document too slow")
                sock.settimeout(remaining)
                chunk = resp.read1(4096)
                if not chunk:
                    break
                body += chunk
            if len(body) > self.max_bytes:
                raise ValueError("metadata document too large")
            cache_control = resp.getheader("cache-control") or ""
        except TimeoutError:
            raise ValueError("metadata document too slow") from None
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise ValueError(f"metadata document fetch failed: {type(exc).__name__}") from None
        finally:
            raw.close()
        try:
            document = json.loads(body)
        except ValueError:
            raise ValueError("metadata document is not JSON") from None
        if not isinstance(document, dict):
            raise ValueError("metadata document is not a JSON object")
        match = _MAX_AGE.search(cache_control)
        return document, int(match.group(1)) if match else None
