"""Powertools logs pass through the Redactor: no raw secret in any emitted JSON line."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from mcp_gateway.domain.redaction import RedactionConfig, Redactor
from mcp_gateway.logging_redaction import RedactingFormatter, build_logger

AWS_KEY_ID = "AKIAQ3EGTX7PLV5ZBN2D"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYq8Zx3Lm2Nv"
GITHUB = "ghp_R8xk2LmQ9vTz4WcY7bNp3HsJ6dFg1KaE5uXo"
RAW = (AWS_KEY_ID, AWS_SECRET, GITHUB, "hunter2hunter2", "alice@example.com", "S3cr3t-Pa55")


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(RedactionConfig())


def capture(redactor: Redactor, **kwargs: Any) -> tuple[Any, io.StringIO]:
    stream = io.StringIO()
    logger = build_logger(f"redaction-test-{uuid.uuid4().hex[:8]}", redactor, stream=stream, **kwargs)
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_secret_in_the_message_is_redacted_before_the_line_is_written(redactor: Redactor) -> None:
    logger, stream = capture(redactor)

    logger.info(f"calling S3 with {AWS_KEY_ID}")

    [record] = lines(stream)
    assert record["message"] == "calling S3 with [REDACTED:aws_access_key_id]"
    assert AWS_KEY_ID not in stream.getvalue()


def test_extra_keys_appended_keys_and_dict_messages_are_redacted(redactor: Redactor) -> None:
    logger, stream = capture(redactor)
    logger.append_keys(requester="alice@example.com")

    logger.info("request", extra={"password": "hunter2hunter2", "headers": {"Authorization": f"Bearer {GITHUB}"}})
    logger.info({"event": "db", "dsn": "postgres://app:S3cr3t-Pa55@db.internal/app"})

    first, second = lines(stream)
    assert first["password"] == "[REDACTED:password]"
    assert first["headers"]["Authorization"] == "[REDACTED:authorization]"
    assert first["requester"] == "[REDACTED:email]"
    assert second["message"]["dsn"] == "postgres://app:[REDACTED:url_password]@db.internal/app"
    assert not any(raw in stream.getvalue() for raw in RAW)


def test_exception_text_and_structured_stack_traces_are_redacted(redactor: Redactor) -> None:
    logger, stream = capture(redactor)

    try:
        raise RuntimeError(f"S3 said no to aws_secret_access_key={AWS_SECRET}")
    except RuntimeError:
        logger.exception("upload failed")

    [record] = lines(stream)
    assert "[REDACTED:aws_secret_key]" in record["exception"]
    assert record["stack_trace"]["value"].endswith("[REDACTED:aws_secret_key]")
    assert AWS_SECRET not in stream.getvalue()


def test_non_json_values_are_stringified_and_then_redacted(redactor: Redactor) -> None:
    class Opaque:
        def __str__(self) -> str:
            return f"Opaque(token={GITHUB})"

    logger, stream = capture(redactor)

    logger.info("object", extra={"thing": Opaque(), "raw": GITHUB.encode(), "tags": {"a"}})

    [record] = lines(stream)
    assert record["thing"] == "Opaque(token=[REDACTED:github_token])"
    assert record["raw"] == "[REDACTED:github_token]"
    assert GITHUB not in stream.getvalue()


def test_pii_can_be_kept_in_logs_when_the_logger_is_built_so(redactor: Redactor) -> None:
    logger, stream = capture(redactor, pii=False)

    logger.info("login alice@example.com with password=hunter2hunter2")

    [record] = lines(stream)
    assert record["message"] == "login alice@example.com with password=[REDACTED:password]"


def test_a_failing_redactor_produces_a_placeholder_line_not_the_original(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(value: Any, *, pii: bool = True) -> tuple[Any, dict[str, int]]:
        raise RuntimeError("boom")

    monkeypatch.setattr(redactor, "redact_value", boom)
    logger, stream = capture(redactor)

    logger.info(f"secret {AWS_KEY_ID}")

    [record] = lines(stream)
    assert record["message"] == "[REDACTED:redaction_error]"
    assert AWS_KEY_ID not in stream.getvalue()


def test_rebuilding_a_logger_for_the_same_service_keeps_it_redacting(redactor: Redactor) -> None:
    service = f"redaction-test-{uuid.uuid4().hex[:8]}"
    stream = io.StringIO()
    build_logger(service, redactor, stream=stream)

    again = build_logger(service, Redactor(RedactionConfig(exact_secrets=("rotated-secret-value",))))
    again.info("value rotated-secret-value and key " + AWS_KEY_ID)

    [record] = lines(stream)
    assert record["message"] == "value [REDACTED:known_secret] and key [REDACTED:aws_access_key_id]"
    assert record["service"] == service


def test_the_formatter_is_a_powertools_formatter(redactor: Redactor) -> None:
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    logger, _stream = capture(redactor)

    assert isinstance(logger.registered_formatter, RedactingFormatter)
    assert isinstance(logger.registered_formatter, LambdaPowertoolsFormatter)
