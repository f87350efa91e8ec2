"""The tool registry (pure): bounded inputs, the one canonical AWS action per tool, result schemas; and the
shared paging helpers of the executors that decide text vs binary and where a page ends."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from conftest import ROOT
from mcp_gateway.adapters.service_model import ServiceModelError, validate_call
from mcp_gateway.domain.errors import InvalidInputError
from mcp_gateway.domain.policy import access_level_tier, data_limit_decision, parse_policy
from mcp_gateway.domain.redaction import RedactionConfig, Redactor
from mcp_gateway.gateway.mcp_server import output_schema, tool_definition
from mcp_gateway.tools import TOOLS, resolve
from mcp_gateway.tools.cloudwatch import auto_period
from mcp_gateway.tools.generic import iam_action
from mcp_gateway.tools.paging import detected_type, looks_binary
from mcp_gateway.tools.paging import fit_text as _fit_text
from mcp_gateway.tools.paging import oldest_timestamp as _oldest_timestamp
from pydantic import ValidationError

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
REGION, ACCOUNT = "us-east-1", "123456789012"


def action(tool: str, **arguments: Any) -> Any:
    return resolve(tool, arguments, REGION, ACCOUNT, NOW)[1]


@pytest.mark.parametrize(
    ("tool", "arguments", "iam", "resources"),
    [
        (
            "head_object",
            {"bucket": "acme-app-logs", "key": "a/b.log"},
            "s3:GetObject",
            ("arn:aws:s3:::acme-app-logs/a/b.log",),
        ),
        (
            "describe_log_groups",
            {},
            "logs:DescribeLogGroups",
            (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*",),
        ),
        (
            "get_log_events",
            {"log_group": "/aws/lambda/x", "log_stream": "2026/11/24/[$LATEST]ab"},
            "logs:GetLogEvents",
            (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x:log-stream:2026/11/24/[$LATEST]ab",),
        ),
        (
            "query_logs",
            {"log_groups": ["/aws/lambda/a", "/aws/lambda/b", "/aws/lambda/a"], "query": "fields @message"},
            "logs:StartQuery",
            (
                f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/a",
                f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/b",
            ),
        ),
        ("list_metrics", {"namespace": "Acme/Orders"}, "cloudwatch:ListMetrics", ("*",)),
        ("describe_alarms", {"state": "ALARM"}, "cloudwatch:DescribeAlarms", ("*",)),
    ],
)
def test_each_new_tool_maps_to_one_canonical_action_and_its_resources(
    tool: str, arguments: dict[str, Any], iam: str, resources: tuple[str, ...]
) -> None:
    spec = action(tool, **arguments)
    assert spec.action == iam
    assert spec.resources == resources


def test_every_tool_is_allowed_by_the_shipped_policy_for_a_developer_except_writes() -> None:
    policy = parse_policy((ROOT / "policy" / "gateway-policy.yaml").read_text())
    allowed = {rule.action for rule in policy.allow}
    for name in TOOLS:
        if name in {"put_object", "call_aws"}:
            continue
        sample = {
            "list_buckets": {},
            "list_objects": {"bucket": "acme-app-logs"},
            "get_object": {"bucket": "acme-app-logs", "key": "k"},
            "head_object": {"bucket": "acme-app-logs", "key": "k"},
            "filter_log_events": {"log_group": "/aws/lambda/x"},
            "get_log_events": {"log_group": "/aws/lambda/x", "log_stream": "s"},
            "query_logs": {"log_groups": ["/aws/lambda/x"], "query": "fields @message"},
            "describe_log_groups": {},
            "get_metric_data": {"namespace": "A", "metric_name": "B"},
            "list_metrics": {},
            "describe_alarms": {},
        }.get(name, TOOLS[name].example)  # a tool added later: its registered example
        spec = action(name, **sample)
        assert spec.action in allowed, name
        rule = next(r for r in policy.allow if r.action == spec.action)
        assert all(rule.covers(r) for r in spec.resources), name


def test_reads_and_log_ranges_built_by_the_tools_are_always_bounded_for_the_data_limits() -> None:
    from mcp_gateway.domain.models import ActionRequest, Principal

    policy = parse_policy((ROOT / "policy" / "gateway-policy.yaml").read_text())
    principal = Principal(
        sub="s", email="a@example.com", groups=("developers",), token_id="t", expires_at=2_000_000_000
    )
    for tool, arguments in (
        ("head_object", {"bucket": "acme-app-logs", "key": "k"}),
        ("get_log_events", {"log_group": "/aws/lambda/x", "log_stream": "s"}),
        (
            "query_logs",
            {"log_groups": ["/aws/lambda/x"], "query": "fields @message", "since_minutes": 7 * 1440},
        ),
    ):
        spec = action(tool, **arguments)
        request = ActionRequest(
            request_id="req-0123456789abcdef",
            tool=tool,
            service=spec.service,
            operation=spec.operation,
            action=spec.action,
            parameters=spec.api_params,
            resources=spec.resources,
            principal=principal,
            requested_at=NOW.timestamp(),
        )
        assert data_limit_decision(policy, request) is None, tool


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("query_logs", {"log_groups": [], "query": "fields @message"}),
        ("query_logs", {"log_groups": [f"/g{i}" for i in range(11)], "query": "fields @message"}),
        ("query_logs", {"log_groups": ["/g"], "query": ""}),
        ("query_logs", {"log_groups": ["/g"], "query": "x" * 4001}),
        ("query_logs", {"log_groups": ["/g"], "query": "fields @message", "limit": 1001}),
        ("get_log_events", {"log_group": "/g", "log_stream": "a:b"}),
        ("get_log_events", {"log_group": "/g", "log_stream": "s", "limit": 0}),
        ("describe_log_groups", {"limit": 51}),
        ("describe_alarms", {"state": "BROKEN"}),
        ("describe_alarms", {"max_records": 101}),
        ("list_metrics", {"dimensions": [{"name": "a"}] * 11}),
        ("head_object", {"bucket": "Not_A_Bucket", "key": "k"}),
        ("get_object", {"bucket": "acme-app-logs", "key": "k", "max_bytes": 1_048_577}),
        ("get_metric_data", {"namespace": "A", "metric_name": "B", "period_seconds": 90}),
        ("list_buckets", {"unexpected": 1}),
    ],
)
def test_out_of_bounds_arguments_are_rejected_by_the_input_model(tool: str, arguments: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        resolve(tool, arguments, REGION, ACCOUNT, NOW)


@pytest.mark.parametrize("tool", ["query_logs", "get_log_events"])
def test_a_log_time_range_longer_than_seven_days_is_invalid_input(tool: str) -> None:
    base = (
        {"log_groups": ["/g"], "query": "fields @message"}
        if tool == "query_logs"
        else {"log_group": "/g", "log_stream": "s"}
    )
    with pytest.raises(InvalidInputError):
        resolve(
            tool,
            {**base, "start_time": "2026-11-01T00:00:00Z", "end_time": "2026-11-09T00:00:01Z"},
            REGION,
            ACCOUNT,
            NOW,
        )
    params = action(tool, **base, start_time="2026-11-17T12:00:00Z").api_params
    assert params["endTime"] > params["startTime"]


def test_query_logs_passes_seconds_and_get_log_events_milliseconds() -> None:
    q = action("query_logs", log_groups=["/g"], query="fields @message", since_minutes=60).api_params
    assert q["endTime"] - q["startTime"] == 3600
    g = action("get_log_events", log_group="/g", log_stream="s", since_minutes=60).api_params
    assert g["endTime"] - g["startTime"] == 3_600_000
    assert g["startFromHead"] is True


def test_page_tokens_are_passed_through_to_the_api_field_of_each_operation() -> None:
    assert action("describe_log_groups", page_token="t1").api_params["nextToken"] == "t1"
    assert action("get_log_events", log_group="/g", log_stream="s", page_token="t2").api_params["nextToken"] == "t2"
    assert action("list_metrics", page_token="t3").api_params["NextToken"] == "t3"
    assert action("describe_alarms", page_token="t4").api_params["NextToken"] == "t4"
    assert action("list_objects", bucket="acme-app-logs", page_token="t5").api_params["ContinuationToken"] == "t5"


@pytest.mark.parametrize(
    ("minutes", "period"), [(60, 60), (180, 60), (360, 60), (361, 120), (24 * 60, 240), (15 * 1440, 3600)]
)
def test_the_default_metric_period_is_the_smallest_minute_multiple_giving_at_most_360_points(
    minutes: int, period: int
) -> None:
    assert auto_period(NOW - dt.timedelta(minutes=minutes), NOW) == period
    assert minutes * 60 / period <= 360


def test_an_explicit_metric_period_wins_over_the_default() -> None:
    spec = action("get_metric_data", namespace="A", metric_name="B", period_seconds=300)
    assert spec.api_params["MetricDataQueries"][0]["MetricStat"]["Period"] == 300
    assert spec.api_params["MetricDataQueries"][0]["MetricStat"]["Stat"] == "Average"


def test_iam_action_overrides_name_the_real_iam_actions() -> None:
    assert iam_action("s3", "HeadObject") == "s3:GetObject"
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("logs", "GetLogEvents") == "logs:GetLogEvents"
    assert access_level_tier("logs:StartQuery").value == "read"
    assert access_level_tier("cloudwatch:DescribeAlarms").value == "list"


def test_every_tool_publishes_an_output_schema_with_a_typed_result_in_the_common_envelope() -> None:
    for spec in TOOLS.values():
        schema = output_schema(spec)
        assert schema["required"] == ["request_id", "status"]
        assert {"truncated", "continuation", "redactions", "decision"} <= set(schema["properties"])
        assert "object" in schema["properties"]["result"]["type"]
        tool = tool_definition(spec)
        assert tool.output_schema == schema
        json.dumps(schema)
    for name in (
        "list_objects",
        "describe_log_groups",
        "filter_log_events",
        "get_log_events",
        "list_metrics",
        "describe_alarms",
    ):
        assert "page_token" in output_schema(TOOLS[name])["properties"]["result"]["properties"], name


# --- execute helpers (pure) ----------------------------------------------------------------------------
def test_text_and_binary_are_told_apart_by_content_not_by_content_type() -> None:
    assert looks_binary(b"\x00\x01\x02 header") is True
    assert looks_binary(b"\x1f\x8b\x08\x00 gzip") is True and detected_type(b"\x1f\x8b\x08\x00") == "gzip"
    assert looks_binary(b"%PDF-1.7\n") is True and detected_type(b"%PDF-1.7") == "pdf"
    assert looks_binary("plain text état → 完了\n".encode()) is False
    assert looks_binary("→ starts mid-character".encode()[1:]) is False, "a page may start inside a character"
    assert looks_binary(b"\xff\xfe\xfd not utf-8 at all") is True


def test_a_text_page_is_cut_on_a_character_boundary_and_fits_its_budget() -> None:
    redactor = Redactor(RedactionConfig())
    body = ("état → 完了 line\n" * 5000).encode()
    used, redacted = _fit_text(body, redactor, True, 20_000)
    assert 0 < used < len(body)
    assert len(json.dumps(redacted.text)) <= 20_000
    assert body[:used].decode("utf-8") == redacted.text


def test_the_oldest_insights_timestamp_becomes_an_iso_8601_continuation() -> None:
    assert (
        _oldest_timestamp([{"@timestamp": "2026-11-24 08:00:00.000"}, {"@timestamp": "2026-11-24 07:59:59.500"}])
        == "2026-11-24T07:59:59.500Z"
    )
    assert _oldest_timestamp([{"@timestamp": "1795507992196"}]) is not None
    assert _oldest_timestamp([{"@message": "no time"}]) is None


# --- call_aws against botocore's service model -----------------------------------------------------------
def test_call_aws_parameters_are_checked_against_botocores_service_model() -> None:
    validate_call("s3", "ListObjectsV2", {"Bucket": "acme-app-logs", "MaxKeys": 10})
    validate_call("logs", "FilterLogEvents", {"logGroupName": "/g", "limit": 5})
    with pytest.raises(ServiceModelError) as unknown:
        validate_call("s3", "ListObjectsV2", {"Bucket": "b", "Bukket": "c"})
    assert {"field": "Bukket", "type": "unknown_parameter"} in unknown.value.errors
    with pytest.raises(ServiceModelError) as missing:
        validate_call("s3", "GetObject", {"Bucket": "b"})
    assert {"field": "Key", "type": "missing"} in missing.value.errors
    with pytest.raises(ServiceModelError) as nested:
        validate_call(
            "cloudwatch",
            "GetMetricData",
            {
                "MetricDataQueries": [{"Id": "m1", "Bogus": 1}],
                "StartTime": "2026-11-24T00:00:00Z",
                "EndTime": "2026-11-24T01:00:00Z",
            },
        )
    assert any(e["field"].endswith("Bogus") for e in nested.value.errors)
    for service, operation in (
        ("s3", "ListEverything"),
        ("nosuchservice", "Describe"),
        ("s3", "listObjectsV2"),
    ):
        with pytest.raises(InvalidInputError):
            validate_call(service, operation, {})


def test_a_rejected_call_aws_names_fields_but_never_echoes_values() -> None:
    secret = "AKIAQ3EGRMXKZ7EXAMPL-wJalrXUtnFEMI"
    with pytest.raises(ServiceModelError) as exc:
        validate_call("s3", "ListObjectsV2", {"Bucket": "b", "MaxKeys": secret})
    assert secret not in exc.value.message
    assert secret not in json.dumps(exc.value.errors)
