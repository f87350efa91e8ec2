"""Input types and mapping helpers shared by the tools of several services (times, page tokens, ARNs)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from ..domain.errors import InvalidInputError

Timestamp = Annotated[
    str | None,
    Field(default=None, max_length=40, description="ISO 8601 time, e.g. 2026-11-24T08:00:00Z"),
]
PageToken = Annotated[str | None, Field(default=None, max_length=4096, description="Token from a previous page")]
NEXT_PAGE = "pass as page_token for the next page; null: last page"
# The tools' own bound on a log time range; the policy's max_log_time_range_seconds may be lower.
MAX_LOG_RANGE_SECONDS = 7 * 86_400


def parse_time(value: str | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError("time must be ISO 8601, e.g. 2026-11-24T08:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def time_window(
    start: str | None, end: str | None, since_minutes: int, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    end_t = parse_time(end, now)
    start_t = parse_time(start, end_t - dt.timedelta(minutes=since_minutes))
    if start_t >= end_t:
        raise InvalidInputError("start_time must be before end_time")
    return start_t, end_t


def bounded_window(
    start: str | None, end: str | None, since_minutes: int, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    start_t, end_t = time_window(start, end, since_minutes, now)
    if (end_t - start_t).total_seconds() > MAX_LOG_RANGE_SECONDS:
        raise InvalidInputError(f"the time range may span at most {MAX_LOG_RANGE_SECONDS // 86_400} days")
    return start_t, end_t


def epoch_ms_iso(value: object) -> str | None:
    """ISO 8601 UTC (``2026-05-01T12:00:00.123Z``) of an epoch-milliseconds value, shown beside it; None for none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        stamp = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def s3_bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def log_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"
