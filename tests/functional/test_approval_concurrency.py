"""50 concurrent duplicate approve callbacks for one request cause exactly one execution."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from approval_support import approval_item, audit_items, callback_audit, click, flag_request, observing, send
from conftest import unique_email
from mcp_gateway_local import slack_standin as slack

CLICKS = 50


def test_fifty_concurrent_duplicate_approve_callbacks_cause_exactly_one_execution(stack: Any) -> None:
    with observing(stack) as observer:
        answer = flag_request(stack, unique_email("burst"))
        rid = str(answer["request_id"])
        observer.wait_notified(rid)
        # 50 distinct, validly signed clicks (as from a double-clicking approver and a flaky network): each
        # passes signature and replay checks, so they all race to the one conditional write.
        bodies = [click(stack, rid) for _ in range(CLICKS)]
        signed = [(b, slack.signed_callback(b, stack.info.slack_signing_secret)) for b in bodies]
        assert len({h["X-Slack-Signature"] for _, h in signed}) == CLICKS
        gate = threading.Barrier(CLICKS)

        def fire(i: int) -> tuple[int, dict[str, Any], str]:
            body, headers = signed[i]
            gate.wait(timeout=30)
            return send(stack, body, headers=headers)

        with ThreadPoolExecutor(max_workers=CLICKS) as pool:
            results = list(pool.map(fire, range(CLICKS)))

        outcomes = Counter(
            "accepted" if answer.get("ok") else str(answer.get("reason")) for status, answer, _ in results
        )
        assert all(status == 200 for status, _, _ in results)
        assert outcomes == Counter({"accepted": 1, "ALREADY_DECIDED": CLICKS - 1})

        final = observer.wait_finished(rid)
        assert final["status"] == "ok"
        assert observer.executed[rid] == 1
        assert approval_item(stack, rid)["status"]["S"] == "APPROVED"
        assert audit_items(stack, rid)["outcome#approval"]["status"] == "ok"
        # Every one of the 50 callbacks left exactly one audit record.
        records = [r for _, _, marker in results for r in callback_audit(stack, marker)]
        assert len(records) == CLICKS
        assert Counter(r["reason"] for r in records) == Counter({"ALLOWED": 1, "ALREADY_DECIDED": CLICKS - 1})
