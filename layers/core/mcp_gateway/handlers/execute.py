"""Execute step: the only code whose role can read data. It runs one already-authorized action, redacts the
result (secrets always; PII per policy and group) and caps it under the Step Functions payload limit.

It never raises for an AWS-side failure: it returns ``status: error`` with a reason code, so the outcome is
audited like any other. Unredacted data never leaves this function.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from ..adapters.aws import error_code
from ..domain.contracts import ExecuteInput, ExecuteResult
from ..domain.errors import ReasonCode
from ..domain.redaction import RedactionConfig, Redactor

ClientFactory = Callable[[str, dict[str, Any]], Any]

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "ResourceNotFoundException", "NotFound", "404"}
BAD_INPUT = {"InvalidRange", "InvalidParameterException", "InvalidParameterValue", "MalformedQueryException"}
BINARY_SAMPLE = 4096
# Logs Insights: poll GetQueryResults inside this step, at most QUERY_POLL_ATTEMPTS times (about 20 s in all).
QUERY_POLL_ATTEMPTS = 25
QUERY_POLL_MAX_INTERVAL = 1.0
QUERY_TERMINAL_FAILURES = {"Failed", "Cancelled", "Timeout", "Unknown"}
# Leading bytes that identify common binary formats (reported instead of content).
MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"PAR1", "parquet"),
    (b"\x7fELF", "elf"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def _merge(total: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v


def detected_type(data: bytes) -> str | None:
    for magic, name in MAGIC:
        if data.startswith(magic):
            return name
    return None


def looks_binary(data: bytes) -> bool:
    if detected_type(data) is not None:
        return True
    sample = data[:BINARY_SAMPLE]
    # a page that starts inside a multi-byte character (an arbitrary offset) is still text
    skip = 0
    while skip < 3 and skip < len(sample) and (sample[skip] & 0xC0) == 0x80:
        skip += 1
    sample = sample[skip:]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the sample's end is still text
        return exc.start < len(sample) - 4
    return False


class Executor:
    def __init__(
        self,
        clients: ClientFactory,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        query_poll_attempts: int = QUERY_POLL_ATTEMPTS,
        exact_secrets: tuple[str, ...] = (),
    ) -> None:
        self.clients = clients
        # the function's own secrets (e.g. its role's credentials): never in a result, whatever their shape
        self.exact_secrets = tuple(s for s in exact_secrets if s and len(s) >= 8)
        self.clock = clock
        self.sleep = sleep
        self.query_poll_attempts = query_poll_attempts
        self._redactors: dict[str, Redactor] = {}
        self._lock = threading.Lock()

    def _redactor(self, limits: dict[str, Any]) -> Redactor:
        key = json.dumps([limits.get("pii_classes"), limits.get("customer_id_patterns")], sort_keys=True)
        with self._lock:
            red = self._redactors.get(key)
            if red is None:
                red = Redactor(
                    RedactionConfig(
                        pii_classes=frozenset(limits.get("pii_classes") or ()),
                        customer_id_patterns=tuple(limits.get("customer_id_patterns") or ()),
                        exact_secrets=self.exact_secrets,
                    )
                )
                self._redactors[key] = red
            return red

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """``ExecuteInput`` in, ``ExecuteResult`` out (a result that breaks its contract is withheld)."""
        started = self.clock()
        try:
            job = parse(event=event, model=ExecuteInput)
            out = self._run(job.request.model_dump(mode="json"), job.limits.model_dump(mode="json"))
        except ValidationError:
            out = {"status": "error", "reason": ReasonCode.EXECUTION_ERROR.value, "message": "ValidationError"}
        except ClientError as exc:
            code = error_code(exc)
            reason = (
                ReasonCode.AWS_ACCESS_DENIED
                if code in ACCESS_DENIED
                else ReasonCode.NOT_FOUND
                if code in NOT_FOUND
                else ReasonCode.INVALID_INPUT
                if code in BAD_INPUT
                else ReasonCode.EXECUTION_ERROR
            )
            out = {"status": "error", "reason": reason.value, "message": f"AWS answered {code[:64]}"}
        except (BotoCoreError, ValueError, KeyError, TypeError) as exc:
            out = {
                "status": "error",
                "reason": ReasonCode.EXECUTION_ERROR.value,
                "message": type(exc).__name__,
            }
        out["duration_ms"] = round((self.clock() - started) * 1000, 2)
        try:
            result = ExecuteResult.model_validate(out)
        except ValidationError:
            result = ExecuteResult(
                status="error",
                reason=ReasonCode.EXECUTION_ERROR,
                message="the result did not match its contract",
                duration_ms=out["duration_ms"],
            )
        return result.model_dump(mode="json")

    def _run(self, request: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
        tool = request.get("tool", "")
        params = dict(request.get("parameters") or {})
        client = self.clients(str(request["service"]), request.get("principal") or {})
        redactor = self._redactor(limits)
        pii = not bool(limits.get("see_pii", False))
        max_bytes = int(limits.get("max_result_bytes", 200_000))
        handler = getattr(self, f"_tool_{tool}", None)
        if handler is None:
            return {
                "status": "error",
                "reason": ReasonCode.UNKNOWN_TOOL.value,
                "message": "no executor for tool",
            }
        if tool == "call_aws":
            result: dict[str, Any] = handler(
                client, params, redactor, pii, max_bytes, limits, operation=str(request["operation"])
            )
        else:
            result = handler(client, params, redactor, pii, max_bytes, limits)
        return result

    # --- tools -------------------------------------------------------------------------------------------
    def _tool_list_buckets(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.list_buckets()
        buckets = [{"name": b["Name"], "created": b["CreationDate"].isoformat()} for b in resp.get("Buckets", [])]
        return _shaped({"buckets": buckets}, red, pii, cap)

    def _tool_list_objects(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.list_objects_v2(**params)
        data = {
            "bucket": params["Bucket"],
            "objects": [
                {"key": o["Key"], "size": o["Size"], "last_modified": o["LastModified"].isoformat()}
                for o in resp.get("Contents", [])
            ],
            "common_prefixes": [p["Prefix"] for p in resp.get("CommonPrefixes", [])],
            "page_token": resp.get("NextContinuationToken"),
        }
        return _paged(data, red, pii, cap)

    def _tool_get_object(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, limits: dict[str, Any]
    ) -> dict[str, Any]:
        resp = client.get_object(**params)
        body: bytes = resp["Body"].read()
        total = _total_size(resp.get("ContentRange"), resp.get("ContentLength", len(body)))
        first = int(str(params.get("Range", "bytes=0-")).split("=")[1].split("-")[0] or 0)
        meta = {
            "bucket": params["Bucket"],
            "key": params["Key"],
            "content_type": resp.get("ContentType", ""),
            "size": total,
            "offset": first,
            "length": len(body),
        }
        counts: dict[str, int] = {}
        meta["detected_type"] = detected_type(body) if first == 0 else None
        if looks_binary(body):
            meta["binary"] = True
            meta["text"] = None
            used = len(body)
        else:
            used, redacted = _fit_text(body, red, pii, cap - 2048)
            meta["binary"] = False
            meta["text"] = redacted.text
            meta["length"] = used
            counts = dict(redacted.counts)
        next_offset = first + used
        out: dict[str, Any] = {
            "status": "ok",
            "data": meta,
            "redactions": counts,
            "bytes_returned": used,
            "truncated": next_offset < total,
        }
        if next_offset < total:
            out["continuation"] = {"offset": next_offset, "remaining_bytes": total - next_offset}
        return _cap(out, cap)

    def _tool_call_aws(
        self,
        client: Any,
        params: dict[str, Any],
        red: Redactor,
        pii: bool,
        cap: int,
        _l: Any,
        *,
        operation: str = "",
    ) -> dict[str, Any]:
        from botocore import xform_name

        method = getattr(client, xform_name(operation), None)
        if method is None:
            return {
                "status": "error",
                "reason": ReasonCode.INVALID_INPUT.value,
                "message": "unknown operation",
            }
        resp = dict(method(**params))
        resp.pop("ResponseMetadata", None)
        body = resp.pop("Body", None)
        if body is not None and hasattr(body, "read"):
            resp["Body"] = "<streaming body omitted; use get_object>"
        data = json.loads(json.dumps(resp, default=str))
        return _shaped(data, red, pii, cap)

    def _tool_put_object(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        body = str(params.pop("Body")).encode("utf-8")
        resp = client.put_object(Body=body, **params)
        data = {
            "bucket": params["Bucket"],
            "key": params["Key"],
            "bytes": len(body),
            "etag": resp.get("ETag", ""),
        }
        return _shaped(data, red, pii, cap)

    def _tool_filter_log_events(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.filter_log_events(**params)
        next_token = resp.get("nextToken")
        data: dict[str, Any] = {"log_group": params["logGroupName"]}
        return _log_page(data, resp.get("events", []), next_token, params, red, pii, cap)

    def _tool_get_log_events(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.get_log_events(**params)
        forward = bool(params.get("startFromHead", True))
        token = resp.get("nextForwardToken" if forward else "nextBackwardToken")
        raw = resp.get("events", [])
        # GetLogEvents always answers a token; at the end of the stream it repeats the one it was given
        next_token = token if raw and token and token != params.get("nextToken") else None
        stream = str(params["logStreamName"])
        events = [{**ev, "logStreamName": stream} for ev in raw]
        data: dict[str, Any] = {"log_group": params["logGroupName"], "log_stream": stream}
        return _log_page(data, events, next_token, params, red, pii, cap)

    def _tool_describe_log_groups(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.describe_log_groups(**params)
        groups = [
            {
                "name": g.get("logGroupName", ""),
                "created": g.get("creationTime"),
                "retention_days": g.get("retentionInDays"),
                "stored_bytes": g.get("storedBytes"),
            }
            for g in resp.get("logGroups", [])
        ]
        return _paged({"log_groups": groups, "page_token": resp.get("nextToken")}, red, pii, cap)

    def _tool_query_logs(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        """Logs Insights as one step: StartQuery, then poll GetQueryResults a bounded number of times."""
        limit = int(params.get("limit", 100))
        query_id = str(client.start_query(**params)["queryId"])
        resp: dict[str, Any] = {}
        status = "Scheduled"
        for attempt in range(self.query_poll_attempts):
            resp = client.get_query_results(queryId=query_id)
            status = str(resp.get("status", "Unknown"))
            if status == "Complete" or status in QUERY_TERMINAL_FAILURES:
                break
            self.sleep(min(QUERY_POLL_MAX_INTERVAL, 0.1 * 1.5**attempt))
        if status != "Complete":
            reason = ReasonCode.EXECUTION_ERROR
            message = (
                f"the query ended with status {status[:20]}"
                if status in QUERY_TERMINAL_FAILURES
                else "the query did not finish in time; narrow the time range or the log groups"
            )
            return {
                "status": "error",
                "reason": reason.value,
                "message": message,
                "data": {"query_id": query_id},
            }
        all_rows = [
            {str(f.get("field", "")): str(f.get("value", "")) for f in row if f.get("field") != "@ptr"}
            for row in resp.get("results", [])
        ]
        counts: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        size = 0
        budget = cap - 4096
        truncated = len(all_rows) > limit
        for row in all_rows[:limit]:
            clean, row_counts = red.redact_value(row, pii=pii)
            item_size = len(json.dumps(clean, default=str)) + 2
            if size + item_size > budget:
                truncated = True
                break
            size += item_size
            _merge(counts, dict(row_counts))
            rows.append(clean)
        stats = {k: v for k, v in (resp.get("statistics") or {}).items() if isinstance(v, int | float)}
        data = {"query_id": query_id, "status": status, "rows": rows, "statistics": stats}
        out: dict[str, Any] = {
            "status": "ok",
            "data": data,
            "redactions": counts,
            "bytes_returned": size,
            "truncated": truncated or len(rows) >= limit,
        }
        if out["truncated"]:
            oldest = _oldest_timestamp(rows)
            out["continuation"] = (
                {"end_time": oldest, "more_may_exist": True}
                if oldest
                else {"more_may_exist": True, "hint": "narrow the time range or add filters"}
            )
        return out

    def _tool_list_metrics(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.list_metrics(**params)
        metrics = [
            {
                "namespace": m.get("Namespace", ""),
                "metric_name": m.get("MetricName", ""),
                "dimensions": [
                    {"name": d.get("Name", ""), "value": d.get("Value", "")} for d in m.get("Dimensions", [])
                ],
            }
            for m in resp.get("Metrics", [])
        ]
        return _paged({"metrics": metrics, "page_token": resp.get("NextToken")}, red, pii, cap)

    def _tool_describe_alarms(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.describe_alarms(**params)

        def iso(value: Any) -> str | None:
            return value.isoformat() if hasattr(value, "isoformat") else None

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
        return _paged({"alarms": alarms, "page_token": resp.get("NextToken")}, red, pii, cap)

    def _tool_head_object(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.head_object(**params)
        modified = resp.get("LastModified")
        data = {
            "bucket": params["Bucket"],
            "key": params["Key"],
            "size": _total_size(resp.get("ContentRange"), resp.get("ContentLength", 0)),
            "content_type": resp.get("ContentType", ""),
            "last_modified": modified.isoformat() if hasattr(modified, "isoformat") else None,
            "etag": resp.get("ETag", ""),
            "storage_class": resp.get("StorageClass"),
            # user metadata values may hold anything: only the keys are shown
            "metadata_keys": sorted((resp.get("Metadata") or {}).keys()),
        }
        return _shaped(data, red, pii, cap)

    def _tool_get_metric_data(
        self, client: Any, params: dict[str, Any], red: Redactor, pii: bool, cap: int, _l: Any
    ) -> dict[str, Any]:
        resp = client.get_metric_data(**params)
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
        queries = params.get("MetricDataQueries") or [{}]
        period = (queries[0].get("MetricStat") or {}).get("Period")
        return _shaped({"period_seconds": period, "series": series}, red, pii, cap)


def _iso_ms(ms: Any) -> str | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _oldest_timestamp(rows: list[dict[str, Any]]) -> str | None:
    """The oldest ``@timestamp`` among Insights rows, as ISO 8601 (AWS: 'YYYY-MM-DD hh:mm:ss.sss' UTC)."""
    found: list[str] = []
    for row in rows:
        value = str(row.get("@timestamp", ""))
        if value.isdigit():
            found.append(_iso_ms(int(value)) or "")
        elif len(value) >= 19 and value[4] == "-":
            found.append(value.replace(" ", "T") + ("" if value.endswith("Z") else "Z"))
    found = [f for f in found if f]
    return min(found) if found else None


def _log_page(
    data: dict[str, Any],
    raw_events: list[dict[str, Any]],
    next_token: str | None,
    params: dict[str, Any],
    red: Redactor,
    pii: bool,
    cap: int,
) -> dict[str, Any]:
    """Redact and cap one page of log events. If the cap cuts the page, the continuation resumes at the last
    returned event's timestamp (events of that same millisecond may repeat: de-duplicate by event_id)."""
    counts: dict[str, int] = {}
    events: list[dict[str, Any]] = []
    size = 0
    budget = cap - 4096
    truncated = False
    for ev in raw_events:
        redacted = red.redact_text(ev.get("message", ""), pii=pii)
        item = {
            "timestamp": ev.get("timestamp"),
            "log_stream": ev.get("logStreamName", ""),
            "message": redacted.text,
            "event_id": ev.get("eventId", ""),
        }
        item_size = len(json.dumps(item)) + 2
        if size + item_size > budget:
            truncated = True
            break
        size += item_size
        _merge(counts, dict(redacted.counts))
        events.append(item)
    data = {**data, "events": events, "page_token": None if truncated else next_token}
    out: dict[str, Any] = {
        "status": "ok",
        "data": data,
        "redactions": counts,
        "bytes_returned": size,
        "truncated": truncated,
    }
    if truncated and events:
        out["continuation"] = {
            "start_time": _iso_ms(events[-1]["timestamp"]),
            "end_time": _iso_ms(params.get("endTime")),
            "after_event_id": events[-1]["event_id"],
        }
    elif next_token:
        out["continuation"] = {"page_token": next_token}
    return out


def _paged(data: dict[str, Any], red: Redactor, pii: bool, cap: int) -> dict[str, Any]:
    out = _shaped(data, red, pii, cap)
    if data.get("page_token"):
        out["continuation"] = {"page_token": data["page_token"]}
    return out


def _utf8_boundary(data: bytes, n: int) -> int:
    """Largest cut <= n that does not split a UTF-8 character (prefers the end of a line)."""
    n = max(0, min(n, len(data)))
    if n == len(data):
        return n
    newline = data.rfind(b"\n", 0, n)
    if newline >= n // 2:
        return newline + 1
    while n > 0 and (data[n] & 0xC0) == 0x80:
        n -= 1
    return n


def _fit_text(body: bytes, red: Redactor, pii: bool, budget: int) -> tuple[int, Any]:
    """Redact the longest prefix of ``body`` whose redacted, JSON-encoded text fits ``budget``.

    Returns (bytes of the original consumed, redaction result). Offsets stay exact in original bytes, so the
    next page starts precisely where this one stopped: nothing lost, nothing duplicated.
    """
    n = len(body)
    for _ in range(8):
        redacted = red.redact_text(body[:n].decode("utf-8", errors="replace"), pii=pii)
        size = len(json.dumps(redacted.text))
        if size <= budget or n == 0:
            return n, redacted
        n = _utf8_boundary(body, int(n * budget / size * 0.95))
    n = _utf8_boundary(body, budget // 8)
    return n, red.redact_text(body[:n].decode("utf-8", errors="replace"), pii=pii)


def _total_size(content_range: str | None, length: int) -> int:
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    return int(length)


def _shaped(data: Any, red: Redactor, pii: bool, cap: int) -> dict[str, Any]:
    clean, counts = red.redact_value(data, pii=pii)
    out = {
        "status": "ok",
        "data": clean,
        "redactions": dict(counts),
        "bytes_returned": len(json.dumps(clean, default=str)),
        "truncated": False,
    }
    return _cap(out, cap)


def _cap(out: dict[str, Any], cap: int) -> dict[str, Any]:
    """Keep the whole result under the cap (the workflow's payload limit is 256 KB)."""
    encoded = json.dumps(out, default=str)
    if len(encoded) <= cap:
        return out
    out["data"] = {"truncated_json": encoded[: max(0, cap - 512)]}
    out["truncated"] = True
    return out
