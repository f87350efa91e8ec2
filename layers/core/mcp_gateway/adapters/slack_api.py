"""Slack Web API (chat.postMessage, chat.update) over HTTPS with urllib: bounded in time and size.

The base URL is configuration (``SLACK_API_BASE_URL``): ``https://slack.com/api`` when deployed, the local
Slack stand-in on loopback in local mode. Plain HTTP is refused except to loopback. The bot token is read
from Secrets Manager by the caller and passed per call; it never appears in logs or errors.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..domain.errors import GatewayError, ReasonCode

TIMEOUT_SECONDS = 3.0
MAX_RESPONSE_BYTES = 1_048_576


class SlackApiError(GatewayError):
    """Slack refused or could not be reached. ``slack_error`` is Slack's own short error string."""

    code = ReasonCode.WORKFLOW_ERROR

    def __init__(self, slack_error: str) -> None:
        super().__init__(f"Slack API call failed: {slack_error[:64]}")
        self.slack_error = slack_error[:64]


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError("Slack API base URL must be https")
    return url.rstrip("/")


class SlackApi:
    def __init__(self, base_url: str, token: Callable[[], str], timeout: float = TIMEOUT_SECONDS) -> None:
        self.base_url = check_base_url(base_url)
        self.token = token
        self.timeout = timeout

    def call(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(arguments, separators=(",", ":")).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            f"{self.base_url}/{method}",
            data=body,
            headers={
                "content-type": "application/json; charset=utf-8",
                "authorization": f"Bearer {self.token()}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310 - scheme checked
                raw = resp.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SlackApiError(f"http_{exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError):
            raise SlackApiError("unreachable") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise SlackApiError("response_too_large")
        try:
            data = json.loads(raw)
        except ValueError:
            raise SlackApiError("invalid_json") from None
        if not isinstance(data, dict) or data.get("ok") is not True:
            error = data.get("error") if isinstance(data, dict) else None
            raise SlackApiError(str(error or "not_ok"))
        return data

    def post_message(self, message: dict[str, Any]) -> tuple[str, str]:
        """chat.postMessage; returns (channel id, message ts) for a later chat.update."""
        data = self.call("chat.postMessage", message)
        return str(data.get("channel", "")), str(data.get("ts", ""))

    def update_message(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        self.call("chat.update", {**message, "channel": channel, "ts": ts})
