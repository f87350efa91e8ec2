"""The tool catalog: every MCP tool, its bounded input model, and its mapping to ONE canonical AWS action.

The gateway uses it to publish schemas and build the ``ActionRequest``; the execute function uses the
same mapping to know which API call to make. Nothing here performs I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from .errors import InvalidInputError
from .models import StrictModel

BucketName = Annotated[
    str, StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
]
ObjectKey = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
LogGroupName = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[\w#\-./]+$")]
Intent = Annotated[
    str,
    Field(
        default="",
        max_length=2000,
        description="Why you are making this call (your current task, in one sentence). "
        "Checked by policy and stored only as a keyed hash.",
    ),
]
Timestamp = Annotated[
    str | None,
    Field(default=None, max_length=40, description="ISO 8601 time, e.g. 2026-11-24T08:00:00Z"),
]
PageToken = Annotated[str | None, Field(default=None, max_length=4096, description="Token from a previous page")]


def parse_time(value: str | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError("time must be ISO 8601, e.g. 2026-11-24T08:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class ToolInput(StrictModel):
    intent: Intent = ""


class ListBucketsInput(ToolInput):
    pass


class ListObjectsInput(ToolInput):
    bucket: BucketName
    prefix: Annotated[str, Field(default="", max_length=1024)] = ""
    delimiter: Annotated[str, Field(default="", max_length=1)] = ""
    max_keys: Annotated[int, Field(default=100, ge=1, le=1000)] = 100
    page_token: PageToken = None


class GetObjectInput(ToolInput):
    bucket: BucketName
    key: ObjectKey
    offset: Annotated[int, Field(default=0, ge=0, le=5 * 1024**4, description="First byte to return")] = 0
    max_bytes: Annotated[
        int, Field(default=65_536, ge=1, le=1_048_576, description="Bytes to return (capped by policy)")
    ] = 65_536


class FilterLogEventsInput(ToolInput):
    log_group: LogGroupName
    filter_pattern: Annotated[str, Field(default="", max_length=1024, description="CloudWatch filter pattern")] = ""
    start_time: Timestamp = None
    end_time: Timestamp = None
    since_minutes: Annotated[
        int, Field(default=60, ge=1, le=90 * 1440, description="Used when start_time is not given")
    ] = 60
    limit: Annotated[int, Field(default=100, ge=1, le=1000)] = 100
    page_token: PageToken = None


class PutObjectInput(ToolInput):
    bucket: BucketName
    key: ObjectKey
    text: Annotated[str, Field(max_length=262_144, description="UTF-8 text to store")]
    content_type: Annotated[str, Field(default="text/plain", max_length=128, pattern=r"^[\w.+-]+/[\w.+-]+$")] = (
        "text/plain"
    )


OperationName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{1,99}$")]

# API operations whose IAM action name differs from the operation name.
IAM_ACTION_OVERRIDES: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
    ("logs", "StartQuery"): "logs:StartQuery",
}


def iam_action(service: str, operation: str) -> str:
    return IAM_ACTION_OVERRIDES.get((service, operation), f"{service}:{operation}")


class CallAwsInput(ToolInput):
    service: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}$")] = Field(
        description="boto3 service name, e.g. s3, logs, cloudwatch"
    )
    operation: OperationName = Field(description="API operation in PascalCase, e.g. ListObjectsV2")
    parameters: Annotated[
        dict[str, Any],
        Field(default_factory=dict, description="API parameters (PascalCase/camelCase as in the AWS API)"),
    ]


class Dimension(StrictModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    value: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


MAX_METRIC_POINTS = 360


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


LogStreamName = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^:*]+$")]
# The tools' own bound on a log time range; the policy's max_log_time_range_seconds may be lower.
MAX_LOG_RANGE_SECONDS = 7 * 86_400


class DescribeLogGroupsInput(ToolInput):
    prefix: Annotated[
        str, Field(default="", max_length=512, pattern=r"^[\w#\-./]*$", description="Log group name prefix")
    ] = ""
    limit: Annotated[int, Field(default=50, ge=1, le=50)] = 50
    page_token: PageToken = None


class GetLogEventsInput(ToolInput):
    log_group: LogGroupName
    log_stream: LogStreamName
    start_time: Timestamp = None
    end_time: Timestamp = None
    since_minutes: Annotated[
        int, Field(default=60, ge=1, le=7 * 1440, description="Used when start_time is not given")
    ] = 60
    start_from_head: Annotated[bool, Field(default=True, description="Oldest first (true) or newest first")] = True
    limit: Annotated[int, Field(default=100, ge=1, le=1000)] = 100
    page_token: PageToken = None


class QueryLogsInput(ToolInput):
    log_groups: Annotated[list[LogGroupName], Field(min_length=1, max_length=10, description="Log groups to query")]
    query: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4000,
            description="CloudWatch Logs Insights query, e.g. "
            "'fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc'",
        ),
    ]
    start_time: Timestamp = None
    end_time: Timestamp = None
    since_minutes: Annotated[
        int, Field(default=60, ge=1, le=7 * 1440, description="Used when start_time is not given")
    ] = 60
    limit: Annotated[int, Field(default=100, ge=1, le=1000, description="Rows to return (at most)")] = 100


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


class DescribeAlarmsInput(ToolInput):
    alarm_name_prefix: Annotated[str | None, Field(default=None, min_length=1, max_length=255)] = None
    state: Annotated[
        str | None,
        Field(default=None, pattern=r"^(OK|ALARM|INSUFFICIENT_DATA)$", description="Alarm state"),
    ] = None
    max_records: Annotated[int, Field(default=50, ge=1, le=100)] = 50
    page_token: PageToken = None


class HeadObjectInput(ToolInput):
    bucket: BucketName
    key: ObjectKey


@dataclass(frozen=True)
class ActionSpec:
    """What one tool call means in AWS terms."""

    service: str
    operation: str
    action: str
    resources: tuple[str, ...]
    api_params: dict[str, Any]


@dataclass(frozen=True)
class Annotations:
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = False


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_model: type[ToolInput]
    to_action: Callable[[Any, str, str, dt.datetime], ActionSpec]
    annotations: Annotations = Annotations()
    result_schema: dict[str, Any] | None = None  # JSON Schema of the envelope's ``result`` (the tool's data)


def _s3_bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _log_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"


def _list_buckets(args: ListBucketsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    return ActionSpec("s3", "ListBuckets", "s3:ListAllMyBuckets", ("*",), {})


def _list_objects(args: ListObjectsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params: dict[str, Any] = {"Bucket": args.bucket, "MaxKeys": args.max_keys}
    if args.prefix:
        params["Prefix"] = args.prefix
    if args.delimiter:
        params["Delimiter"] = args.delimiter
    if args.page_token:
        params["ContinuationToken"] = args.page_token
    return ActionSpec("s3", "ListObjectsV2", "s3:ListBucket", (_s3_bucket_arn(args.bucket),), params)


def _get_object(args: GetObjectInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params = {
        "Bucket": args.bucket,
        "Key": args.key,
        "Range": f"bytes={args.offset}-{args.offset + args.max_bytes - 1}",
    }
    return ActionSpec("s3", "GetObject", "s3:GetObject", (f"{_s3_bucket_arn(args.bucket)}/{args.key}",), params)


def _put_object(args: PutObjectInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params = {"Bucket": args.bucket, "Key": args.key, "Body": args.text, "ContentType": args.content_type}
    return ActionSpec("s3", "PutObject", "s3:PutObject", (f"{_s3_bucket_arn(args.bucket)}/{args.key}",), params)


def _resources_for(service: str, region: str, account: str, params: dict[str, Any]) -> tuple[str, ...]:
    if service == "s3" and isinstance(params.get("Bucket"), str):
        bucket = params["Bucket"]
        key = params.get("Key")
        return (f"{_s3_bucket_arn(bucket)}/{key}" if isinstance(key, str) else _s3_bucket_arn(bucket),)
    if service == "logs" and isinstance(params.get("logGroupName"), str):
        return (_log_group_arn(region, account, params["logGroupName"]),)
    return ("*",)


def _call_aws(args: CallAwsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params = dict(args.parameters)
    return ActionSpec(
        args.service,
        args.operation,
        iam_action(args.service, args.operation),
        _resources_for(args.service, region, account, params),
        params,
    )


def _time_window(
    start: str | None, end: str | None, since_minutes: int, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    end_t = parse_time(end, now)
    start_t = parse_time(start, end_t - dt.timedelta(minutes=since_minutes))
    if start_t >= end_t:
        raise InvalidInputError("start_time must be before end_time")
    return start_t, end_t


def _filter_log_events(args: FilterLogEventsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = _time_window(args.start_time, args.end_time, args.since_minutes, now)
    params: dict[str, Any] = {
        "logGroupName": args.log_group,
        "startTime": int(start_t.timestamp() * 1000),
        "endTime": int(end_t.timestamp() * 1000),
        "limit": args.limit,
    }
    if args.filter_pattern:
        params["filterPattern"] = args.filter_pattern
    if args.page_token:
        params["nextToken"] = args.page_token
    return ActionSpec(
        "logs",
        "FilterLogEvents",
        "logs:FilterLogEvents",
        (_log_group_arn(region, account, args.log_group),),
        params,
    )


def _get_metric_data(args: GetMetricDataInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = _time_window(args.start_time, args.end_time, args.since_minutes, now)
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


def auto_period(start: dt.datetime, end: dt.datetime) -> int:
    """The smallest multiple of 60 s giving at most MAX_METRIC_POINTS datapoints over [start, end)."""
    seconds = max(60.0, (end - start).total_seconds())
    minutes = -(-int(seconds) // (60 * MAX_METRIC_POINTS))
    return min(86_400, max(1, minutes) * 60)


def _bounded_window(
    start: str | None, end: str | None, since_minutes: int, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    start_t, end_t = _time_window(start, end, since_minutes, now)
    if (end_t - start_t).total_seconds() > MAX_LOG_RANGE_SECONDS:
        raise InvalidInputError(f"the time range may span at most {MAX_LOG_RANGE_SECONDS // 86_400} days")
    return start_t, end_t


def _describe_log_groups(args: DescribeLogGroupsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params: dict[str, Any] = {"limit": args.limit}
    if args.prefix:
        params["logGroupNamePrefix"] = args.prefix
    if args.page_token:
        params["nextToken"] = args.page_token
    return ActionSpec(
        "logs", "DescribeLogGroups", "logs:DescribeLogGroups", (_log_group_arn(region, account, "*"),), params
    )


def _get_log_events(args: GetLogEventsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = _bounded_window(args.start_time, args.end_time, args.since_minutes, now)
    params: dict[str, Any] = {
        "logGroupName": args.log_group,
        "logStreamName": args.log_stream,
        "startTime": int(start_t.timestamp() * 1000),
        "endTime": int(end_t.timestamp() * 1000),
        "startFromHead": args.start_from_head,
        "limit": args.limit,
    }
    if args.page_token:
        params["nextToken"] = args.page_token
    stream_arn = f"{_log_group_arn(region, account, args.log_group)}:log-stream:{args.log_stream}"
    return ActionSpec("logs", "GetLogEvents", "logs:GetLogEvents", (stream_arn,), params)


def _query_logs(args: QueryLogsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = _bounded_window(args.start_time, args.end_time, args.since_minutes, now)
    groups = tuple(dict.fromkeys(args.log_groups))
    params: dict[str, Any] = {
        "logGroupNames": list(groups),
        "startTime": int(start_t.timestamp()),
        "endTime": int(end_t.timestamp()),
        "queryString": args.query,
        "limit": args.limit,
    }
    arns = tuple(_log_group_arn(region, account, g) for g in groups)
    return ActionSpec("logs", "StartQuery", "logs:StartQuery", arns, params)


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


def _describe_alarms(args: DescribeAlarmsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params: dict[str, Any] = {"MaxRecords": args.max_records}
    if args.alarm_name_prefix:
        params["AlarmNamePrefix"] = args.alarm_name_prefix
    if args.state:
        params["StateValue"] = args.state
    if args.page_token:
        params["NextToken"] = args.page_token
    return ActionSpec("cloudwatch", "DescribeAlarms", "cloudwatch:DescribeAlarms", ("*",), params)


def _head_object(args: HeadObjectInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    # HeadObject is authorized as s3:GetObject; a one-byte Range keeps it a bounded read for the data limits
    # (S3 then reports the full size in Content-Range).
    params = {"Bucket": args.bucket, "Key": args.key, "Range": "bytes=0-0"}
    arn = f"{_s3_bucket_arn(args.bucket)}/{args.key}"
    return ActionSpec("s3", "HeadObject", "s3:GetObject", (arn,), params)


# --- result schemas: the ``result`` field of each tool's output envelope ---------------------------------
_STR = {"type": "string"}
_INT = {"type": "integer"}
_TOKEN = {"type": ["string", "null"], "description": "pass as page_token for the next page; null: last page"}


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


LOG_EVENT_SCHEMA = _obj(timestamp=_INT, log_stream=_STR, message=_STR, event_id=_STR)
RESULT_SCHEMAS: dict[str, dict[str, Any]] = {
    "list_buckets": _obj(buckets=_list_of(_obj(name=_STR, created=_STR))),
    "list_objects": _obj(
        bucket=_STR,
        objects=_list_of(_obj(key=_STR, size=_INT, last_modified=_STR)),
        common_prefixes=_list_of(_STR),
        page_token=_TOKEN,
    ),
    "head_object": _obj(
        bucket=_STR,
        key=_STR,
        size=_INT,
        content_type=_STR,
        last_modified={"type": ["string", "null"]},
        etag=_STR,
        storage_class={"type": ["string", "null"]},
        metadata_keys=_list_of(_STR),
    ),
    "get_object": _obj(
        bucket=_STR,
        key=_STR,
        content_type=_STR,
        size={**_INT, "description": "size of the whole object in bytes"},
        offset={**_INT, "description": "first byte of this page in the original object"},
        length={**_INT, "description": "original bytes covered by this page"},
        binary={"type": "boolean"},
        detected_type={"type": ["string", "null"]},
        text={"type": ["string", "null"], "description": "this page as redacted text; null if binary"},
    ),
    "put_object": _obj(bucket=_STR, key=_STR, bytes=_INT, etag=_STR),
    "describe_log_groups": _obj(
        log_groups=_list_of(
            _obj(
                name=_STR,
                created={"type": ["integer", "null"]},
                retention_days={"type": ["integer", "null"]},
                stored_bytes={"type": ["integer", "null"]},
            )
        ),
        page_token=_TOKEN,
    ),
    "filter_log_events": _obj(log_group=_STR, events=_list_of(LOG_EVENT_SCHEMA), page_token=_TOKEN),
    "get_log_events": _obj(log_group=_STR, log_stream=_STR, events=_list_of(LOG_EVENT_SCHEMA), page_token=_TOKEN),
    "query_logs": _obj(
        query_id=_STR,
        status=_STR,
        rows=_list_of({"type": "object", "additionalProperties": _STR}),
        statistics={"type": "object", "additionalProperties": {"type": "number"}},
    ),
    "get_metric_data": _obj(
        period_seconds={"type": ["integer", "null"]},
        series=_list_of(
            _obj(
                id=_STR,
                label=_STR,
                timestamps=_list_of(_STR),
                values=_list_of({"type": "number"}),
                status=_STR,
            )
        ),
    ),
    "list_metrics": _obj(
        metrics=_list_of(_obj(namespace=_STR, metric_name=_STR, dimensions=_list_of(_obj(name=_STR, value=_STR)))),
        page_token=_TOKEN,
    ),
    "describe_alarms": _obj(
        alarms=_list_of(
            _obj(
                name=_STR,
                state=_STR,
                state_reason=_STR,
                state_updated={"type": ["string", "null"]},
                namespace={"type": ["string", "null"]},
                metric_name={"type": ["string", "null"]},
                threshold={"type": ["number", "null"]},
                comparison={"type": ["string", "null"]},
                kind=_STR,
            )
        ),
        page_token=_TOKEN,
    ),
    "call_aws": {"type": "object", "description": "the API response (ResponseMetadata removed), redacted"},
}


TOOLS: dict[str, ToolSpec] = {
    spec.name: replace(spec, result_schema=spec.result_schema or RESULT_SCHEMAS.get(spec.name))
    for spec in (
        ToolSpec(
            "list_buckets",
            "List S3 buckets",
            "List the S3 buckets in the account (names and creation dates). Use it to discover which "
            "buckets exist before listing or reading objects; reading still depends on policy.",
            ListBucketsInput,
            _list_buckets,
        ),
        ToolSpec(
            "list_objects",
            "List S3 objects",
            "List objects in one S3 bucket, optionally under a prefix and grouped by a delimiter. "
            "Returns keys, sizes and modification times, and a page_token when more remain.",
            ListObjectsInput,
            _list_objects,
        ),
        ToolSpec(
            "get_object",
            "Read an S3 object",
            "Read a byte range of one S3 object. Text is returned as text with secrets and customer data "
            "redacted; binary content is summarised. Use offset and max_bytes to page through large objects.",
            GetObjectInput,
            _get_object,
        ),
        ToolSpec(
            "put_object",
            "Write an S3 object",
            "Write a small text object to S3 (for example notes to a scratch bucket). Writes are allowed only "
            "where the policy grants them to your group, and count against the strict write-tier rate limit.",
            PutObjectInput,
            _put_object,
            Annotations(read_only=False, destructive=False, idempotent=True, open_world=False),
        ),
        ToolSpec(
            "filter_log_events",
            "Search CloudWatch Logs",
            "Search one CloudWatch Logs log group for events matching a filter pattern in a time range "
            "(default: the last 60 minutes). Messages are redacted. Returns a page_token when more remain.",
            FilterLogEventsInput,
            _filter_log_events,
        ),
        ToolSpec(
            "get_metric_data",
            "Read a CloudWatch metric",
            "Read one CloudWatch metric's datapoints (namespace, metric name, dimensions, statistic, period) "
            "over a time range. Defaults: the last 3 hours, the Average statistic, and the smallest period "
            "(a multiple of 60 s) that gives at most 360 datapoints. Use list_metrics to find metrics.",
            GetMetricDataInput,
            _get_metric_data,
        ),
        ToolSpec(
            "head_object",
            "Describe an S3 object",
            "Size, content type, last-modified time and ETag of one S3 object, without reading it. Use it to "
            "plan get_object pages (offset and max_bytes) for large objects.",
            HeadObjectInput,
            _head_object,
        ),
        ToolSpec(
            "describe_log_groups",
            "List CloudWatch Logs log groups",
            "List CloudWatch Logs log groups (names, retention, stored bytes), optionally by name prefix. "
            "Returns a page_token when more remain.",
            DescribeLogGroupsInput,
            _describe_log_groups,
        ),
        ToolSpec(
            "get_log_events",
            "Read one CloudWatch Logs stream",
            "Read the events of one log stream in a time range (default: the last 60 minutes, at most "
            "7 days), oldest first unless start_from_head is false. Messages are redacted. Returns a "
            "page_token when more remain.",
            GetLogEventsInput,
            _get_log_events,
        ),
        ToolSpec(
            "query_logs",
            "Run a CloudWatch Logs Insights query",
            "Run one CloudWatch Logs Insights query over up to 10 log groups in a time range (default: the "
            "last 60 minutes, at most 7 days) and wait for its rows (at most `limit`). Values are redacted. "
            "When the row count reaches the limit, narrow the time range or use the continuation's end_time.",
            QueryLogsInput,
            _query_logs,
        ),
        ToolSpec(
            "list_metrics",
            "List CloudWatch metrics",
            "List CloudWatch metrics by namespace, metric name and dimensions, to find what get_metric_data "
            "can read. Returns a page_token when more remain.",
            ListMetricsInput,
            _list_metrics,
        ),
        ToolSpec(
            "describe_alarms",
            "List CloudWatch alarms",
            "List CloudWatch alarms and their state (OK, ALARM, INSUFFICIENT_DATA), optionally by name "
            "prefix or state. Returns a page_token when more remain.",
            DescribeAlarmsInput,
            _describe_alarms,
        ),
        ToolSpec(
            "call_aws",
            "Call an AWS API operation",
            "Run one AWS API operation that the gateway policy allows, e.g. service='s3', "
            "operation='ListObjectsV2', parameters={'Bucket': 'acme-app-logs'}. Anything not on the policy's "
            "allowlist is refused with a reason code; use explain_policy to check first.",
            CallAwsInput,
            _call_aws,
            Annotations(read_only=False, destructive=True, idempotent=False, open_world=True),
        ),
    )
}


def resolve(
    tool: str, arguments: dict[str, Any], region: str, account: str, now: dt.datetime
) -> tuple[ToolInput, ActionSpec]:
    """Validate the arguments against the tool's model and map them to one canonical action."""
    spec = TOOLS.get(tool)
    if spec is None:
        raise InvalidInputError(f"unknown tool {tool[:64]!r}")
    parsed = spec.input_model.model_validate(arguments)
    return parsed, spec.to_action(parsed, region, account, now)
