"""Powertools logging that cannot leak: every record passes through the one Redactor before serialisation.

``RedactingFormatter`` subclasses Powertools' ``LambdaPowertoolsFormatter`` and redacts the whole
structured record (message, extra keys, appended keys, exception text and stack trace) right before it
is turned into a JSON line. Values that are not JSON-native (exceptions, datetimes, arbitrary objects)
are stringified first, so their text is redacted too. If redaction itself fails, the line is replaced
by a minimal record saying so: a log line is never worth a leak.

Use :func:`build_logger` in every function::

    logger = build_logger("gateway", redactor)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import IO, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from .domain.redaction import Redactor

__all__ = ["RedactingFormatter", "build_logger"]

_MAX_DEPTH = 32


def _jsonable(value: Any, default: Any, depth: int = 0) -> Any:
    """A JSON-native copy of ``value``; anything else becomes ``default(value)`` (a string)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > _MAX_DEPTH:
        return "[REDACTED:depth_limit]"
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, default, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, default, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    try:
        converted = default(value)
    except Exception:  # a hostile __str__ must not break logging  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"
    return converted if isinstance(converted, str) else _jsonable(converted, str, depth + 1)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """A ``LambdaPowertoolsFormatter`` whose every output line has been through the Redactor."""

    def __init__(self, redactor: Redactor, *, pii: bool = True, **kwargs: Any) -> None:
        self._redactor = redactor
        self._pii = pii
        super().__init__(**kwargs)

    def use(self, redactor: Redactor, *, pii: bool = True) -> None:
        """Switch to another Redactor (e.g. after a configuration reload)."""
        self._redactor = redactor
        self._pii = pii

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        try:
            plain = _jsonable(log, self.json_default)
            safe, _counts = self._redactor.redact_value(plain, pii=self._pii)
            return super().serialize(safe)
        except Exception:  # fail closed: say that something was logged, never what  # noqa: BLE001
            fallback = {
                "level": str(log.get("level", "ERROR")),
                "location": str(log.get("location", "")),
                "message": "[REDACTED:redaction_error]",
                "timestamp": str(log.get("timestamp", "")),
            }
            return json.dumps(fallback, separators=(",", ":"))


def build_logger(
    service: str,
    redactor: Redactor,
    *,
    level: str | int | None = None,
    stream: IO[str] | None = None,
    pii: bool = True,
    **kwargs: Any,
) -> Logger:
    """A Powertools ``Logger`` for ``service`` whose records are redacted before they are written.

    Powertools reuses an already configured logger of the same service name; the redacting formatter
    is (re)installed on its handler in every case, so no earlier, non-redacting formatter survives.
    """
    formatter = RedactingFormatter(redactor, pii=pii)
    logger = Logger(service=service, level=level, stream=stream, logger_formatter=formatter, **kwargs)
    # Records must not bubble up unredacted to root handlers added after this point (Powertools only filters
    # the root handlers that exist when the Logger is created).
    logging.getLogger(logger.name).propagate = False
    for handler in logging.getLogger(logger.name).handlers:
        current = handler.formatter
        if isinstance(current, RedactingFormatter):
            current.use(redactor, pii=pii)  # keeps the keys already appended to it
        else:
            # a pre-configured logger with a non-redacting formatter: replace it, keep the service key
            handler.setFormatter(formatter)
            formatter.append_keys(service=logger.service)
    return logger
