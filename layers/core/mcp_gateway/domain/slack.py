"""Slack: request signing/verification, interaction parsing and Block Kit approval messages. Pure.

Verification follows Slack's "Verifying requests from Slack": the base string is
``v0:{X-Slack-Request-Timestamp}:{raw body}``, signed with HMAC-SHA256 under the app's signing secret,
sent as ``X-Slack-Signature: v0=<hex>``. Always verify the *raw* bytes as received: a body that was
parsed and re-serialised (even to an equivalent payload) no longer verifies.

Order of checks in ``verify_slack_signature`` (the first failure wins, raised as ``SignatureError``):

1. a header missing, empty, duplicated under two spellings or absurdly long -> ``CALLBACK_MALFORMED``;
2. timestamp not a plain decimal integer, or more than ``tolerance_seconds`` from ``now`` ->
   ``SIGNATURE_STALE`` (checked before any HMAC, so replays of old requests die cheaply);
3. signature not ``v0=`` + 64 lowercase hex digits, or not matching under any configured secret ->
   ``SIGNATURE_INVALID`` (``hmac.compare_digest``).

Messages: every user-controlled string (e-mail, action, resources, parameters, rule, reason, decider)
goes through ``escape_mrkdwn`` and ``_visible`` before it reaches a mrkdwn text object, and every
mrkdwn object has ``verbatim: true``. An agent therefore cannot inject ``<!channel>``, ``<@U123>`` or
``<https://evil|click>``, cannot get bare URLs auto-linked, cannot close a code span to forge extra
lines (backticks become U+02CB), and cannot hide text with bidi or zero-width characters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import unicodedata
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import ConfigError, ReasonCode, SignatureError
from .models import Email, RequestId, ShortStr, StrictModel

SIGNATURE_VERSION = "v0"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
MAX_HEADER_CHARS = 256
MAX_INTERACTION_BYTES = 512 * 1024  # our message is ~20 KB; Slack echoes it back inside the payload
SLACK_RESPONSE_URL_PREFIXES: tuple[str, ...] = ("https://hooks.slack.com/", "https://hooks.slack-gov.com/")

# Slack Block Kit limits (characters).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_VALUE = 2000
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_FALLBACK_TEXT = 3000  # Slack truncates "text" at 40,000; notifications need far less

_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE_RE = re.compile(r"^v0=[0-9a-f]{64}$")

RequestHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,39}$")]
SlackTs = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}\.[0-9]{1,9}$")]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2048, pattern=r"^https?://[!-~]+$")]


class MalformedCallbackError(SignatureError):
    """The callback is not the shape we expect (headers or payload); nothing in it can be trusted."""

    code = ReasonCode.CALLBACK_MALFORMED


# --------------------------------------------------------------------------------------------------
# Signing and verification
# --------------------------------------------------------------------------------------------------


def _secrets(signing_secret: bytes | Sequence[bytes]) -> list[bytes]:
    secrets = [signing_secret] if isinstance(signing_secret, bytes | bytearray) else list(signing_secret)
    if not secrets or any(not isinstance(s, bytes | bytearray) or not s for s in secrets):
        raise ConfigError("Slack signing secret is missing or empty")
    return [bytes(s) for s in secrets]


def _signature(raw_body: bytes, secret: bytes, timestamp: str) -> str:
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode("ascii") + raw_body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def sign_slack_request(raw_body: bytes, signing_secret: bytes, timestamp: int) -> dict[str, str]:
    """The two headers Slack would send with ``raw_body`` at ``timestamp`` (for stand-ins and tests)."""
    (secret,) = _secrets(signing_secret)
    ts = str(int(timestamp))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: _signature(raw_body, secret, ts)}


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    found = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted]
    if len(found) != 1:
        raise MalformedCallbackError(f"header {name} missing or repeated")
    value = found[0]
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_HEADER_CHARS:
        raise MalformedCallbackError(f"header {name} empty or too long")
    return value.strip()


def verify_slack_signature(
    headers: Mapping[str, str],
    raw_body: bytes,
    signing_secret: bytes | Sequence[bytes],
    now: float,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Verify a Slack request; return its timestamp. Raises ``SignatureError`` (see module docstring).

    ``signing_secret`` may be a list of secrets (rotation: old and new both accepted). An empty secret
    is a configuration error (``ConfigError``), never an open door.
    """
    secrets = _secrets(signing_secret)
    ts_value = _header(headers, TIMESTAMP_HEADER)
    sig_value = _header(headers, SIGNATURE_HEADER)
    if not _TIMESTAMP_RE.match(ts_value):
        raise SignatureError("timestamp is not an integer", code=ReasonCode.SIGNATURE_STALE)
    timestamp = int(ts_value)
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("timestamp outside tolerance", code=ReasonCode.SIGNATURE_STALE)
    if not _SIGNATURE_RE.match(sig_value):
        raise SignatureError("signature has wrong version or format", code=ReasonCode.SIGNATURE_INVALID)
    matched = False
    for secret in secrets:  # evaluate all, so timing does not reveal which secret matched
        matched |= hmac.compare_digest(_signature(raw_body, secret, ts_value), sig_value)
    if not matched:
        raise SignatureError("signature mismatch", code=ReasonCode.SIGNATURE_INVALID)
    return timestamp


# --------------------------------------------------------------------------------------------------
# Interaction payload
# --------------------------------------------------------------------------------------------------


class Interaction(StrictModel):
    """One click on Approve or Deny, as far as the gateway cares. Built only by ``parse_interaction``
    from a verified body (or by tests)."""

    action: Literal["approve", "deny"]
    request_id: RequestId
    request_hash: RequestHash
    slack_user_id: SlackId
    slack_user_name: ShortStr
    team_id: SlackId
    channel_id: SlackId
    message_ts: SlackTs
    response_url: Url
    action_ts: SlackTs


# Slack's payload carries many fields we do not use and Slack adds new ones without notice, so these
# private parsing models ignore unknown fields; every field we *do* read is typed and bounded.
class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=MAX_INTERACTION_BYTES)


class _User(_Lenient):
    id: str
    username: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, max_length=256)
    team_id: str | None = None


class _Team(_Lenient):
    id: str


class _Container(_Lenient):
    type: Literal["message"]
    message_ts: str
    channel_id: str | None = None


class _Channel(_Lenient):
    id: str


class _Action(_Lenient):
    type: Literal["button"]
    action_id: Literal["approve", "deny"]
    value: str = Field(max_length=MAX_BUTTON_VALUE)
    action_ts: str


class _Payload(_Lenient):
    type: Literal["block_actions"]
    user: _User
    team: _Team | None = None
    container: _Container
    channel: _Channel | None = None
    response_url: str = Field(max_length=2048)
    actions: list[_Action] = Field(min_length=1, max_length=1)


class _ButtonValue(StrictModel):
    request_id: RequestId
    request_hash: RequestHash


def _malformed(detail: str, cause: BaseException | None = None) -> NoReturn:
    raise MalformedCallbackError(f"malformed interaction: {detail}") from cause


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            _malformed("duplicate JSON key")
        out[key] = value
    return out


def _reject_constant(_: str) -> NoReturn:
    _malformed("non-finite number in JSON")


def _loads(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        _malformed("not JSON", exc)


def parse_interaction(
    raw_body: bytes,
    *,
    max_bytes: int = MAX_INTERACTION_BYTES,
    response_url_prefixes: Sequence[str] = SLACK_RESPONSE_URL_PREFIXES,
) -> Interaction:
    """Parse a (verified) ``block_actions`` callback body into an ``Interaction``.

    The body is ``application/x-www-form-urlencoded`` with exactly one ``payload`` field holding JSON.
    Exactly one action, a button whose ``action_id`` is ``approve`` or ``deny`` and whose value is the
    JSON ``{"request_id", "request_hash"}`` we put there. ``response_url`` must start with one of
    ``response_url_prefixes`` (Slack's hooks hosts by default; a local stand-in passes its own).
    Anything else raises ``MalformedCallbackError`` (a ``SignatureError`` with ``CALLBACK_MALFORMED``).
    """
    if not isinstance(raw_body, bytes | bytearray) or not raw_body or len(raw_body) > max_bytes:
        _malformed("empty or oversized body")
    try:
        text = bytes(raw_body).decode("ascii")
        fields = urllib.parse.parse_qs(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=4
        )
    except ValueError as exc:  # includes UnicodeDecodeError
        _malformed("not a form body", exc)
    if set(fields) != {"payload"} or len(fields["payload"]) != 1:
        _malformed("expected exactly one payload field")
    data = _loads(fields["payload"][0])
    if not isinstance(data, dict):
        _malformed("payload is not an object")
    try:
        payload = _Payload.model_validate(data)
    except ValidationError as exc:
        _malformed("unexpected payload shape", exc)
    (act,) = payload.actions
    value = _loads(act.value)
    if not isinstance(value, dict):
        _malformed("button value is not an object")
    try:
        button = _ButtonValue.model_validate(value)
    except ValidationError as exc:
        _malformed("unexpected button value", exc)

    team_id = payload.team.id if payload.team else payload.user.team_id
    channel_ids = {payload.container.channel_id, payload.channel.id if payload.channel else None} - {None}
    if len(channel_ids) != 1:
        _malformed("channel missing or inconsistent")
    if not any(payload.response_url.startswith(p) for p in response_url_prefixes):
        _malformed("unexpected response_url")
    try:
        return Interaction(
            action=act.action_id,
            request_id=button.request_id,
            request_hash=button.request_hash,
            slack_user_id=payload.user.id,
            slack_user_name=payload.user.username or payload.user.name or "",
            team_id=team_id or "",
            channel_id=str(channel_ids.pop()),
            message_ts=payload.container.message_ts,
            response_url=payload.response_url,
            action_ts=act.action_ts,
        )
    except ValidationError as exc:
        _malformed("field out of bounds", exc)


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


class ApprovalView(StrictModel):
    """What an approver is shown. ``parameters_json`` is already sanitised (secrets redacted)."""

    request_id: RequestId
    request_hash: RequestHash
    requester_email: Email
    action: ShortStr
    resources: tuple[Annotated[str, StringConstraints(max_length=2048)], ...] = Field(default=(), max_length=100)
    parameters_json: Annotated[str, StringConstraints(max_length=256 * 1024)] = "{}"
    rule_id: ShortStr
    reason: ShortStr
    trigger: Annotated[str, StringConstraints(max_length=2048)] = ""  # the matched phrase or behaviour
    tool: Annotated[str, StringConstraints(max_length=64)] = ""
    expires_at: float = Field(ge=0)
    channel: Annotated[str, StringConstraints(min_length=1, max_length=256)]


_INVISIBLE = {0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF}
_INVISIBLE.update(range(0x202A, 0x202F))  # bidi embeddings and overrides
_INVISIBLE.update(range(0x2066, 0x206A))  # bidi isolates


def _visible(text: str, *, multiline: bool = False) -> str:
    """Make control, format (bidi, zero-width) and line-break characters visible as ``\\uXXXX``."""
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if multiline and ch in "\n\t":
            out.append(ch)
        elif cp in _INVISIBLE or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    return "".join(out)


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's three control characters so text can never form a link, mention or command."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_len(text: str) -> int:
    """Length as Slack counts it, conservatively (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _truncate(text: str, limit: int, marker: str = "…") -> str:
    """Cut escaped mrkdwn to ``limit`` (UTF-16 units) without splitting an ``&amp;``-style entity."""
    if _slack_len(text) <= limit:
        return text
    budget = max(0, limit - _slack_len(marker))
    used = 0
    end = 0
    for end, ch in enumerate(text):  # noqa: B007 - end is used after the loop
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > budget:
            break
        used += width
    cut = text[:end]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + marker


def _safe(text: str) -> str:
    """A single-line, user-controlled value, safe inside mrkdwn."""
    return escape_mrkdwn(_visible(text))


def _code(text: str, limit: int = 600) -> str:
    """Inline code span holding a user-controlled single-line value."""
    return "`" + _truncate(_safe(text).replace("`", "ˋ"), limit) + "`"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _truncate(text, MAX_SECTION_TEXT), "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _truncate(text, limit), "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(t) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _slack_date(ts: float) -> str:
    """Rendered in each reader's own time zone; the fallback is UTC."""
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{_iso(ts)}>"


def relative(ts: float, now: float) -> str:
    """``in 14 min`` / ``3 h ago``: how far ``ts`` is from ``now``, to the minute."""
    delta = round(ts - now)
    minutes = abs(delta) // 60
    if minutes == 0:
        text = "less than a minute"
    elif minutes < 120:
        text = f"{minutes} min"
    else:
        text = f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"
    return f"in {text}" if delta >= 0 else f"{text} ago"


def _expiry_text(expires_at: float, now: float) -> str:
    return f"*Expires:* {_iso(expires_at)} ({relative(expires_at, now)}; {_slack_date(expires_at)} your time)"


def _resources_text(resources: Sequence[str]) -> str:
    head = f"*Resources ({len(resources)}):*"
    if not resources:
        return head + "\n_none_"
    lines: list[str] = []
    budget = MAX_SECTION_TEXT - len(head) - 40
    for i, res in enumerate(resources):
        line = "• " + _code(res)
        if _slack_len(line) + 1 > budget:
            lines.append(f"_…and {len(resources) - i} more_")
            break
        lines.append(line)
        budget -= _slack_len(line) + 1
    return head + "\n" + "\n".join(lines)


def _parameters_text(parameters_json: str) -> str:
    head = "*Parameters (sanitised):*\n"
    body = escape_mrkdwn(_visible(parameters_json, multiline=True)).replace("`", "ˋ")
    marker = f"\n… (truncated; {len(parameters_json)} chars in total)"
    budget = MAX_SECTION_TEXT - _slack_len(head) - 8  # two ``` fences and newlines
    if _slack_len(body) > budget:
        body = _truncate(body, budget, marker)
    return f"{head}```\n{body}\n```"


def _why_text(req: ApprovalView) -> str:
    text = f"*Why flagged:* rule {_code(req.rule_id)}, reason {_code(req.reason)}"
    if req.trigger:
        text += f"\n*Matched:* {_code(req.trigger, 1200)}"
    return text


def _details(req: ApprovalView) -> list[dict[str, Any]]:
    who = f"*Requested by:* {_code(req.requester_email)}\n"
    if req.tool:
        who += f"*Tool:* {_code(req.tool)}\n"
    return [
        _section(f"{who}*Action:* {_code(req.action)}\n*Request ID:* {_code(req.request_id)}"),
        _section(_resources_text(req.resources)),
        _section(_parameters_text(req.parameters_json)),
        _section(_why_text(req)),
    ]


def _hash_context(req: ApprovalView) -> dict[str, Any]:
    return _context(f"Request hash `{req.request_hash[:12]}`", f"Full hash: `{req.request_hash}`")


def _button_value(req: ApprovalView) -> str:
    return json.dumps(
        {"request_id": req.request_id, "request_hash": req.request_hash},
        separators=(",", ":"),
        sort_keys=True,
    )


def _fallback(prefix: str, req: ApprovalView) -> str:
    text = f"{prefix}: {_safe(req.action)} requested by {_safe(req.requester_email)} (request {req.request_id})"
    return _truncate(text, MAX_FALLBACK_TEXT)


def _message(req: ApprovalView, text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    if len(blocks) > MAX_BLOCKS:  # cannot happen with the layout above; kept as a hard guarantee
        blocks = blocks[:MAX_BLOCKS]
    return {
        "channel": req.channel,
        "text": text,
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
        "link_names": False,
        "parse": "none",
    }


def build_approval_message(req: ApprovalView, now: float | None = None) -> dict[str, Any]:
    """Block Kit arguments for ``chat.postMessage`` asking an approver to Approve or Deny ``req``. The expiry
    is shown in UTC, relative to ``now`` (default: the current time) and in each reader's own time zone."""
    now = time.time() if now is None else now
    value = _button_value(req)
    confirm_text = (
        f"Run {_code(req.action, 100)} for {_code(req.requester_email, 100)}? Request hash `{req.request_hash[:12]}`."
    )
    actions = {
        "type": "actions",
        "block_id": f"approval:{req.request_id}",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": _plain("Approve", 75),
                "style": "primary",
                "value": value,
                "confirm": {
                    "title": _plain("Approve this AWS action?", MAX_CONFIRM_TITLE),
                    "text": {
                        "type": "mrkdwn",
                        "text": _truncate(confirm_text, MAX_CONFIRM_TEXT),
                        "verbatim": True,
                    },
                    "confirm": _plain("Approve", 30),
                    "deny": _plain("Cancel", 30),
                    "style": "primary",
                },
            },
            {
                "type": "button",
                "action_id": "deny",
                "text": _plain("Deny", 75),
                "style": "danger",
                "value": value,
            },
        ],
    }
    blocks = [
        {"type": "header", "text": _plain("AWS action needs approval", MAX_HEADER_TEXT)},
        *_details(req),
        _section(_expiry_text(req.expires_at, now)),
        _hash_context(req),
        actions,
    ]
    return _message(req, _fallback("Approval needed", req), blocks)


_DECISION_LABEL = {
    "approved": ":white_check_mark: Approved",
    "denied": ":no_entry: Denied",
    "expired": ":hourglass: Expired",
    "cancelled": ":heavy_multiplication_x: Cancelled",
}

Final = Literal["approved", "denied", "expired", "cancelled"]


def build_decided_message(
    req: ApprovalView,
    decision: Final,
    decided_by: str,
    decided_at: float,
) -> dict[str, Any]:
    """Block Kit arguments for ``chat.update`` once decided (or cancelled by the requester, or expired): no
    buttons; who decided and when, in UTC and in each reader's time zone.

    The caller adds ``ts`` (the original message's timestamp).
    """
    label = _DECISION_LABEL[decision]
    status = f"*{label}* by {_code(decided_by, 256)} at {_iso(decided_at)} ({_slack_date(decided_at)} your time)"
    blocks = [
        {"type": "header", "text": _plain(f"AWS action {decision}", MAX_HEADER_TEXT)},
        _section(status),
        *_details(req),
        _hash_context(req),
    ]
    return _message(req, _fallback(label.split(" ", 1)[1], req), blocks)
