"""Large results come back in pages that each fit the Step Functions payload limit (256 KB), and the pages
reassemble to exactly the original: a 5 MiB object byte for byte, and a log search matching 50,000 events
with every event id exactly once."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from conftest import unique_email
from mcp_gateway_local import demo_data

pytestmark = pytest.mark.e2e

PAYLOAD_LIMIT = 256 * 1024


def page(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    body = result.structured_content
    assert body is not None and body["status"] == "ok", body
    assert len(json.dumps(body).encode()) < PAYLOAD_LIMIT
    return body  # type: ignore[no-any-return]


async def test_a_5_mib_object_comes_back_in_pages_under_the_payload_limit_and_reassembles_byte_for_byte(
    stack: Any, session_factory: Any
) -> None:
    bucket, key = demo_data.LARGE_OBJECT
    expected = demo_data.large_object_body()
    texts: list[str] = []
    offsets: list[int] = []
    async with session_factory(unique_email("bigreader")).client() as client:
        head = page(await client.call_tool("head_object", {"bucket": bucket, "key": key}))
        assert head["result"]["size"] == len(expected) == demo_data.LARGE_OBJECT_BYTES
        offset = 0
        while True:
            body = page(
                await client.call_tool(
                    "get_object", {"bucket": bucket, "key": key, "offset": offset, "max_bytes": 262_144}
                )
            )
            result = body["result"]
            assert result["offset"] == offset and result["binary"] is False
            assert body["redactions"] == {}
            offsets.append(offset)
            texts.append(result["text"])
            if not body["truncated"]:
                assert "continuation" not in body
                break
            assert body["continuation"]["offset"] == offset + result["length"]
            assert body["continuation"]["remaining_bytes"] == len(expected) - body["continuation"]["offset"]
            offset = body["continuation"]["offset"]
            assert len(offsets) < 60
    assert len(offsets) > 5, "a 5 MiB object cannot fit one page"
    assert "".join(texts).encode("utf-8") == expected


async def test_a_log_search_matching_50000_events_pages_through_every_event_exactly_once(
    stack: Any, session_factory: Any
) -> None:
    demo_data.seed_bulk_logs(stack.client)
    now = dt.datetime.now(dt.UTC)
    args = {
        "log_group": demo_data.BULK_LOG_GROUP,
        "filter_pattern": "ERROR",
        "start_time": (now - dt.timedelta(hours=1)).isoformat(),
        "end_time": (now + dt.timedelta(minutes=5)).isoformat(),
        "limit": 1000,
    }
    ids: list[str] = []
    seqs: list[str] = []
    pages = 0
    async with session_factory(unique_email("bulkreader")).client() as client:
        token = None
        while True:
            body = page(
                await client.call_tool("filter_log_events", {**args, **({"page_token": token} if token else {})})
            )
            pages += 1
            assert body["truncated"] is False
            events = body["result"]["events"]
            ids.extend(e["event_id"] for e in events)
            seqs.extend(e["message"].split("seq=")[1].split()[0] for e in events)
            assert all(e["message"].startswith("ERROR") for e in events)
            token = body["result"]["page_token"]
            if not token:
                break
            assert body["continuation"] == {"page_token": token}
            assert pages < 80
    assert len(ids) == demo_data.BULK_MATCHING
    assert len(set(ids)) == demo_data.BULK_MATCHING, "no event twice"
    assert len(set(seqs)) == demo_data.BULK_MATCHING, "no event lost"
    assert pages >= demo_data.BULK_MATCHING // 1000
