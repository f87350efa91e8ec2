"""Block Kit approval messages: content, injection resistance, Slack limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from mcp_gateway.domain.slack import (
    MAX_BLOCKS,
    MAX_SECTION_TEXT,
    ApprovalView,
    build_approval_message,
    build_decided_message,
    escape_mrkdwn,
)

REQUEST_HASH = "0123456789abcdef" * 4
EXPIRES_AT = 1_700_000_900.0


def _view(**overrides: Any) -> ApprovalView:
    fields: dict[str, Any] = {
        "request_id": "req_0123456789abcdef",
        "request_hash": REQUEST_HASH,
        "requester_email": "dev@example.com",
        "action": "s3:DeleteObject",
        "resources": ("arn:aws:s3:::prod-logs/2024/01/app.log",),
        "parameters_json": json.dumps({"Bucket": "prod-logs", "Key": "2024/01/app.log"}),
        "rule_id": "review.s3-write",
        "reason": "REVIEW_REQUIRED",
        "expires_at": EXPIRES_AT,
        "channel": "C0APPROVAL",
    }
    fields.update(overrides)
    return ApprovalView(**fields)


def _texts(node: Any) -> Iterator[str]:
    """Every ``text`` string of every text object in a message, recursively."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _mrkdwn_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node
        for value in node.values():
            yield from _mrkdwn_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn_objects(item)


def _all_text(message: dict[str, Any]) -> str:
    return "\n".join([message["text"], *_texts(message["blocks"])])


def _buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions["elements"]}


# Slack's control sequences, after our escaping, may only appear where *we* put them: <!date^...>.
_CONTROL = re.compile(r"<(?!!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>|]+>)")


def _assert_no_injected_controls(message: dict[str, Any]) -> None:
    for text in [message["text"], *_texts(message["blocks"])]:
        assert not _CONTROL.search(text), text


def test_the_approval_message_shows_who_what_why_and_until_when() -> None:
    message = build_approval_message(_view())
    text = _all_text(message)
    assert message["channel"] == "C0APPROVAL"
    assert message["blocks"][0]["type"] == "header"
    for expected in (
        "dev@example.com",
        "s3:DeleteObject",
        "arn:aws:s3:::prod-logs/2024/01/app.log",
        "prod-logs",
        "review.s3-write",
        "REVIEW_REQUIRED",
        REQUEST_HASH,
        REQUEST_HASH[:12],
        f"<!date^{int(EXPIRES_AT)}^",
        "2023-11-14 22:28 UTC",
    ):
        assert expected in text, expected
    assert "s3:DeleteObject" in message["text"] and "dev@example.com" in message["text"]


def test_the_approval_message_has_approve_and_deny_buttons_bound_to_the_request() -> None:
    buttons = _buttons(build_approval_message(_view()))
    assert set(buttons) == {"approve", "deny"}
    assert buttons["approve"]["style"] == "primary"
    assert buttons["deny"]["style"] == "danger"
    for button in buttons.values():
        assert json.loads(button["value"]) == {
            "request_id": "req_0123456789abcdef",
            "request_hash": REQUEST_HASH,
        }
    confirm = buttons["approve"]["confirm"]
    assert {"title", "text", "confirm", "deny"} <= set(confirm)
    assert len(confirm["title"]["text"]) <= 100 and len(confirm["text"]["text"]) <= 300
    assert "confirm" not in buttons["deny"]


def test_links_previews_and_automatic_parsing_are_switched_off() -> None:
    message = build_approval_message(_view())
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert all(obj.get("verbatim") is True for obj in _mrkdwn_objects(message["blocks"]))


INJECTIONS = [
    "<!channel>",
    "<!here|here>",
    "<@U0ADMIN>",
    "<#C0SECRET>",
    "<!subteam^S0SEC>",
    "<https://evil.example|Click to approve>",
    "&lt;!channel&gt;",
    "a > b & c < d",
]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("field", ["action", "resources", "parameters_json", "rule_id", "reason"])
def test_user_controlled_strings_cannot_inject_mentions_or_links(field: str, payload: str) -> None:
    value: Any = (payload,) if field == "resources" else payload
    message = build_approval_message(_view(**{field: value}))
    _assert_no_injected_controls(message)
    assert escape_mrkdwn(payload) in _all_text(message)


def test_an_email_cannot_inject_mentions_or_links() -> None:
    message = build_approval_message(_view(requester_email="<!channel>@<https://evil|x>"))
    _assert_no_injected_controls(message)


def test_escaping_handles_ampersand_first() -> None:
    assert escape_mrkdwn("<&>") == "&lt;&amp;&gt;"
    assert escape_mrkdwn("&lt;") == "&amp;lt;"


def test_newlines_backticks_and_bidi_overrides_cannot_forge_extra_lines() -> None:
    forged = "arn:aws:s3:::x`\n*Approved by security* ✅\u202egnp.exe\u200b"
    message = build_approval_message(_view(action=forged, resources=(forged,)))
    for text in _texts(message["blocks"]):
        assert "\n*Approved by security*" not in text
        assert "\u202e" not in text and "\u200b" not in text
    assert "\\u202e" in _all_text(message)


def test_parameters_cannot_close_the_code_block() -> None:
    params = json.dumps({"q": "```\n*Approved* <!channel>\n```"})
    message = build_approval_message(_view(parameters_json=params))
    (section,) = [t for t in _texts(message["blocks"]) if t.startswith("*Parameters")]
    assert section.count("```") == 2


def test_huge_parameters_and_many_resources_respect_slack_limits() -> None:
    view = _view(
        parameters_json=json.dumps({"k": "<&>" * 50_000, "emoji": "😀" * 5_000}),
        resources=tuple(f"arn:aws:s3:::bucket/{'&' * 300}{i}" for i in range(100)),
        action="s3:" + "A" * 250,
        rule_id="r" * 256,
        reason="<" * 256,
    )
    for message in (
        build_approval_message(view),
        build_decided_message(view, "approved", "<@U1>" * 60, 1_700_000_100.0),
    ):
        assert len(message["blocks"]) <= MAX_BLOCKS
        for block in message["blocks"]:
            if block["type"] == "section":
                assert len(block["text"]["text"].encode("utf-16-le")) // 2 <= MAX_SECTION_TEXT
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= 150
            if block["type"] == "context":
                assert len(block["elements"]) <= 10
        for text in _texts(message["blocks"]):
            # Truncation never leaves half an entity such as "&am" behind.
            assert not re.search(r"&(?!amp;|lt;|gt;)", text)
        _assert_no_injected_controls(message)
    text = _all_text(build_approval_message(view))
    assert "truncated" in text and "more_" in text


def test_the_decided_message_has_no_buttons_and_says_who_and_when() -> None:
    message = build_decided_message(_view(), "approved", "alice", 1_700_000_100.0)
    assert all(block["type"] != "actions" for block in message["blocks"])
    text = _all_text(message)
    assert "alice" in text and "<!date^1700000100^" in text and "Approved" in text
    assert REQUEST_HASH in text and "s3:DeleteObject" in text
    assert message["channel"] == "C0APPROVAL"


@pytest.mark.parametrize("decision", ["approved", "denied", "expired"])
def test_every_decision_renders_without_actions(decision: Any) -> None:
    message = build_decided_message(_view(), decision, "<!channel>", 1_700_000_100.0)
    assert all(block["type"] != "actions" for block in message["blocks"])
    _assert_no_injected_controls(message)


def test_the_view_rejects_unknown_fields_and_bad_hashes() -> None:
    with pytest.raises(ValueError):
        _view(extra="x")
    with pytest.raises(ValueError):
        _view(request_hash="ZZ")


# --- every state of one request, field by field (issue 16) ------------------------------------------------------

STATE_VIEW = {"trigger": 'matched "delete" (review.destructive-verbs) in intent', "tool": "get_object"}
NOW = EXPIRES_AT - 840  # 14 minutes before expiry


def _sections(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


def _assert_details(message: dict[str, Any]) -> None:
    sections = _sections(message)
    who = next(s for s in sections if s.startswith("*Requested by:*"))
    assert who == (
        "*Requested by:* `dev@example.com`\n*Tool:* `get_object`\n*Action:* `s3:DeleteObject`\n"
        "*Request ID:* `req_0123456789abcdef`"
    )
    assert "*Resources (1):*\n• `arn:aws:s3:::prod-logs/2024/01/app.log`" in sections
    params = next(s for s in sections if s.startswith("*Parameters (sanitised):*"))
    assert json.loads(params.split("```\n", 1)[1].rsplit("\n```", 1)[0]) == {
        "Bucket": "prod-logs",
        "Key": "2024/01/app.log",
    }
    assert (
        "*Why flagged:* rule `review.s3-write`, reason `REVIEW_REQUIRED`\n"
        '*Matched:* `matched "delete" (review.destructive-verbs) in intent`'
    ) in sections
    assert message["channel"] == "C0APPROVAL"
    assert (message["unfurl_links"], message["unfurl_media"], message["parse"]) == (False, False, "none")


def test_the_pending_message_shows_every_field_and_the_expiry_in_utc_and_relative() -> None:
    message = build_approval_message(_view(**STATE_VIEW), NOW)
    assert message["blocks"][0]["text"]["text"] == "AWS action needs approval"
    _assert_details(message)
    expiry = next(s for s in _sections(message) if s.startswith("*Expires:*"))
    assert expiry.startswith("*Expires:* 2023-11-14 22:28 UTC (in 14 min; <!date^1700000900^")
    assert set(_buttons(message)) == {"approve", "deny"}
    assert message["text"].startswith("Approval needed: s3:DeleteObject requested by dev@example.com")


@pytest.mark.parametrize(
    ("state", "label"),
    [
        ("approved", ":white_check_mark: Approved"),
        ("denied", ":no_entry: Denied"),
        ("cancelled", ":heavy_multiplication_x: Cancelled"),
        ("expired", ":hourglass: Expired"),
    ],
)
def test_a_decided_message_is_updated_in_place_with_its_state_who_and_when(state: Any, label: str) -> None:
    message = build_decided_message(_view(**STATE_VIEW), state, "carol@example.com", EXPIRES_AT - 60)
    assert message["blocks"][0]["text"]["text"] == f"AWS action {state}"
    status = _sections(message)[0]
    assert status.startswith(f"*{label}* by `carol@example.com` at 2023-11-14 22:27 UTC (<!date^1700000840^")
    _assert_details(message)
    assert [b for b in message["blocks"] if b["type"] == "actions"] == []
    assert message["text"].startswith(f"{label.split(' ', 1)[1]}: s3:DeleteObject requested by dev@example.com")
