"""The caller's W3C ``traceparent``: validated and bounded (domain/tracing.py), carried in the request the workflow
receives (gateway/requests.py, the contracts), and appended to every log line of a function's invocation and, on
AWS, to its X-Ray subsegment (observability.step)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from mcp_gateway import observability
from mcp_gateway.domain.contracts import ExecuteInput, ValidatedRequest
from mcp_gateway.domain.models import CallContext, Principal
from mcp_gateway.domain.tracing import parse_traceparent, trace_id, traceparent_of
from mcp_gateway.gateway.requests import build_request
from pydantic import ValidationError

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
PRINCIPAL = Principal(sub="alice", email="alice@example.com", groups=("developers",), token_id="t", expires_at=0)


@pytest.mark.parametrize(
    "value",
    [
        TRACE,
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ],
)
def test_a_well_formed_traceparent_is_kept_as_it_is(value: str) -> None:
    assert parse_traceparent(value) == value


def test_a_later_versions_extra_fields_are_dropped_to_the_55_characters_of_version_00() -> None:
    assert parse_traceparent(TRACE.replace("00-", "02-", 1) + "-extra") == TRACE.replace("00-", "02-", 1)


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        42,
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper case
        TRACE + "-extra",  # version 00 has exactly four fields
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nforged: line",
        "x" * 10_000,
    ],
)
def test_anything_else_is_no_trace_at_all(value: Any) -> None:
    assert parse_traceparent(value) == ""


def test_the_requests_meta_wins_over_the_http_header_and_an_invalid_one_falls_back_to_it() -> None:
    assert traceparent_of({"traceparent": TRACE}, OTHER) == TRACE
    assert traceparent_of({"traceparent": "garbage"}, OTHER) == OTHER
    assert traceparent_of(None, "garbage") == ""
    assert trace_id(TRACE) == "4bf92f3577b34da6a3ce929d0e0e4736"


def _request(meta: dict[str, Any] | None, header: str = "") -> Any:
    return build_request(
        "list_buckets",
        {"intent": "look at the buckets"},
        PRINCIPAL,
        region="us-east-1",
        account="123456789012",
        now=1_750_000_000.0,
        meta=meta,
        context=CallContext(source_ip="10.0.0.1", traceparent=header),
    )


def test_the_built_request_carries_the_meta_traceparent_into_the_workflow_contract() -> None:
    request = _request({"traceparent": TRACE}, header=OTHER)
    dumped = request.model_dump(mode="json")
    assert dumped["context"]["traceparent"] == TRACE
    validated = ValidatedRequest.model_validate({k: v for k, v in dumped.items() if k != "intent"})
    assert validated.context.traceparent == TRACE
    assert ExecuteInput.model_validate(
        {
            "request": validated.model_dump(mode="json"),
            "limits": {"max_object_bytes": 1, "max_result_bytes": 1, "see_pii": False},
        }
    ).request.context.model_dump()["traceparent"] == (TRACE)


def test_a_request_without_a_trace_travels_exactly_as_before() -> None:
    dumped = _request({"traceparent": "not-a-trace"}).model_dump(mode="json")
    assert dumped["context"] == {"source_ip": "10.0.0.1", "user_agent": ""}
    validated = ValidatedRequest.model_validate({k: v for k, v in dumped.items() if k != "intent"})
    assert validated.model_dump(mode="json")["context"] == {"source_ip": "10.0.0.1", "user_agent": ""}


def test_the_contract_refuses_a_traceparent_that_is_not_w3c() -> None:
    with pytest.raises(ValidationError):
        CallContext(traceparent="00-abc")


@contextmanager
def _captured() -> Iterator[io.StringIO]:
    pt_logger = logging.getLogger(observability.logger.name)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(pt_logger.handlers[0].formatter)
    pt_logger.addHandler(handler)
    try:
        yield out
    finally:
        pt_logger.removeHandler(handler)


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_a_step_appends_the_trace_and_request_id_to_every_line_of_its_invocation_only() -> None:
    @observability.step("validate")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        observability.logger.info("inside")
        return {"ok": True}

    event = {"request": {"request_id": "req-abc12345", "context": {"traceparent": TRACE}}}
    with _captured() as out:
        assert handler(event, None) == {"ok": True}
        observability.logger.info("after")
    inside, done, after = _lines(out)
    for line in (inside, done):
        assert (line["traceparent"], line["request_id"], line["step"]) == (TRACE, "req-abc12345", "validate")
    assert done["message"] == "validate done"
    assert "traceparent" not in after and "step" not in after


def test_a_forged_trace_in_the_event_is_not_logged() -> None:
    @observability.step("audit")
    def handler(event: dict[str, Any], context: Any) -> None:
        return None

    with _captured() as out:
        handler({"request": {"request_id": "req-abc12345", "context": {"traceparent": "00-x\nforged"}}}, None)
    (done,) = _lines(out)
    assert "traceparent" not in done and done["request_id"] == "req-abc12345"


class _Subsegment:
    def __init__(self) -> None:
        self.annotations: dict[str, str] = {}

    def put_annotation(self, key: str, value: str) -> None:
        self.annotations[key] = value


class _Provider:
    def __init__(self) -> None:
        self.opened: list[tuple[str, _Subsegment]] = []

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[_Subsegment]:
        sub = _Subsegment()
        self.opened.append((name, sub))
        yield sub


class _Tracer:
    def __init__(self) -> None:
        self.provider = _Provider()


def test_on_aws_the_step_runs_in_an_xray_subsegment_annotated_with_the_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = _Tracer()
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setattr(observability, "_tracer", tracer)

    @observability.step("execute")
    def handler(event: dict[str, Any], context: Any) -> str:
        return "ran"

    assert handler({"request": {"request_id": "req-abc12345", "context": {"traceparent": TRACE}}}, None) == "ran"
    ((name, sub),) = tracer.provider.opened
    assert name == "## execute"
    assert sub.annotations == {
        "request_id": "req-abc12345",
        "traceparent": TRACE,
        "w3c_trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }


def test_locally_no_xray_code_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    monkeypatch.setattr(observability, "_tracer", _Tracer())
    assert observability._xray() is None
