"""The bench's decision-pipeline stage (issue 21): distinct requests, both targets judged with their spreads."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.__main__ import PIPELINE_TARGETS_MS, _pipeline_arguments, markdown


def _summary(p50: float, p99: float) -> dict[str, Any]:
    return {
        "p50_ms": p50,
        "p50_spread_ms": [p50 * 0.9, p50 * 1.1],
        "p99_ms": p99,
        "p99_spread_ms": [p99 * 0.9, p99 * 1.2],
        "repeats": 3,
        "samples_per_repeat": 10,
    }


def _entry(total_p99: float, target: float) -> dict[str, Any]:
    stages = {"token_check": _summary(0.1, 0.2), "policy_and_detection": _summary(0.5, 0.7)}
    stages["redact_audit_copy"] = _summary(0.2, 0.3)
    return {"stages": stages, "total": _summary(0.8, total_p99), "target_met": total_p99 < target}


def test_every_sample_is_a_different_request_of_about_the_stated_size() -> None:
    rng = random.Random(1)
    small = [_pipeline_arguments(rng, 1024) for _ in range(50)]
    large = [_pipeline_arguments(rng, 65_536) for _ in range(5)]
    assert {tool for tool, _ in small} == {"filter_log_events"}
    assert {tool for tool, _ in large} == {"put_object"}
    assert len({args["intent"] for _, args in small}) == 50
    assert len({args["filter_pattern"] for _, args in small}) == 50
    assert len({args["text"] for _, args in large}) == 5
    assert all(1020 <= len(args["intent"]) + len(args["filter_pattern"]) <= 1024 for _, args in small)
    assert all(len(args["text"]) == 65_536 for _, args in large)


def test_the_report_judges_both_targets_with_their_spreads() -> None:
    report = {
        "environment": {"when": "now", "machine": "x86_64", "cpus": 2, "python": "3.13", "stages": ["pipeline"]},
        "pipeline": {
            "1KB": _entry(0.9, PIPELINE_TARGETS_MS["1KB"]),
            "64KB": _entry(25.0, PIPELINE_TARGETS_MS["64KB"]),
            "64KB_with_ids": {"policy_and_detection": _summary(900.0, 1200.0), "note": "-"},
        },
    }
    text = markdown(report)
    assert "p99 < 1 ms: met" in text
    assert "p99 < 20 ms: MISSED" in text
    assert "p99 / 20 ms = 1.25" in text
    assert "p99 [22.5, 30.0]" in text  # the 64 KB total's spread
    assert "notes quoting hex ids" in text
    assert "Decision pipeline at 64 KB: p99 25.0 ms (repeats 22.5..30.0), target < 20 ms: **missed by 1.25x**" in text
