"""CloudWatch Logs tools: list log groups, search a group, read a stream, run an Insights query."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from ..domain.catalog import ToolInput
from ..domain.errors import InvalidInputError, ReasonCode
from .common import NEXT_PAGE, PageToken, Timestamp, bounded_window, epoch_ms_iso, log_group_arn, time_window
from .paging import log_page, oldest_timestamp, paged, redact_rows
from .registry import ActionSpec, ExecContext, Tool, ToolResult

LogGroupName = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[\w#\-./]+$")]
LogStreamName = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^:*]+$")]
# Logs Insights: poll GetQueryResults inside the execute step a bounded number of times (about 20 s in all).
QUERY_POLL_MAX_INTERVAL = 1.0
QUERY_TERMINAL_FAILURES = {"Failed", "Cancelled", "Timeout", "Unknown"}


class LogEvent(ToolResult):
    timestamp: int = Field(description="epoch milliseconds")
    timestamp_iso: str | None = Field(description="ISO 8601 UTC of timestamp")
    log_stream: str
    message: str
    event_id: str


# --- describe_log_groups --------------------------------------------------------------------------------
class DescribeLogGroupsInput(ToolInput):
    prefix: Annotated[
        str, Field(default="", max_length=512, pattern=r"^[\w#\-./]*$", description="Log group name prefix")
    ] = ""
    limit: Annotated[int, Field(default=50, ge=1, le=50)] = 50
    page_token: PageToken = None


class LogGroup(ToolResult):
    name: str
    created: int | None = Field(description="epoch milliseconds")
    created_iso: str | None = Field(description="ISO 8601 UTC of created")
    retention_days: int | None
    stored_bytes: int | None


class DescribeLogGroupsResult(ToolResult):
    log_groups: list[LogGroup]
    page_token: str | None = Field(description=NEXT_PAGE)


def _describe_log_groups(args: DescribeLogGroupsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params: dict[str, Any] = {"limit": args.limit}
    if args.prefix:
        params["logGroupNamePrefix"] = args.prefix
    if args.page_token:
        params["nextToken"] = args.page_token
    return ActionSpec(
        "logs", "DescribeLogGroups", "logs:DescribeLogGroups", (log_group_arn(region, account, "*"),), params
    )


def run_describe_log_groups(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.describe_log_groups(**ctx.params)
    groups = [
        {
            "name": g.get("logGroupName", ""),
            "created": g.get("creationTime"),
            "created_iso": epoch_ms_iso(g.get("creationTime")),
            "retention_days": g.get("retentionInDays"),
            "stored_bytes": g.get("storedBytes"),
        }
        for g in resp.get("logGroups", [])
    ]
    return paged({"log_groups": groups, "page_token": resp.get("nextToken")}, ctx.redactor, ctx.pii, ctx.cap)


# --- describe_log_streams -------------------------------------------------------------------------------
class DescribeLogStreamsInput(ToolInput):
    log_group: LogGroupName
    prefix: Annotated[
        str, Field(default="", max_length=512, pattern=r"^[^:*]*$", description="Log stream name prefix")
    ] = ""
    latest_first: Annotated[
        bool,
        Field(default=False, description="Most recent event first (cannot be combined with prefix)"),
    ] = False
    limit: Annotated[int, Field(default=50, ge=1, le=50)] = 50
    page_token: PageToken = None


class LogStream(ToolResult):
    name: str
    created: int | None = Field(description="epoch milliseconds")
    created_iso: str | None = Field(description="ISO 8601 UTC of created")
    first_event: int | None = Field(description="epoch milliseconds")
    first_event_iso: str | None = Field(description="ISO 8601 UTC of first_event")
    last_event: int | None = Field(description="epoch milliseconds")
    last_event_iso: str | None = Field(description="ISO 8601 UTC of last_event")
    last_ingestion: int | None = Field(description="epoch milliseconds")
    last_ingestion_iso: str | None = Field(description="ISO 8601 UTC of last_ingestion")


class DescribeLogStreamsResult(ToolResult):
    log_group: str
    log_streams: list[LogStream]
    page_token: str | None = Field(description=NEXT_PAGE)


def _describe_log_streams(args: DescribeLogStreamsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    if args.prefix and args.latest_first:
        raise InvalidInputError("prefix and latest_first cannot be combined")
    params: dict[str, Any] = {"logGroupName": args.log_group, "limit": args.limit}
    if args.prefix:
        params["logStreamNamePrefix"] = args.prefix
    if args.latest_first:
        params["orderBy"] = "LastEventTime"
        params["descending"] = True
    if args.page_token:
        params["nextToken"] = args.page_token
    arn = log_group_arn(region, account, args.log_group)
    return ActionSpec("logs", "DescribeLogStreams", "logs:DescribeLogStreams", (arn,), params)


def run_describe_log_streams(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.describe_log_streams(**ctx.params)
    streams = [
        {
            "name": s.get("logStreamName", ""),
            "created": s.get("creationTime"),
            "created_iso": epoch_ms_iso(s.get("creationTime")),
            "first_event": s.get("firstEventTimestamp"),
            "first_event_iso": epoch_ms_iso(s.get("firstEventTimestamp")),
            "last_event": s.get("lastEventTimestamp"),
            "last_event_iso": epoch_ms_iso(s.get("lastEventTimestamp")),
            "last_ingestion": s.get("lastIngestionTime"),
            "last_ingestion_iso": epoch_ms_iso(s.get("lastIngestionTime")),
        }
        for s in resp.get("logStreams", [])
    ]
    data = {"log_group": ctx.params["logGroupName"], "log_streams": streams, "page_token": resp.get("nextToken")}
    return paged(data, ctx.redactor, ctx.pii, ctx.cap)


# --- filter_log_events ----------------------------------------------------------------------------------
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


class FilterLogEventsResult(ToolResult):
    log_group: str
    events: list[LogEvent]
    page_token: str | None = Field(description=NEXT_PAGE)


def _filter_log_events(args: FilterLogEventsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = time_window(args.start_time, args.end_time, args.since_minutes, now)
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
        "logs", "FilterLogEvents", "logs:FilterLogEvents", (log_group_arn(region, account, args.log_group),), params
    )


def run_filter_log_events(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.filter_log_events(**ctx.params)
    data: dict[str, Any] = {"log_group": ctx.params["logGroupName"]}
    return log_page(data, resp.get("events", []), resp.get("nextToken"), ctx.params, ctx.redactor, ctx.pii, ctx.cap)


# --- get_log_events -------------------------------------------------------------------------------------
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


class GetLogEventsResult(ToolResult):
    log_group: str
    log_stream: str
    events: list[LogEvent]
    page_token: str | None = Field(description=NEXT_PAGE)


def _get_log_events(args: GetLogEventsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = bounded_window(args.start_time, args.end_time, args.since_minutes, now)
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
    stream_arn = f"{log_group_arn(region, account, args.log_group)}:log-stream:{args.log_stream}"
    return ActionSpec("logs", "GetLogEvents", "logs:GetLogEvents", (stream_arn,), params)


def run_get_log_events(client: Any, ctx: ExecContext) -> dict[str, Any]:
    params = ctx.params
    resp = client.get_log_events(**params)
    forward = bool(params.get("startFromHead", True))
    token = resp.get("nextForwardToken" if forward else "nextBackwardToken")
    raw = resp.get("events", [])
    # GetLogEvents always answers a token; at the end of the stream it repeats the one it was given
    next_token = token if raw and token and token != params.get("nextToken") else None
    stream = str(params["logStreamName"])
    events = [{**ev, "logStreamName": stream} for ev in raw]
    data: dict[str, Any] = {"log_group": params["logGroupName"], "log_stream": stream}
    return log_page(data, events, next_token, params, ctx.redactor, ctx.pii, ctx.cap)


# --- query_logs -----------------------------------------------------------------------------------------
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


class QueryLogsResult(ToolResult):
    query_id: str
    status: str
    rows: list[dict[str, str]]
    statistics: dict[str, float]


def _query_logs(args: QueryLogsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    start_t, end_t = bounded_window(args.start_time, args.end_time, args.since_minutes, now)
    groups = tuple(dict.fromkeys(args.log_groups))
    params: dict[str, Any] = {
        "logGroupNames": list(groups),
        "startTime": int(start_t.timestamp()),
        "endTime": int(end_t.timestamp()),
        "queryString": args.query,
        "limit": args.limit,
    }
    arns = tuple(log_group_arn(region, account, g) for g in groups)
    return ActionSpec("logs", "StartQuery", "logs:StartQuery", arns, params)


def run_query_logs(client: Any, ctx: ExecContext) -> dict[str, Any]:
    """Logs Insights as one step: StartQuery, then poll GetQueryResults a bounded number of times."""
    limit = int(ctx.params.get("limit", 100))
    query_id = str(client.start_query(**ctx.params)["queryId"])
    resp: dict[str, Any] = {}
    status = "Scheduled"
    for attempt in range(ctx.query_poll_attempts):
        resp = client.get_query_results(queryId=query_id)
        status = str(resp.get("status", "Unknown"))
        if status == "Complete" or status in QUERY_TERMINAL_FAILURES:
            break
        ctx.sleep(min(QUERY_POLL_MAX_INTERVAL, 0.1 * 1.5**attempt))
    if status != "Complete":
        message = (
            f"the query ended with status {status[:20]}"
            if status in QUERY_TERMINAL_FAILURES
            else "the query did not finish in time; narrow the time range or the log groups"
        )
        return {
            "status": "error",
            "reason": ReasonCode.EXECUTION_ERROR.value,
            "message": message,
            "data": {"query_id": query_id},
        }
    all_rows = [
        {str(f.get("field", "")): str(f.get("value", "")) for f in row if f.get("field") != "@ptr"}
        for row in resp.get("results", [])
    ]
    rows, counts, size, cut = redact_rows(all_rows[:limit], ctx.redactor, ctx.pii, ctx.cap)
    stats = {k: v for k, v in (resp.get("statistics") or {}).items() if isinstance(v, int | float)}
    data = {"query_id": query_id, "status": status, "rows": rows, "statistics": stats}
    out: dict[str, Any] = {
        "status": "ok",
        "data": data,
        "redactions": counts,
        "bytes_returned": size,
        "truncated": cut or len(all_rows) > limit or len(rows) >= limit,
    }
    if out["truncated"]:
        oldest = oldest_timestamp(rows)
        out["continuation"] = (
            {"end_time": oldest, "more_may_exist": True}
            if oldest
            else {"more_may_exist": True, "hint": "narrow the time range or add filters"}
        )
    return out


TOOLS = (
    Tool(
        name="filter_log_events",
        title="Search CloudWatch Logs",
        description="Search one CloudWatch Logs log group for events matching a filter pattern in a time range "
        "(default: the last 60 minutes). Messages are redacted. Returns a page_token when more remain.",
        input_model=FilterLogEventsInput,
        to_action=_filter_log_events,
        output_model=FilterLogEventsResult,
        execute=run_filter_log_events,
        example={"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR", "limit": 5},
    ),
    Tool(
        name="describe_log_groups",
        title="List CloudWatch Logs log groups",
        description="List CloudWatch Logs log groups (names, retention, stored bytes), optionally by name "
        "prefix. Returns a page_token when more remain.",
        input_model=DescribeLogGroupsInput,
        to_action=_describe_log_groups,
        output_model=DescribeLogGroupsResult,
        execute=run_describe_log_groups,
        example={"prefix": "/aws/lambda/"},
    ),
    Tool(
        name="describe_log_streams",
        title="List the streams of a log group",
        description="List the log streams of one CloudWatch Logs log group (names, creation, first and last "
        "event times), optionally by name prefix or most recent first, to find the stream get_log_events "
        "reads. Returns a page_token when more remain.",
        input_model=DescribeLogStreamsInput,
        to_action=_describe_log_streams,
        output_model=DescribeLogStreamsResult,
        execute=run_describe_log_streams,
        example={"log_group": "/aws/lambda/orders-api", "latest_first": True},
    ),
    Tool(
        name="get_log_events",
        title="Read one CloudWatch Logs stream",
        description="Read the events of one log stream in a time range (default: the last 60 minutes, at most "
        "7 days), oldest first unless start_from_head is false. Messages are redacted. Returns a "
        "page_token when more remain.",
        input_model=GetLogEventsInput,
        to_action=_get_log_events,
        output_model=GetLogEventsResult,
        execute=run_get_log_events,
        example={"log_group": "/aws/lambda/orders-api", "log_stream": "2026/11/24/[$LATEST]a1b2c3", "limit": 5},
    ),
    Tool(
        name="query_logs",
        title="Run a CloudWatch Logs Insights query",
        description="Run one CloudWatch Logs Insights query over up to 10 log groups in a time range (default: "
        "the last 60 minutes, at most 7 days) and wait for its rows (at most `limit`). Values are redacted. "
        "When the row count reaches the limit, narrow the time range or use the continuation's end_time.",
        input_model=QueryLogsInput,
        to_action=_query_logs,
        output_model=QueryLogsResult,
        execute=run_query_logs,
        example={"log_groups": ["/aws/lambda/orders-api"], "query": "fields @timestamp, @message", "limit": 5},
    ),
)
