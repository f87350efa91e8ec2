"""Slack callback verification (signature, timestamp, headers) and interaction payload parsing."""

from __future__ import annotations

import copy
import json
import urllib.parse
from typing import Any

import pytest
from mcp_gateway.domain.errors import ConfigError, ReasonCode, SignatureError
from mcp_gateway.domain.slack import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Interaction,
    parse_interaction,
    sign_slack_request,
    verify_slack_signature,
)

# Slack's published example ("Verifying requests from Slack").
SLACK_SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

SECRET = b"test-signing-secret-0123456789abcdef"
NOW = 1_700_000_000
REQUEST_ID = "req_0123456789abcdef"
REQUEST_HASH = "ab" * 32


def _code(exc: pytest.ExceptionInfo[SignatureError]) -> ReasonCode:
    return exc.value.code


def _payload(**overrides: Any) -> dict[str, Any]:
    """A realistic block_actions payload for a click on our Approve button."""
    value = json.dumps({"request_id": REQUEST_ID, "request_hash": REQUEST_HASH})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice", "name": "alice", "team_id": "T9TK3CUKW"},
        "api_app_id": "A0MDYCDME",
        "token": "9s8d9as89d8as9d8as989",
        "container": {
            "type": "message",
            "message_ts": "1548261231.000200",
            "channel_id": "C0APPROVAL",
            "is_ephemeral": False,
        },
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "team": {"id": "T9TK3CUKW", "domain": "example"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": "C0APPROVAL", "name": "aws-approvals"},
        "message": {
            "type": "message",
            "ts": "1548261231.000200",
            "text": "Approval needed",
            "blocks": [{"type": "section", "block_id": "x", "text": {"type": "mrkdwn", "text": "hi"}}],
        },
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T9TK3CUKW/1234/abcdef",
        "actions": [
            {
                "action_id": "approve",
                "block_id": f"approval:{REQUEST_ID}",
                "text": {"type": "plain_text", "text": "Approve", "emoji": True},
                "value": value,
                "style": "primary",
                "type": "button",
                "action_ts": "1548426417.840180",
            }
        ],
    }
    payload.update(overrides)
    return payload


def _form(payload: Any) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urllib.parse.urlencode({"payload": text}).encode("ascii")


# --------------------------------------------------------------------------------------------------
# Signature
# --------------------------------------------------------------------------------------------------


def test_slacks_published_example_verifies() -> None:
    headers = {TIMESTAMP_HEADER: str(SLACK_TS), SIGNATURE_HEADER: SLACK_SIGNATURE}
    assert verify_slack_signature(headers, SLACK_BODY, SLACK_SECRET, now=SLACK_TS + 10) == SLACK_TS


def test_signing_reproduces_slacks_published_example() -> None:
    assert sign_slack_request(SLACK_BODY, SLACK_SECRET, SLACK_TS) == {
        "X-Slack-Request-Timestamp": str(SLACK_TS),
        "X-Slack-Signature": SLACK_SIGNATURE,
    }


def test_header_names_are_matched_case_insensitively() -> None:
    headers = {k.lower(): v for k, v in sign_slack_request(b"body", SECRET, NOW).items()}
    assert verify_slack_signature(headers, b"body", SECRET, now=NOW) == NOW


@pytest.mark.parametrize("skew", [-300, 300, 0])
def test_a_timestamp_within_300_seconds_is_accepted(skew: int) -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    assert verify_slack_signature(headers, b"body", SECRET, now=NOW + skew) == NOW


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_a_timestamp_more_than_300_seconds_away_is_stale(skew: int) -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW + skew)
    assert _code(exc) is ReasonCode.SIGNATURE_STALE


def test_a_custom_tolerance_is_honoured() -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW + 61, tolerance_seconds=60)
    assert _code(exc) is ReasonCode.SIGNATURE_STALE


@pytest.mark.parametrize("index", [0, len(SLACK_BODY) // 2, len(SLACK_BODY) - 1])
def test_changing_one_body_byte_is_rejected(index: int) -> None:
    body = bytearray(SLACK_BODY)
    body[index] ^= 0x01
    headers = {TIMESTAMP_HEADER: str(SLACK_TS), SIGNATURE_HEADER: SLACK_SIGNATURE}
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, bytes(body), SLACK_SECRET, now=SLACK_TS)
    assert _code(exc) is ReasonCode.SIGNATURE_INVALID


def test_a_reserialised_body_with_the_same_payload_is_rejected() -> None:
    original = _form(_payload())
    headers = sign_slack_request(original, SECRET, NOW)
    decoded = json.loads(urllib.parse.parse_qs(original.decode())["payload"][0])
    reserialised = urllib.parse.urlencode(
        {"payload": json.dumps(decoded, sort_keys=True, separators=(",", ":"))}, quote_via=urllib.parse.quote
    ).encode()
    assert json.loads(urllib.parse.parse_qs(reserialised.decode())["payload"][0]) == decoded
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, reserialised, SECRET, now=NOW)
    assert _code(exc) is ReasonCode.SIGNATURE_INVALID


def test_the_same_body_signed_at_another_timestamp_is_rejected() -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    headers[TIMESTAMP_HEADER] = str(NOW + 1)
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.SIGNATURE_INVALID


def test_a_signature_under_another_secret_is_rejected() -> None:
    headers = sign_slack_request(b"body", b"another-secret", NOW)
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.SIGNATURE_INVALID


def test_either_secret_verifies_during_rotation() -> None:
    for secret in (b"old-secret", b"new-secret"):
        headers = sign_slack_request(b"body", secret, NOW)
        assert verify_slack_signature(headers, b"body", [b"old-secret", b"new-secret"], now=NOW) == NOW


@pytest.mark.parametrize("secret", [b"", [], [b"ok", b""]])
def test_an_empty_signing_secret_is_a_configuration_error(secret: Any) -> None:
    with pytest.raises(ConfigError):
        verify_slack_signature(sign_slack_request(b"b", b"x", NOW), b"b", secret, now=NOW)


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_missing_header_is_malformed(missing: str) -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    del headers[missing]
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.CALLBACK_MALFORMED


def test_no_headers_at_all_is_malformed() -> None:
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature({}, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.CALLBACK_MALFORMED


@pytest.mark.parametrize("header", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
@pytest.mark.parametrize("value", ["", "   ", "9" * 10_000])
def test_an_empty_or_huge_header_is_malformed(header: str, value: str) -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    headers[header] = value
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.CALLBACK_MALFORMED


def test_a_header_given_twice_under_different_spellings_is_malformed() -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    headers[SIGNATURE_HEADER.lower()] = headers[SIGNATURE_HEADER]
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.CALLBACK_MALFORMED


@pytest.mark.parametrize(
    "timestamp", ["abc", "1.7e9", "-1700000000", "1700000000.5", "0x6553f100", "99999999999999999999", "١٢٣"]
)
def test_a_timestamp_that_is_not_a_plain_integer_is_stale(timestamp: str) -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    headers[TIMESTAMP_HEADER] = timestamp
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.SIGNATURE_STALE


def test_a_stale_timestamp_is_reported_before_a_bad_signature() -> None:
    headers = {TIMESTAMP_HEADER: str(NOW - 1000), SIGNATURE_HEADER: "v0=" + "0" * 64}
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.SIGNATURE_STALE


@pytest.mark.parametrize("prefix", ["v1=", "V0=", "v0:", "", "sha256="])
def test_a_wrong_version_prefix_is_rejected(prefix: str) -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    headers[SIGNATURE_HEADER] = prefix + headers[SIGNATURE_HEADER].removeprefix("v0=")
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.SIGNATURE_INVALID


@pytest.mark.parametrize("transform", ["short", "long", "upper", "nonhex", "empty-hex"])
def test_a_signature_of_wrong_length_or_alphabet_is_rejected(transform: str) -> None:
    headers = sign_slack_request(b"body", SECRET, NOW)
    digest = headers[SIGNATURE_HEADER].removeprefix("v0=")
    bad = {
        "short": digest[:-2],
        "long": digest + "00",
        "upper": digest.upper(),
        "nonhex": "z" + digest[1:],
        "empty-hex": "",
    }[transform]
    headers[SIGNATURE_HEADER] = "v0=" + bad
    with pytest.raises(SignatureError) as exc:
        verify_slack_signature(headers, b"body", SECRET, now=NOW)
    assert _code(exc) is ReasonCode.SIGNATURE_INVALID


# --------------------------------------------------------------------------------------------------
# Interaction payload
# --------------------------------------------------------------------------------------------------


def test_a_realistic_block_actions_payload_parses() -> None:
    interaction = parse_interaction(_form(_payload()))
    assert interaction == Interaction(
        action="approve",
        request_id=REQUEST_ID,
        request_hash=REQUEST_HASH,
        slack_user_id="U024BE7LH",
        slack_user_name="alice",
        team_id="T9TK3CUKW",
        channel_id="C0APPROVAL",
        message_ts="1548261231.000200",
        response_url="https://hooks.slack.com/actions/T9TK3CUKW/1234/abcdef",
        action_ts="1548426417.840180",
    )


def test_a_deny_click_parses_as_deny() -> None:
    payload = _payload()
    payload["actions"][0].update(action_id="deny", style="danger")
    assert parse_interaction(_form(payload)).action == "deny"


def test_a_signed_body_verifies_and_then_parses() -> None:
    body = _form(_payload())
    headers = sign_slack_request(body, SECRET, NOW)
    verify_slack_signature(headers, body, SECRET, now=NOW)
    assert parse_interaction(body).request_id == REQUEST_ID


def test_a_local_response_url_is_accepted_only_when_allowed() -> None:
    body = _form(_payload(response_url="http://127.0.0.1:8765/slack/response/1"))
    with pytest.raises(SignatureError) as exc:
        parse_interaction(body)
    assert _code(exc) is ReasonCode.CALLBACK_MALFORMED
    parsed = parse_interaction(body, response_url_prefixes=("http://127.0.0.1:8765/",))
    assert parsed.response_url.startswith("http://127.0.0.1")


def _mutations() -> dict[str, bytes]:
    def with_action(**changes: Any) -> bytes:
        payload = _payload()
        payload["actions"][0].update(changes)
        return _form(payload)

    def without(*path: str) -> bytes:
        payload = _payload()
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return _form(payload)

    two_actions = _payload()
    two_actions["actions"].append(copy.deepcopy(two_actions["actions"][0]))
    return {
        "empty body": b"",
        "no payload field": b"foo=bar",
        "payload plus another field": _form(_payload()) + b"&extra=1",
        "payload twice": _form(_payload()) + b"&" + _form(_payload()),
        "payload not JSON": _form("{not json"),
        "payload a JSON list": _form("[1,2]"),
        "payload with NaN": _form('{"type": NaN}'),
        "payload with a duplicate key": _form('{"type":"block_actions","type":"view_submission"}'),
        "deeply nested JSON": _form("[" * 50_000 + "]" * 50_000),
        "not form encoded": b"\xff\xfe\x00payload",
        "wrong payload type": _form(_payload(type="view_submission")),
        "no actions": _form(_payload(actions=[])),
        "two actions": _form(two_actions),
        "wrong action_id": with_action(action_id="approve_all"),
        "not a button": with_action(type="static_select"),
        "value not JSON": with_action(value="req_0123456789abcdef"),
        "value missing hash": with_action(value=json.dumps({"request_id": REQUEST_ID})),
        "value with extra key": with_action(
            value=json.dumps({"request_id": REQUEST_ID, "request_hash": REQUEST_HASH, "x": 1})
        ),
        "value bad hash": with_action(value=json.dumps({"request_id": REQUEST_ID, "request_hash": "zz"})),
        "value bad request id": with_action(
            value=json.dumps({"request_id": "../../etc", "request_hash": REQUEST_HASH})
        ),
        "no user": without("user"),
        "bad user id": _form(_payload(user={"id": "<!channel>", "username": "x"})),
        "no team": _form(_payload(team=None, user={"id": "U024BE7LH", "username": "alice"})),
        "no container": without("container"),
        "no message_ts": without("container", "message_ts"),
        "inconsistent channel": _form(_payload(channel={"id": "C0OTHER", "name": "x"})),
        "no channel": _form(_payload(channel=None, container={"type": "message", "message_ts": "1548261231.000200"})),
        "no response_url": without("response_url"),
        "foreign response_url": _form(_payload(response_url="https://evil.example/hooks.slack.com/")),
        "bad action_ts": with_action(action_ts="yesterday"),
    }


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_a_malformed_payload_is_rejected_as_malformed(case: str) -> None:
    with pytest.raises(SignatureError) as exc:
        parse_interaction(_mutations()[case])
    assert _code(exc) is ReasonCode.CALLBACK_MALFORMED


def test_an_oversized_body_is_rejected_before_parsing() -> None:
    payload = _payload()
    payload["message"]["text"] = "x" * 600_000
    with pytest.raises(SignatureError) as exc:
        parse_interaction(_form(payload))
    assert _code(exc) is ReasonCode.CALLBACK_MALFORMED
    assert parse_interaction(_form(payload), max_bytes=1_000_000).action == "approve"
