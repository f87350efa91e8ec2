"""Metrics are flushed per invocation (issue 18): one EMF blob per invocation with that invocation's values only,
nothing kept (and nothing printed) when metrics are disabled, no values shared between concurrent invocations."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from mcp_gateway.observability import metrics


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> int:
    for _ in range(int(event.get("count", 1))):
        metrics.add_metric(name=str(event.get("name", "Calls")), unit=MetricUnit.Count, value=1)
    if "wait" in event:
        event["wait"].wait(timeout=10)
    return 0


def blobs(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_each_invocation_prints_one_blob_with_only_its_own_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    capsys.readouterr()
    for _ in range(3):
        handler({"count": 2}, None)
    printed = blobs(capsys.readouterr().out)
    assert len(printed) == 3
    assert all(blob["Calls"] == [1.0, 1.0] or blob["Calls"] == 2.0 for blob in printed)


def test_with_metrics_disabled_nothing_piles_up_and_nothing_is_printed_at_a_hundred_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()
    for _ in range(150):
        handler({"count": 1}, None)
        assert metrics.provider.metric_set == {}, "an invocation leaves nothing for the next one"
    assert blobs(capsys.readouterr().out) == []


def test_concurrent_invocations_do_not_share_metric_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    capsys.readouterr()
    release = threading.Event()
    slow = threading.Thread(target=handler, args=({"name": "Slow", "wait": release}, None))
    slow.start()
    handler({"name": "Fast", "count": 1}, None)  # flushes while the slow invocation holds a value
    release.set()
    slow.join(timeout=10)
    printed = blobs(capsys.readouterr().out)
    assert len(printed) == 2
    fast, late = printed
    assert "Fast" in fast and "Slow" not in fast
    assert "Slow" in late and "Fast" not in late
