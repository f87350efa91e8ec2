"""The local Slack stand-in's approvals page (printed by `make run`): for a pending request it shows what the Slack
message shows (requester, tool, action, resources, redacted parameters, rule, matched phrase, expiry in UTC and
relative, state), read back from the approvals table through the same ApprovalView, and every value is
HTML-escaped: an agent's `<script>` is text on the page, never markup."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from approval_support import APPROVER_EMAIL, FLAGGING_INTENT, WorkflowObserver, approval_item, observing
from conftest import unique_email
from mcp_gateway_local import cli

pytestmark = pytest.mark.e2e

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def observer(stack: Any) -> Iterator[WorkflowObserver]:
    with observing(stack) as obs:
        yield obs


async def flagged_request(session_factory: Any, observer: WorkflowObserver, key: str) -> tuple[str, str]:
    requester = session_factory(unique_email("judy"))
    async with requester.client() as client:
        result = await client.call_tool(
            "get_object", {"bucket": "acme-app-logs", "key": key, "intent": FLAGGING_INTENT}
        )
    answer = result.structured_content or json.loads(result.content[0].text)
    assert answer["status"] == "pending"
    rid = str(answer["request_id"])
    observer.wait_notified(rid)
    return rid, requester.email


def page(stack: Any, rid: str | None = None) -> httpx.Response:
    url = f"{stack.info.slack_url}/approvals" + (f"/{rid}" if rid else "")
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response


async def test_the_approvals_page_shows_a_pending_request_as_the_slack_message_does(
    stack: Any, session_factory: Any, observer: WorkflowObserver
) -> None:
    started = time.time()
    rid, requester = await flagged_request(session_factory, observer, "README.txt")
    item = approval_item(stack, rid)
    text = page(stack, rid).text
    assert f"<code>{rid}</code>" in text
    assert '<dd class="state">pending</dd>' in text
    assert f"<code>{html.escape(requester)}</code>" in text
    assert "<code>get_object</code>" in text and "<code>s3:GetObject</code>" in text
    assert "Resources (1)" in text and "<code>arn:aws:s3:::acme-app-logs/README.txt</code>" in text
    assert f"<pre>{html.escape(item['parameters_json']['S'])}</pre>" in text
    assert f"<code>{html.escape(item['rule_id']['S'])}</code>" in text
    assert f"reason <code>{html.escape(item['reason']['S'])}</code>" in text
    assert f"<code>{html.escape(item['trigger']['S'])}</code>" in text and item["trigger"]["S"] not in ("", "-")
    expires = int(item["approval_expires_at"]["N"])
    assert expires >= started + 60
    assert f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(expires))} (in " in text
    assert rid in page(stack).text  # the listing holds it too

    assert cli.main(["--state-dir", str(stack.state_dir), "approve", rid, "--as", APPROVER_EMAIL]) == 0
    observer.wait_finished(rid)
    decided = page(stack, rid).text
    assert '<dd class="state">approved</dd>' in decided
    assert f"<dt>Decided by</dt><dd>{html.escape(APPROVER_EMAIL)} at " in decided


async def test_a_script_tag_in_an_agents_value_is_escaped_on_the_approvals_page(
    stack: Any, session_factory: Any, observer: WorkflowObserver
) -> None:
    rid, _ = await flagged_request(session_factory, observer, f"notes/{SCRIPT}.txt")
    response = page(stack, rid)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    text = response.text
    assert "<script" not in text.lower()
    assert html.escape(f"arn:aws:s3:::acme-app-logs/notes/{SCRIPT}.txt") in text
    assert "<script" not in page(stack).text.lower()


def test_make_run_puts_the_local_slack_on_port_8083_unless_slack_port_says_otherwise(stack: Any) -> None:
    from pathlib import Path

    assert cli.build_parser().parse_args(["run"]).slack_port == 8083
    assert cli.build_parser().parse_args(["run", "--slack-port", "9183"]).slack_port == 9183
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "SLACK_PORT ?= 8083" in makefile and "--slack-port $(SLACK_PORT)" in makefile
    assert stack.info.slack_url == f"http://127.0.0.1:{stack.ports['slack']}"  # tests keep a free port


def test_a_busy_slack_port_is_refused_with_the_make_variable_to_change() -> None:
    import socket

    from mcp_gateway_local.stack import PortInUseError, _check_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(PortInUseError) as caught:
            _check_port("127.0.0.1", busy.getsockname()[1], "slack server")
    assert "SLACK_PORT" in str(caught.value)
