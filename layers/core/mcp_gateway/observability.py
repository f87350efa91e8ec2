"""Powertools Logger (structured JSON, redacting every record) and Metrics (EMF), shared by all functions.

The caller's W3C trace in every log line of one invocation, and (on AWS) on its X-Ray subsegment. A tools/call's
``traceparent`` (``_meta.traceparent``, else the HTTP header; ``domain/tracing.py`` validates it) travels in the
workflow's request (``request.context.traceparent``). Each workflow function appends it, with the request id and
the step's name, to its Powertools logger keys for the length of the invocation (``step`` wraps the handler;
``bound`` is the context manager behind it, which the gateway uses per call) and logs one line when done.

The keys are Powertools' *thread-safe* keys (a context variable): the local stack runs every function in one
process, on several threads, where the plain ``append_keys`` would leak one invocation's trace into another's
lines; on Lambda (one invocation per process at a time) both behave alike. On AWS (``LAMBDA_TASK_ROOT`` set; the
template enables active tracing) the step also runs in an X-Ray subsegment annotated with the trace and the
request id, so a trace is found by the caller's trace id; locally tracing is off and no X-Ray code runs.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from .domain.redaction import RedactionConfig, Redactor
from .domain.tracing import parse_traceparent, trace_id
from .logging_redaction import RedactingFormatter, build_logger

# An invocation that records no metric is normal (e.g. a denied call has nothing to count in some functions).
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "mcp-gateway")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "McpGateway")

logger: Logger = build_logger(SERVICE, Redactor(RedactionConfig()))


class InvocationMetrics(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider with one metric set per invocation.

    Powertools keeps one metric set per process (class-level dicts shared by every ``Metrics``) and, when
    metrics are disabled (``POWERTOOLS_METRICS_DISABLED``), never clears it: values pile up across invocations
    until 100 are printed in one blob. Here the sets belong to the invoking thread (the local stack runs every
    function in threads of one process; on Lambda one invocation is one thread), ``@metrics.log_metrics``
    always leaves them empty, and a disabled provider keeps and prints nothing."""

    def __init__(self, **kwargs: Any) -> None:
        self._local = threading.local()
        super().__init__(**kwargs)

    def _sets(self) -> Any:
        sets = self._local
        if not hasattr(sets, "metric_set"):
            sets.metric_set = {}
            sets.dimension_set = {k: str(v) for k, v in getattr(self, "default_dimensions", {}).items()}
            sets.dimension_sets = []
            sets.metadata_set = {}
        return sets

    @property
    def metric_set(self) -> dict[str, Any]:
        return self._sets().metric_set  # type: ignore[no-any-return]

    @metric_set.setter
    def metric_set(self, value: dict[str, Any]) -> None:
        self._sets().metric_set = value

    @property
    def dimension_set(self) -> dict[str, str]:
        return self._sets().dimension_set  # type: ignore[no-any-return]

    @dimension_set.setter
    def dimension_set(self, value: dict[str, str]) -> None:
        self._sets().dimension_set = value

    @property
    def dimension_sets(self) -> list[dict[str, str]]:
        return self._sets().dimension_sets  # type: ignore[no-any-return]

    @dimension_sets.setter
    def dimension_sets(self, value: list[dict[str, str]]) -> None:
        self._sets().dimension_sets = value

    @property
    def metadata_set(self) -> dict[str, Any]:
        return self._sets().metadata_set  # type: ignore[no-any-return]

    @metadata_set.setter
    def metadata_set(self, value: dict[str, Any]) -> None:
        self._sets().metadata_set = value

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        if is_metrics_disabled():
            return  # nothing kept, so nothing can pile up and be printed at 100 values
        super().add_metric(*args, **kwargs)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        self.clear_metrics()  # the next invocation starts empty, whatever happened in this one


metrics = Metrics(
    namespace=NAMESPACE, service=SERVICE, provider=InvocationMetrics(namespace=NAMESPACE, service=SERVICE)
)

_MAX_EXACT = 256
_exact: set[str] = set()
_exact_lock = threading.Lock()


def add_exact_secrets(*values: str) -> None:
    """Exact-value redaction of the gateway's own secrets (signing keys, Slack secrets, HMAC keys) in every
    log line from the moment they are loaded. Idempotent and cheap when nothing new is added; values shorter
    than 8 characters are ignored (too short to redact without false positives)."""
    fresh = {v for v in values if isinstance(v, str) and 8 <= len(v) <= 65_536} - _exact
    if not fresh:
        return
    with _exact_lock:
        _exact.update(fresh)
        kept = tuple(sorted(_exact, key=len, reverse=True)[:_MAX_EXACT])
        redactor = Redactor(RedactionConfig(exact_secrets=kept))
        for handler in logging.getLogger(logger.name).handlers:
            if isinstance(handler.formatter, RedactingFormatter):
                handler.formatter.use(redactor)


# --- the caller's trace ------------------------------------------------------------------------------------
Handler = Callable[[dict[str, Any], Any], Any]

_tracer: Any = None


def _xray() -> Any:
    """The Powertools Tracer on AWS with tracing on; None elsewhere (locally, in tests)."""
    global _tracer  # noqa: PLW0603 - one tracer per process, built on first use
    if not os.environ.get("LAMBDA_TASK_ROOT") or os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in (
        "1",
        "true",
    ):
        return None
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(auto_patch=False)
    return _tracer


@contextmanager
def bound(**keys: str) -> Iterator[None]:
    """The non-empty ``keys`` on every log line of this thread/task until the block ends (then the previous keys)."""
    before = dict(logger.thread_safe_get_current_keys())
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v})
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
        if before:
            logger.thread_safe_append_keys(**before)


def request_trace(event: Any) -> tuple[str, str]:
    """(request id, traceparent) of a workflow function's event (``{"request": {...}, ...}``); "" when absent."""
    request = event.get("request") if isinstance(event, Mapping) else None
    if not isinstance(request, Mapping):
        return "", ""
    rid = request.get("request_id")
    context = request.get("context")
    trace = parse_traceparent(context.get("traceparent")) if isinstance(context, Mapping) else ""
    return (rid[:80] if isinstance(rid, str) else ""), trace


@contextmanager
def _subsegment(name: str, request_id: str, traceparent: str) -> Iterator[None]:
    tracer = _xray()
    if tracer is None:
        yield
        return
    with tracer.provider.in_subsegment(f"## {name}") as subsegment:
        if request_id:
            subsegment.put_annotation("request_id", request_id)
        if traceparent:
            subsegment.put_annotation("traceparent", traceparent)
            subsegment.put_annotation("w3c_trace_id", trace_id(traceparent))
        yield


def step(name: str) -> Callable[[Handler], Handler]:
    """Decorate a workflow function's handler (inside ``inject_lambda_context``, which clears the plain keys):
    the invocation's log lines carry ``step``, ``request_id`` and ``traceparent``, and one line says it is done."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def traced(event: dict[str, Any], context: Any) -> Any:
            request_id, traceparent = request_trace(event)
            started = time.perf_counter()
            with bound(step=name, request_id=request_id, traceparent=traceparent):
                with _subsegment(name, request_id, traceparent):
                    out = handler(event, context)
                logger.info(f"{name} done", extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)})
            return out

        return traced

    return decorate


def http_trace(headers: Mapping[str, Any] | None) -> Any:
    """A context for one HTTP invocation of the gateway: the ``traceparent`` header (when valid) on its lines."""
    trace = parse_traceparent((headers or {}).get("traceparent"))
    return bound(step="gateway", traceparent=trace) if trace else nullcontext()
