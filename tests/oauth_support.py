"""Helpers for the OAuth sign-in tests: a browser driven over HTTP (the local IdP's login form), a loopback
HTTPS host for client ID metadata documents, token storage for the SDK's providers, audit-record lookup."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

REDIRECT_URI = "http://127.0.0.1:53682/callback"  # the client's loopback redirect: nothing listens, we read Location
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]+)">')


class MemoryStorage:
    """The SDK's TokenStorage, in memory; keeps every token set it was given."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.history: list[OAuthToken] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.history.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class Browser:
    """What a person does in a browser: follow the redirects, fill in the IdP's login form, and land on the
    client's loopback redirect URI (captured, not followed). Plain HTTP, no JavaScript."""

    email: str
    groups: str = "developers"
    user_agent: str = "oauth-suite/browser"
    result: AuthorizationCodeResult | None = None
    landing: str = ""
    hops: list[str] = field(default_factory=list)

    async def redirect(self, authorization_url: str) -> None:
        self.landing = await self.sign_in(authorization_url)
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.landing).query).items()}
        self.result = AuthorizationCodeResult(
            code=query.get("code", ""), state=query.get("state"), iss=query.get("iss")
        )

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None, "the authorization redirect did not reach the client"
        return self.result

    async def sign_in(self, url: str) -> str:
        """From the authorization URL to the final redirect at the client; returns that URL."""
        async with httpx.AsyncClient(timeout=30, headers={"user-agent": self.user_agent}) as http:
            for _ in range(10):
                if url.startswith(REDIRECT_URI.rsplit("/", 1)[0]):
                    return url
                self.hops.append(url)
                resp = await http.get(url)
                if resp.status_code in (301, 302, 303, 307, 308):
                    url = resp.headers["location"]
                    continue
                assert resp.status_code == 200, f"{url}: {resp.status_code} {resp.text[:200]}"
                assert resp.headers["content-type"].startswith("text/html")
                action = _ACTION.search(resp.text)
                assert action is not None, "no login form"
                form = {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(resp.text)}
                form.update({"email": self.email, "groups": self.groups})
                posted = await http.post(html.unescape(action.group(1)), data=form)
                assert posted.status_code == 302, posted.text
                url = posted.headers["location"]
        raise AssertionError("too many redirects")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


# ------------------------------------------------------------------------------------------------------
# Client ID metadata documents on loopback HTTPS (certificate from the stack's local CA)
# ------------------------------------------------------------------------------------------------------
@dataclass
class Document:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    stall: bool = False  # send the headers and a first byte, then nothing more until the host closes


class MetadataHost(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: Any) -> None:
        self.documents: dict[str, Document] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _MetadataHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def publish(self, path: str, document: dict[str, Any] | None = None, **kwargs: Any) -> str:
        url = f"{self.base}{path}"
        if document is None:
            document = client_document(url)
        self.documents[path] = Document(json.dumps(document).encode(), **kwargs)
        return url

    def raw(self, path: str, doc: Document) -> str:
        self.documents[path] = doc
        return f"{self.base}{path}"

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


def client_document(client_id: str, redirect_uris: list[str] | None = None) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_name": "oauth-suite SDK client",
        "redirect_uris": redirect_uris or [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }


class _MetadataHandler(BaseHTTPRequestHandler):
    server: MetadataHost
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        doc = self.server.documents.get(self.path)
        if doc is None:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.send_response(doc.status)
        for k, v in doc.headers.items():
            self.send_header(k, v)
        if doc.stall:
            self.send_header("content-length", str(len(doc.body)))
            self.end_headers()
            self.wfile.write(doc.body[:1])
            self.wfile.flush()
            self.server.release.wait(30)  # a slow drip: the gateway's deadline must cut it off first
            return
        self.send_header("content-length", str(len(doc.body)))
        self.end_headers()
        self.wfile.write(doc.body)


# ------------------------------------------------------------------------------------------------------
# Audit records
# ------------------------------------------------------------------------------------------------------
def auth_records(stack: Any, user_agent: str) -> list[dict[str, Any]]:
    ddb = stack.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": stack.physical("AuditTable"),
        "FilterExpression": "contains(#r, :ua)",
        "ExpressionAttributeNames": {"#r": "record"},
        "ExpressionAttributeValues": {":ua": {"S": user_agent}},
    }
    out: list[dict[str, Any]] = []
    while True:
        page = ddb.scan(**kwargs)
        for item in page["Items"]:
            record = json.loads(item["record"]["S"]) if "record" in item else {}
            if record.get("rule_id") == "auth" and record.get("user_agent") == user_agent:
                out.append(record)
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reasons(stack: Any, user_agent: str) -> list[str]:
    """The reason codes audited for requests sent with this user agent, sorted (the scan has no order)."""
    return sorted(r["reason"] for r in auth_records(stack, user_agent))
