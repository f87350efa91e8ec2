"""A local stand-in for Slack (loopback only; dev and tests, never deployed).

- Web API: ``POST /api/chat.postMessage`` and ``POST /api/chat.update`` with a JSON body and the bot token
  as ``Authorization: Bearer``, answered like Slack (``{"ok": true, "channel", "ts", ...}``). Approval
  messages are printed to the terminal and appended to ``approvals.jsonl``.
- ``GET /`` and ``GET /approvals`` (HTML): every approval message, newest first, rendered from the same
  ``ApprovalView`` the Slack message is built from (read back from the approvals table): requester, tool, action,
  resources, the redacted parameters, rule and matched phrase, expiry in UTC and relative, state and decision.
  Every value is HTML-escaped. ``GET /approvals/<request id>`` shows one; ``GET /approvals.json`` lists the
  messages, newest last, with their state.
- ``POST /response/<id>``: a ``response_url`` sink (Slack's hooks host in production).

``block_actions_body`` and ``signed_callback`` build a click exactly as Slack sends it (form-encoded
``payload=<json>``, ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature: v0=...``), so the real callback
code verifies real signatures. ``mcp-gateway approve|deny`` and the tests use them.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp_gateway.adapters.approval_store import ApprovalRecord, record_of
from mcp_gateway.domain.slack import relative, sign_slack_request
from pydantic import ValidationError

TEAM_ID = "T0LOCAL01"
MAX_BODY = 2 * 1024 * 1024


def _request_id_of(message: dict[str, Any]) -> str:
    for block in message.get("blocks") or []:
        block_id = str(block.get("block_id", ""))
        if block.get("type") == "actions" and block_id.startswith("approval:"):
            return block_id.split(":", 1)[1]
    text = str(message.get("text", ""))
    marker = "(request "
    if marker in text:
        return text.split(marker, 1)[1].split(")", 1)[0]
    return ""


def _plain_summary(message: dict[str, Any]) -> str:
    lines: list[str] = []
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict) and block.get("type") in ("section", "header"):
            lines.append(str(text.get("text", "")))
        elif block.get("type") == "actions":
            lines.append("[ Approve ]  [ Deny ]")
    return "\n".join(lines)


class SlackStandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        log_path: Path,
        *,
        printer: Callable[[str], None] | None = print,
    ) -> None:
        self.log_path = Path(log_path)
        self.printer = printer
        self.expected_token = ""  # set once the Slack secret exists; empty accepts any xoxb- token
        self.messages: dict[str, dict[str, Any]] = {}  # ts -> record
        self.responses: list[dict[str, Any]] = []
        self.approvals: Any = None  # an ApprovalStore, once the approvals table exists (the page reads it)
        self.lock = threading.Lock()
        self._seq = 0
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]!s}:{self.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def _next_ts(self) -> str:
        self._seq += 1
        return f"{int(time.time())}.{self._seq:06d}"

    def _append(self, record: dict[str, Any]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            ts = self._next_ts()
            channel = str(args.get("channel") or "C0LOCAL01")
            record = {
                "event": "posted",
                "request_id": _request_id_of(args),
                "channel": channel,
                "ts": ts,
                "state": "pending",
                "message": args,
                "posted_at": time.time(),
            }
            self.messages[ts] = record
            self._append(record)
        self._print("posted", record)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts, "text": args.get("text", "")}}

    def update(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args.get("ts", ""))
        with self.lock:
            record = self.messages.get(ts)
            if record is None:
                return {"ok": False, "error": "message_not_found"}
            header: dict[str, Any] = next((b for b in args.get("blocks") or [] if b.get("type") == "header"), {})
            state = str((header.get("text") or {}).get("text", "")).rsplit(" ", 1)[-1] or "updated"
            updated = {
                **record,
                "event": "updated",
                "state": state,
                "message": args,
                "updated_at": time.time(),
            }
            self.messages[ts] = updated
            self._append(updated)
        self._print("updated", updated)
        return {"ok": True, "channel": record["channel"], "ts": ts, "text": args.get("text", "")}

    def _print(self, what: str, record: dict[str, Any]) -> None:
        if self.printer is None:
            return
        rid = record["request_id"]
        rule = "-" * 72
        hint = (
            f"\n  approve: .venv/bin/mcp-gateway approve {rid} --as carol@example.com"
            f"\n  deny:    .venv/bin/mcp-gateway deny {rid} --as carol@example.com"
            if what == "posted"
            else ""
        )
        self.printer(
            f"\n{rule}\n[local Slack] {what}: {record['state']}  ({rid})\n"
            f"{_plain_summary(record['message'])}{hint}\n{rule}"
        )

    def listing(self) -> list[dict[str, Any]]:
        with self.lock:
            return sorted(self.messages.values(), key=lambda r: r["ts"])

    def record(self, request_id: str, now: float) -> ApprovalRecord | None:
        """The request as stored in the approvals table (None without a table, or if it is not there)."""
        if self.approvals is None or not request_id:
            return None
        try:
            item = self.approvals.get(request_id)
            return None if item is None else record_of(item, now)
        except ValidationError:
            return None  # not a request this page can show; its message's own text is shown instead
        except Exception:  # noqa: BLE001 - a botocore error must not take the page down; the message still shows
            return None

    def page(self, request_id: str | None = None, now: float | None = None) -> str:
        """The approvals page (HTML): one card per approval message, newest first, or only ``request_id``'s."""
        now = time.time() if now is None else now
        records = [r for r in reversed(self.listing()) if request_id is None or r["request_id"] == request_id]
        cards = "\n".join(_card(message, self.record(str(message["request_id"]), now), now) for message in records)
        title = "Approvals (local Slack stand-in)"
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_h(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_h(title)}</h1>"
            f"{cards or '<p>No approval requests yet.</p>'}</body></html>\n"
        )


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}"
    "section{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}"
    "dt{font-weight:bold}dd{margin:0 0 .5em 1em}pre{background:#f5f5f5;padding:.5em;overflow-x:auto}"
    ".state{font-weight:bold;text-transform:uppercase}"
)


def _h(value: object) -> str:
    """Every value on the page goes through here: agent-controlled text never becomes markup."""
    return html.escape(str(value), quote=True)


def _utc(epoch: float | None) -> str:
    return "" if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _field(name: str, value_html: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<dt>{_h(name)}</dt><dd{cls}>{value_html}</dd>"


def _card(message: dict[str, Any], record: ApprovalRecord | None, now: float) -> str:
    """One request: from its ApprovalView when the approvals table has it, else the message's own text."""
    rid = str(message.get("request_id", ""))
    head = f'<section id="{_h(rid)}"><h2>Request <code>{_h(rid)}</code></h2>'
    if record is None:
        return (
            f"{head}<dl>{_field('State', _h(message.get('state', '')), 'state')}</dl>"
            f"<pre>{_h(_plain_summary(message.get('message') or {}))}</pre></section>"
        )
    v = record.view
    resources = "".join(f"<li><code>{_h(r)}</code></li>" for r in v.resources) or "<li><em>none</em></li>"
    decided = "-"
    if record.decided_by or record.decided_at is not None:
        decided = f"{_h(record.decided_by or '-')} at {_h(_utc(record.decided_at) or '-')}"
    fields = [
        _field("State", _h(record.state.lower()), "state"),
        _field("Requested by", f"<code>{_h(v.requester_email)}</code>"),
        _field("Tool", f"<code>{_h(v.tool or '-')}</code>"),
        _field("Action", f"<code>{_h(v.action)}</code>"),
        _field(f"Resources ({len(v.resources)})", f"<ul>{resources}</ul>"),
        _field("Parameters (sanitised)", f"<pre>{_h(v.parameters_json)}</pre>"),
        _field("Rule", f"<code>{_h(v.rule_id)}</code>, reason <code>{_h(v.reason)}</code>"),
        _field("Matched", f"<code>{_h(v.trigger or '-')}</code>"),
        _field("Expires", f"{_h(_utc(v.expires_at))} ({_h(relative(v.expires_at, now))})"),
        _field("Decided by", decided),
        _field("Request hash", f"<code>{_h(v.request_hash)}</code>"),
    ]
    return f"{head}<dl>{''.join(fields)}</dl></section>"


class _Handler(BaseHTTPRequestHandler):
    server: SlackStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/approvals.json":
            self._json(200, self.server.listing())
        elif path in ("/", "/approvals", "/approvals/") or path.startswith("/approvals/"):
            rid = urllib.parse.unquote(path[len("/approvals/") :]) if path.startswith("/approvals/") else ""
            page = self.server.page(rid or None).encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
            self.send_header("x-content-type-options", "nosniff")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        else:
            self._json(404, {"ok": False, "error": "unknown_method"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._json(413, {"ok": False, "error": "request_too_large"})
            return
        raw = self.rfile.read(length) if length else b""
        if path.startswith("/response/"):
            with self.server.lock:
                self.server.responses.append({"path": path, "body": raw.decode("utf-8", "replace")})
            self._json(200, {"ok": True})
            return
        auth = self.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        expected = self.server.expected_token
        if not token.startswith("xoxb-") or (expected and not secrets.compare_digest(token, expected)):
            self._json(200, {"ok": False, "error": "invalid_auth"})  # Slack answers auth errors with 200
            return
        try:
            args = json.loads(raw or b"{}")
        except ValueError:
            self._json(200, {"ok": False, "error": "invalid_json"})
            return
        if not isinstance(args, dict):
            self._json(200, {"ok": False, "error": "invalid_arguments"})
            return
        if path == "/api/chat.postMessage":
            self._json(200, self.server.post(args))
        elif path == "/api/chat.update":
            self._json(200, self.server.update(args))
        else:
            self._json(200, {"ok": False, "error": "unknown_method"})


# ------------------------------------------------------------------------------------------------------
# Clicks, exactly as Slack sends them
# ------------------------------------------------------------------------------------------------------
def button_value(message: dict[str, Any], action: str) -> str:
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                if element.get("action_id") == action:
                    return str(element.get("value", ""))
    raise LookupError(f"no {action} button in this message")


def block_actions_payload(
    record: dict[str, Any],
    action: str,
    *,
    user_id: str,
    user_name: str,
    response_url: str,
    action_ts: str | None = None,
    value: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` interaction payload shaped like Slack's (the fields Slack documents and sends)."""
    message = record["message"]
    ts = str(record["ts"])
    channel = str(record["channel"])
    block_id = next(
        (str(b.get("block_id")) for b in message.get("blocks") or [] if b.get("type") == "actions"), "actions"
    )
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": "A0LOCAL01",
        "token": "local-verification-token-unused",  # deprecated by Slack; never trusted
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}",
        "team": {"id": TEAM_ID, "domain": "local"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "mcp-approvals"},
        "message": {
            "type": "message",
            "ts": ts,
            "text": message.get("text", ""),
            "blocks": message.get("blocks", []),
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action,
                "block_id": block_id,
                "text": {
                    "type": "plain_text",
                    "text": "Approve" if action == "approve" else "Deny",
                    "emoji": True,
                },
                "value": value if value is not None else button_value(message, action),
                "style": "primary" if action == "approve" else "danger",
                "type": "button",
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }


def form_body(payload: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode("ascii")


def signed_callback(body: bytes, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    headers: dict[str, str] = dict(
        sign_slack_request(body, signing_secret.encode(), int(time.time() if timestamp is None else timestamp))
    )
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
    return headers


def post_callback(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - loopback URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - loopback URL
            return int(resp.status), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")


def find_message(log_path: Path, request_id: str) -> dict[str, Any]:
    """The latest record of ``request_id``'s approval message from approvals.jsonl."""
    found: dict[str, Any] | None = None
    if Path(log_path).exists():
        for line in Path(log_path).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("request_id") == request_id and record.get("event") == "posted":
                found = record
    if found is None:
        raise LookupError(f"no approval message for {request_id}")
    return found
