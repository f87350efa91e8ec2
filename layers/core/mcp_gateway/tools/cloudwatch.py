"""CloudWatch tools: read a metric's datapoints, list metrics, list alarms and their state."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from ..domain.catalog import ToolInput
from ..domain.models import StrictModel
from .common import NEXT_PAGE, PageToken, Timestamp, time_window
from .paging import iso, paged, shaped
from .registry import ActionSpec, ExecContext, Tool, ToolResult

MAX_METRIC_POINTS = 360


def auto_period(start: dt.datetime, end: dt.datetime) -> int:
    """The smallest multiple of 60 s giving at most MAX_METRIC_POINTS datapoints over [start, end)."""
    seconds = max(60.0, (end - start).total_seconds())
    minutes = -(-int(seconds) // (60 * MAX_METRIC_POINTS))
    return min(86_400, max(1, minutes) * 60)


# --- get_metric_data ------------------------------------------------------------------------------------
class Dimension(StrictModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    value: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class GetMetricDataInput(ToolInput):
    namespace: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    metric_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    dimensions: Annotated[list[Dimension], Field(default_factory=list, max_length=30)]
    stat: Annotated[
        str,
        Field(default="Average", pattern=r"^(Average|Sum|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d{1,2})?)$"),
    ] = "Average"
    period_seconds: Annotated[
        int | None,
        Field(
            default=None,
            ge=60,
            le=86_400,
            description="Seconds per datapoint, a multiple of 60; default: the smallest that gives at most "
            f"{MAX_METRIC_POINTS} points over the time range",
        ),
    ] = None
    start_time: Timestamp = None
    end_time: Timestamp = None
    since_minutes: Annotated[int, Field(default=180, ge=1, le=15 * 1440)] = 180

    @field_validator("period_seconds")
    @classmethod
    def _multiple_of_60(cls, v: int | None) -> int | None:
        if v is not None and v % 60:
            raise ValueError("period_seconds must be a multiple of 60")
        return v


class MetricSeries(ToolResult):
    id: str
    label: str
    timestamps: list[str]
    values: list[float]
    status: str


class GetMetricDataResult(ToolResult):
    period_seconds: int | None
    series: list[MetricSeries]


def _get_metric_data(args: GetMetricDataInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = time_window(args.start_time, args.end_time, args.since_minutes, now)
    params: dict[str, Any] = {
        "MetricDataQueries": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": args.namespace,
                        "MetricName": args.metric_name,
                        "Dimensions": [{"Name": d.name, "Value": d.value} for d in args.dimensions],
                    },
                    "Period": args.period_seconds or auto_period(start_t, end_t),
                    "Stat": args.stat,
                },
                "ReturnData": True,
            }
        ],
        "StartTime": start_t.isoformat(),
        "EndTime": end_t.isoformat(),
    }
    return ActionSpec("cloudwatch", "GetMetricData", "cloudwatch:GetMetricData", ("*",), params)


def run_get_metric_data(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.get_metric_data(**ctx.params)
    series = [
        {
            "id": r["Id"],
            "label": r.get("Label", ""),
            "timestamps": [t.isoformat() for t in r.get("Timestamps", [])],
            "values": r.get("Values", []),
            "status": r.get("StatusCode", ""),
        }
        for r in resp.get("MetricDataResults", [])
    ]
    queries = ctx.params.get("MetricDataQueries") or [{}]
    period = (queries[0].get("MetricStat") or {}).get("Period")
    return shaped({"period_seconds": period, "series": series}, ctx.redactor, ctx.pii, ctx.cap)


# --- list_metrics ---------------------------------------------------------------------------------------
class DimensionFilter(StrictModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    value: Annotated[str | None, Field(default=None, min_length=1, max_length=1024)] = None


class ListMetricsInput(ToolInput):
    namespace: Annotated[str | None, Field(default=None, min_length=1, max_length=255)] = None
    metric_name: Annotated[str | None, Field(default=None, min_length=1, max_length=255)] = None
    dimensions: Annotated[list[DimensionFilter], Field(default_factory=list, max_length=10)]
    recently_active: Annotated[bool, Field(default=False, description="Only metrics with data in the last 3 hours")] = (
        False
    )
    page_token: PageToken = None


class MetricDimension(ToolResult):
    name: str
    value: str


class Metric(ToolResult):
    namespace: str
    metric_name: str
    dimensions: list[MetricDimension]


class ListMetricsResult(ToolResult):
    metrics: list[Metric]
    page_token: str | None = Field(description=NEXT_PAGE)


def _list_metrics(args: ListMetricsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params: dict[str, Any] = {}
    if args.namespace:
        params["Namespace"] = args.namespace
    if args.metric_name:
        params["MetricName"] = args.metric_name
    if args.dimensions:
        params["Dimensions"] = [
            {"Name": d.name, **({"Value": d.value} if d.value is not None else {})} for d in args.dimensions
        ]
    if args.recently_active:
        params["RecentlyActive"] = "PT3H"
    if args.page_token:
        params["NextToken"] = args.page_token
    return ActionSpec("cloudwatch", "ListMetrics", "cloudwatch:ListMetrics", ("*",), params)


def run_list_metrics(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.list_metrics(**ctx.params)
    metrics = [
        {
            "namespace": m.get("Namespace", ""),
            "metric_name": m.get("MetricName", ""),
            "dimensions": [{"name": d.get("Name", ""), "value": d.get("Value", "")} for d in m.get("Dimensions", [])],
        }
        for m in resp.get("Metrics", [])
    ]
    return paged({"metrics": metrics, "page_token": resp.get("NextToken")}, ctx.redactor, ctx.pii, ctx.cap)


# --- describe_alarms ------------------------------------------------------------------------------------
class DescribeAlarmsInput(ToolInput):
    alarm_name_prefix: Annotated[str | None, Field(default=None, min_length=1, max_length=255)] = None
    state: Annotated[
        str | None,
        Field(default=None, pattern=r"^(OK|ALARM|INSUFFICIENT_DATA)$", description="Alarm state"),
    ] = None
    max_records: Annotated[int, Field(default=50, ge=1, le=100)] = 50
    page_token: PageToken = None


class Alarm(ToolResult):
    name: str
    state: str
    state_reason: str
    state_updated: str | None
    # metric alarms only (absent for composite alarms)
    namespace: str | None = None
    metric_name: str | None = None
    threshold: float | None = None
    comparison: str | None = None
    kind: str = Field(description="metric or composite")


class DescribeAlarmsResult(ToolResult):
    alarms: list[Alarm]
    page_token: str | None = Field(description=NEXT_PAGE)


def _describe_alarms(args: DescribeAlarmsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params: dict[str, Any] = {"MaxRecords": args.max_records}
    if args.alarm_name_prefix:
        params["AlarmNamePrefix"] = args.alarm_name_prefix
    if args.state:
        params["StateValue"] = args.state
    if args.page_token:
        params["NextToken"] = args.page_token
    return ActionSpec("cloudwatch", "DescribeAlarms", "cloudwatch:DescribeAlarms", ("*",), params)


def run_describe_alarms(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.describe_alarms(**ctx.params)
    alarms = [
        {
            "name": a.get("AlarmName", ""),
            "state": a.get("StateValue", ""),
            "state_reason": a.get("StateReason", ""),
            "state_updated": iso(a.get("StateUpdatedTimestamp")),
            "namespace": a.get("Namespace"),
            "metric_name": a.get("MetricName"),
            "threshold": a.get("Threshold"),
            "comparison": a.get("ComparisonOperator"),
            "kind": "metric",
        }
        for a in resp.get("MetricAlarms", [])
    ] + [
        {
            "name": a.get("AlarmName", ""),
            "state": a.get("StateValue", ""),
            "state_reason": a.get("StateReason", ""),
            "state_updated": iso(a.get("StateUpdatedTimestamp")),
            "kind": "composite",
        }
        for a in resp.get("CompositeAlarms", [])
    ]
    return paged({"alarms": alarms, "page_token": resp.get("NextToken")}, ctx.redactor, ctx.pii, ctx.cap)


TOOLS = (
    Tool(
        name="get_metric_data",
        title="Read a CloudWatch metric",
        description="Read one CloudWatch metric's datapoints (namespace, metric name, dimensions, statistic, "
        "period) over a time range. Defaults: the last 3 hours, the Average statistic, and the smallest period "
        "(a multiple of 60 s) that gives at most 360 datapoints. Use list_metrics to find metrics.",
        input_model=GetMetricDataInput,
        to_action=_get_metric_data,
        output_model=GetMetricDataResult,
        execute=run_get_metric_data,
        example={"namespace": "Acme/Orders", "metric_name": "Latency"},
    ),
    Tool(
        name="list_metrics",
        title="List CloudWatch metrics",
        description="List CloudWatch metrics by namespace, metric name and dimensions, to find what "
        "get_metric_data can read. Returns a page_token when more remain.",
        input_model=ListMetricsInput,
        to_action=_list_metrics,
        output_model=ListMetricsResult,
        execute=run_list_metrics,
        example={"namespace": "Acme/Orders"},
    ),
    Tool(
        name="describe_alarms",
        title="List CloudWatch alarms",
        description="List CloudWatch alarms and their state (OK, ALARM, INSUFFICIENT_DATA), optionally by name "
        "prefix or state. Returns a page_token when more remain.",
        input_model=DescribeAlarmsInput,
        to_action=_describe_alarms,
        output_model=DescribeAlarmsResult,
        execute=run_describe_alarms,
        example={"alarm_name_prefix": "orders-api"},
    ),
)
