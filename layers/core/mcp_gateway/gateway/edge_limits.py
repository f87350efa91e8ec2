"""The bounded edge of ``POST /mcp`` (issue 20): cheap checks before any workflow starts, each rejection a
JSON body with a reason code, a request id and an audit record.

Before authentication (no token work spent): the method (stateless mode has no SSE stream: ``GET`` and
``DELETE`` are 405 at once), the header sizes (431) and the body size (413).
After authentication, before the MCP app: the principal's admission (in-flight calls and requests per
minute, one DynamoDB transaction via ``adapters/edge_counters.py``; when the counters cannot be reached the
instance bounds the principal's in-flight calls itself, so the edge is never unbounded and the workflow's
own quota states still decide and audit each call), then the ``Host`` (421) and ``Origin`` (403) headers,
the content type (400) and strict JSON (400 INVALID_INPUT: duplicate keys, NaN/Infinity, nesting deeper
than ``MAX_DEPTH``, a boolean where a tool's schema wants a number).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain.errors import ReasonCode
from ..domain.models import Principal
from ..tools import REGISTRY

MAX_HEADER_VALUE_BYTES = 8_192
MAX_HEADERS_BYTES = 16_384
MAX_BODY_BYTES = 1_048_576
MAX_DEPTH = 32
STATELESS_METHODS = {"POST"}


@dataclass(frozen=True)
class Rejection:
    status: int
    error: str
    reason: ReasonCode
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "reason": self.reason.value, "message": self.message}


class AdmissionPort(Protocol):
    """What the edge needs of its counters (``adapters/edge_counters.EdgeCounters``)."""

    def acquire(self, principal: str, max_in_flight: int, per_minute: int, now: float) -> tuple[str, str]: ...

    def release(self, lease: str) -> None: ...


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-JSON number {name}")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


_NUMERIC = {"integer", "number"}
_SCHEMA_CACHE: dict[str, dict[str, Any]] = {}
_SCHEMA_LOCK = threading.Lock()


def _types(schema: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    kind = schema.get("type")
    if isinstance(kind, str):
        out.add(kind)
    elif isinstance(kind, list):
        out.update(str(k) for k in kind)
    for alt in schema.get("anyOf", []) + schema.get("oneOf", []):
        if isinstance(alt, dict):
            out |= _types(alt)
    return out


def _properties(tool: str) -> dict[str, Any]:
    with _SCHEMA_LOCK:
        cached = _SCHEMA_CACHE.get(tool)
        if cached is None:
            spec = REGISTRY.get(tool)
            cached = dict(spec.input_model.model_json_schema().get("properties", {})) if spec is not None else {}
            _SCHEMA_CACHE[tool] = cached
        return cached


def bool_for_number(message: Any) -> str | None:
    """The first argument of a ``tools/call`` that is a boolean where the tool's schema wants a number."""
    messages = message if isinstance(message, list) else [message]
    for msg in messages:
        if not isinstance(msg, dict) or msg.get("method") != "tools/call":
            continue
        params: dict[str, Any] = msg["params"] if isinstance(msg.get("params"), dict) else {}
        arguments: dict[str, Any] = params["arguments"] if isinstance(params.get("arguments"), dict) else {}
        props = _properties(str(params.get("name", "")))
        for name, value in arguments.items():
            schema = props.get(name)
            if isinstance(value, bool) and isinstance(schema, dict):
                kinds = _types(schema)
                if kinds & _NUMERIC and "boolean" not in kinds:
                    return str(name)
    return None


def strict_json(body: bytes) -> tuple[Any, str]:
    """The parsed body, or (None, why) when it is not strict JSON."""
    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=_pairs, parse_constant=_no_constant)
    except _DuplicateKey:
        return None, "a JSON object repeats a key"
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "the body is not JSON"
    if _depth(value) > MAX_DEPTH:
        return None, f"the JSON nests deeper than {MAX_DEPTH} levels"
    return value, ""


def before_authentication(method: str, headers: dict[str, str], body_size: int) -> Rejection | None:
    if method not in STATELESS_METHODS:
        return Rejection(
            405,
            "method_not_allowed",
            ReasonCode.METHOD_NOT_ALLOWED,
            "this MCP endpoint is stateless: POST only (no SSE stream, no session to delete)",
            (("allow", "POST"),),
        )
    sizes = [len(k) + len(v) for k, v in headers.items()]
    if any(s > MAX_HEADER_VALUE_BYTES for s in sizes) or sum(sizes) > MAX_HEADERS_BYTES:
        return Rejection(431, "request_header_fields_too_large", ReasonCode.HEADERS_TOO_LARGE, "headers too large")
    if body_size > MAX_BODY_BYTES:
        return Rejection(413, "request_too_large", ReasonCode.REQUEST_TOO_LARGE, "the body is larger than 1 MiB")
    return None


def after_authentication(
    headers: dict[str, str], body: bytes, allowed_hosts: list[str], allowed_origins: list[str]
) -> Rejection | None:
    host = headers.get("host", "")
    if host not in allowed_hosts:
        return Rejection(421, "misdirected_request", ReasonCode.HOST_NOT_ALLOWED, "this Host is not served here")
    origin = headers.get("origin")
    if origin is not None and origin not in allowed_origins:
        return Rejection(403, "forbidden", ReasonCode.ORIGIN_NOT_ALLOWED, "this Origin may not call the gateway")
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        return Rejection(
            400, "invalid_request", ReasonCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"
        )
    message, why = strict_json(body)
    if why:
        return Rejection(400, "invalid_request", ReasonCode.INVALID_INPUT, why)
    name = bool_for_number(message)
    if name is not None and name.replace("_", "").isalnum():
        return Rejection(400, "invalid_request", ReasonCode.INVALID_INPUT, f"argument {name[:64]} must be a number")
    if name is not None:
        return Rejection(400, "invalid_request", ReasonCode.INVALID_INPUT, "an argument must be a number")
    return None


class EdgeAdmission:
    """Per-principal in-flight and per-minute bounds. Fails closed: counters that cannot be read or written
    refuse the call (503)."""

    def __init__(
        self,
        counters: AdmissionPort | None,
        *,
        max_in_flight: int,
        per_minute: int,
        clock: Callable[[], float],
    ) -> None:
        self.counters = counters
        self.max_in_flight = max_in_flight
        self.per_minute = per_minute
        self.clock = clock
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def _local(self, principal: Principal) -> Iterator[bool]:
        """The fallback bound when the shared counters cannot be reached: this instance's in-flight calls of
        the principal (the per-minute budget and the workflow's own quotas still apply downstream)."""
        key = principal.email.lower()
        with self._lock:
            over = self._in_flight.get(key, 0) >= self.max_in_flight
            if not over:
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            yield over
        finally:
            if not over:
                with self._lock:
                    self._in_flight[key] -= 1

    @contextmanager
    def admitted(self, principal: Principal) -> Iterator[Rejection | None]:
        if self.counters is None:
            yield None
            return
        try:
            verdict, lease = self.counters.acquire(
                principal.email.lower(), self.max_in_flight, self.per_minute, self.clock()
            )
        except Exception:  # noqa: BLE001 - unreadable counters: still bounded, by this instance's own count
            with self._local(principal) as over:
                if over:
                    yield Rejection(
                        429,
                        "too_many_requests",
                        ReasonCode.EDGE_CONCURRENCY_EXCEEDED,
                        f"at most {self.max_in_flight} calls at once per user",
                        (("retry-after", "1"),),
                    )
                else:
                    yield None
            return
        if verdict == "in_flight":
            yield Rejection(
                429,
                "too_many_requests",
                ReasonCode.EDGE_CONCURRENCY_EXCEEDED,
                f"at most {self.max_in_flight} calls at once per user",
                (("retry-after", "1"),),
            )
            return
        if verdict == "per_minute":
            yield Rejection(
                429,
                "too_many_requests",
                ReasonCode.EDGE_BUDGET_EXCEEDED,
                f"at most {self.per_minute} requests a minute per user",
                (("retry-after", "60"),),
            )
            return
        try:
            yield None
        finally:
            with suppress(Exception):  # a lost release heals when its window ends
                self.counters.release(lease)


def _reply(rejection: Rejection, request_id: str) -> dict[str, Any]:
    return {
        "statusCode": rejection.status,
        "headers": {
            "content-type": "application/json",
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
            **dict(rejection.headers),
        },
        "body": json.dumps({**rejection.body(), "request_id": request_id}),
        "isBase64Encoded": False,
    }


EdgeAudit = Callable[[dict[str, Any], Rejection, Principal | None, str], None]


class EdgeGuard:
    """What ``edge.Gateway.mcp`` calls: ``early`` before authentication, ``bounded`` around the MCP app."""

    def __init__(self, admission: EdgeAdmission, audit: EdgeAudit, new_id: Callable[[], str]) -> None:
        self.admission = admission
        self.audit = audit
        self.new_id = new_id

    def _refuse(self, event: dict[str, Any], rejection: Rejection, principal: Principal | None) -> dict[str, Any]:
        request_id = self.new_id()  # in the answer and the audit record: the refusal can be looked up
        with suppress(Exception):  # the refusal stands; the audit sink logs its own failure
            self.audit(event, rejection, principal, request_id)
        return _reply(rejection, request_id)

    def early(self, event: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> dict[str, Any] | None:
        rejection = before_authentication(method, headers, len(body))
        return self._refuse(event, rejection, None) if rejection is not None else None

    def bounded(
        self,
        event: dict[str, Any],
        principal: Principal,
        headers: dict[str, str],
        body: bytes,
        hosts: list[str],
        origins: list[str],
        serve: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        with self.admission.admitted(principal) as refused:
            if refused is not None:
                return self._refuse(event, refused, principal)
            rejection = after_authentication(headers, body, hosts, origins)
            if rejection is not None:
                return self._refuse(event, rejection, principal)
            return serve()
