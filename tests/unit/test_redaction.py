"""The redaction engine: every detector, every encoding, structured values, streams and configuration."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from mcp_gateway.domain.errors import PolicyError, ReasonCode
from mcp_gateway.domain.redaction import (
    PII_CLASSES,
    SECRET_TYPES,
    RedactionConfig,
    RedactionResult,
    Redactor,
    UnsafePatternError,
    key_secret_type,
    validate_customer_id_pattern,
)
from pydantic import ValidationError

AWS_KEY_ID = "AKIAQ3EGTX7PLV5ZBN2D"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYq8Zx3Lm2Nv"
GITHUB = "ghp_" + "R8xk2LmQ9vTz4WcY7bNp3HsJ6dFg1KaE5uXo"
JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1c2VyLTEyMyIsImF1ZCI6Im1jcC1nYXRld2F5IiwiZXhwIjoxNzA1MzAwOTAwfQ."
    "dGhpc2lzYWZha2VzaWduYXR1cmVfX19fX19fX19fX19fX19fX19fX19fX19fX19fXw"
)
PEM_BODY = [
    "MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
]
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA PRIVATE KEY-----"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(customer_id_patterns=(r"\bcus_[A-Za-z0-9]{14}\b", r"\bCUST-\d{6,10}\b")))


def redact(redactor: Redactor, text: str, *, pii: bool = True) -> RedactionResult:
    return redactor.redact_text(text, pii=pii)


# --------------------------------------------------------------------------------------------------
# secrets: one case per detector
# --------------------------------------------------------------------------------------------------

DETECTOR_CASES: list[tuple[str, str, str]] = [
    ("aws_access_key_id", f"using {AWS_KEY_ID} for upload", AWS_KEY_ID),
    ("aws_access_key_id", "ASIAY34FZKBOKMUTVV7A in session", "ASIAY34FZKBOKMUTVV7A"),
    ("aws_secret_key", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("aws_secret_key", f"AKIA creds {AWS_KEY_ID} {AWS_SECRET}", AWS_SECRET),
    ("aws_session_token", "token IQoJb3JpZ2luX2VjEJr" + "A1b2C3d4" * 20, "A1b2C3d4A1b2C3d4"),
    ("aws_session_token", "aws_session_token=FwoGZXIvYXdzEBQaDK" + "Zz9Yy8Xx" * 20, "Zz9Yy8XxZz9Yy8Xx"),
    ("aws_signature", "X-Amz-Signature=" + "ab12" * 16, "ab12ab12ab12"),
    ("jwt", f"cookie-less call with {JWT} attached", JWT[40:80]),
    ("private_key", PEM, PEM_BODY[1]),
    ("private_key", PEM.replace("RSA PRIVATE KEY", "EC PRIVATE KEY"), PEM_BODY[1]),
    ("private_key", PEM.replace("RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), PEM_BODY[1]),
    (
        "openssh_private_key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        + PEM_BODY[2]
        + "\n-----END OPENSSH PRIVATE KEY-----",
        PEM_BODY[2],
    ),
    (
        "putty_private_key",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key\nPublic-Lines: 2\n"
        "AAAAC3NzaC1lZDI1NTE5AAAAIKx\nQ9z8\nPrivate-Lines: 1\nAAAAIGb7Tq3WcR9xLm2Vz5Kp8Yn4Hd6Js1Fa0Xe\n"
        "Private-MAC: 6f1c0e2b9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b",
        "AAAAIGb7Tq3WcR9xLm2Vz5Kp8Yn4Hd6Js1Fa0Xe",
    ),
    ("url_password", "DATABASE_URL=postgres://app:S3cr3t-Pa55word@db.internal:5432/app", "S3cr3t-Pa55word"),
    ("authorization", "Authorization: Basic " + base64.b64encode(b"svc:Tr0ub4dor-99").decode(), "dHIwdWI0"),
    (
        "bearer_token",
        "curl -H 'Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c9b8a7f6e' https://x",
        "9f8e7d6c5b4a",
    ),
    (
        "authorization",
        "authorization: AWS4-HMAC-SHA256 Credential=x, Signature=deadbeef00112233",
        "deadbeef0011",
    ),
    ("slack_token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOp"),
    ("slack_token", "xapp-1-A0123456789-1234567890123-" + "ab" * 32, "abababababab"),
    (
        "slack_webhook",
        "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXxxxxXXXXxxxxXXXXxxxx",
        "XXXXxxxx",
    ),
    ("github_token", f"git push https://x@github.com token {GITHUB}", GITHUB[4:20]),
    ("github_token", "github_pat_11ABCDEFG0123456789abc_" + "Zy9" * 20, "Zy9Zy9Zy9Zy9"),
    ("gitlab_token", "glpat-Ab3dEf6hIj9kLm2nOp5q", "Ab3dEf6hIj9kLm2n"),
    ("stripe_key", "stripe.api_key = sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjt"),
    ("stripe_key", "rk_live_51HqLyjWDarjtT1zdp7dcAbCd", "51HqLyjWDarjtT1z"),
    ("google_api_key", "maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "SyA1b2C3d4E5f6G7"),
    ("npm_token", "//npm.internal.example/:_authToken=npm_" + "a1B2c3D4e5" * 3 + "F6g7H8", "a1B2c3D4e5a1B2c3"),
    ("sendgrid_api_key", "SG." + "a" * 22 + "." + "B1c2D3e4F5" * 4 + "G6h", "B1c2D3e4F5B1c2D3"),
    ("openai_api_key", "OPENAI sk-proj-" + "Ab1Cd2Ef3" * 6, "Ab1Cd2Ef3Ab1Cd2E"),
    ("anthropic_api_key", "sk-ant-api03-" + "Xy7Zw8Vu9" * 10 + "AA", "Xy7Zw8Vu9Xy7Zw8V"),
    ("password", '{"db_password": "correct horse battery staple"}', "correct horse battery staple"),
    ("password", "export PGPASSWORD=Hunter2Hunter2", "Hunter2Hunter2"),
    ("password", "[database]\npasswd = my secret phrase 42\n", "my secret phrase 42"),
    ("password", "mysql --user=root --password Sup3r-S3cret! db", "Sup3r-S3cret!"),
    ("password", "<password>Xml-Pa55-Value</password>", "Xml-Pa55-Value"),
    ("secret", "client_secret: 7hK2mP9xQ4vR1tY6wZ3nB8cL", "7hK2mP9xQ4vR1tY6"),
    ("api_key", "x-api-key: 3fa85f6457174562b3fc2c963f66afa6", "3fa85f6457174562"),
    ("token", "refresh_token=Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4", "Zm9vYmFyYmF6cXV4"),
    ("cookie", "Cookie: session=s%3Aabc123def456.Xy9; theme=dark", "abc123def456"),
    ("high_entropy", "rotated: the new secret is Qm9v7Xz2Lk8Pw3Rt5Yn1 for now", "Qm9v7Xz2Lk8Pw3Rt5Yn1"),
]


@pytest.mark.parametrize(
    ("kind", "text", "raw"), DETECTOR_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(DETECTOR_CASES)]
)
def test_each_secret_detector_redacts_its_secret_and_reports_its_type(
    redactor: Redactor, kind: str, text: str, raw: str
) -> None:
    result = redact(redactor, text, pii=False)
    assert kind in result.counts, result
    assert raw not in result.text
    assert f"[REDACTED:{kind}" in result.text


def test_an_aws_secret_key_in_a_json_log_line_is_redacted_with_its_type_visible(redactor: Redactor) -> None:
    line = json.dumps({"level": "INFO", "message": "loaded", "aws_secret_access_key": AWS_SECRET})

    result = redact(redactor, line)

    assert json.loads(result.text)["aws_secret_access_key"] == "[REDACTED:aws_secret_key]"
    assert result.counts == {"aws_secret_key": 1}


def test_the_key_name_and_the_surrounding_text_survive_redaction(redactor: Redactor) -> None:
    result = redact(redactor, "2024-01-15 INFO connecting password=hunter2hunter2 attempt=2")

    assert result.text == "2024-01-15 INFO connecting password=[REDACTED:password] attempt=2"


def test_secret_detectors_stay_on_when_pii_is_switched_off(redactor: Redactor) -> None:
    result = redact(redactor, f"alice@example.com used {AWS_KEY_ID}", pii=False)

    assert result.counts == {"aws_access_key_id": 1}
    assert "alice@example.com" in result.text


def test_every_reported_type_is_a_documented_type(redactor: Redactor) -> None:
    for kind, text, _raw in DETECTOR_CASES:
        assert set(redact(redactor, text).counts) <= SECRET_TYPES | PII_CLASSES, kind


def test_redacting_already_redacted_text_changes_nothing(redactor: Redactor) -> None:
    for _kind, text, _raw in DETECTOR_CASES:
        once = redact(redactor, text).text
        twice = redact(redactor, once)
        assert twice.text == once
        assert twice.counts == {}


# --------------------------------------------------------------------------------------------------
# PII
# --------------------------------------------------------------------------------------------------

PII_CASES: list[tuple[str, str, str]] = [
    ("email", "order placed by alice.martin+orders@corp.example.org today", "alice.martin"),
    ("phone", "call +1 415-555-0132 now", "415-555-0132"),
    ("phone", "call +44 20 7946 0958 now", "7946 0958"),
    ("phone", "call (212) 555-0187 now", "555-0187"),
    ("phone", "call 415.555.0199 now", "555.0199"),
    ("phone", "call 020 7946 0018 now", "7946 0018"),
    ("phone", '{"mobile": "0612345678"}', "0612345678"),
    ("credit_card", "card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
    ("credit_card", "card=5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("credit_card", "amex 378282246310005 ok", "378282246310005"),
    ("ipv4", "client 203.0.113.45:51234 connected", "203.0.113.45"),
    ("ipv6", "client [2001:db8:85a3::8a2e:370:7334]:443", "2001:db8:85a3::8a2e:370:7334"),
    ("ipv6", "from fe80:0:0:0:202:b3ff:fe1e:8329 via eth0", "fe80:0:0:0:202:b3ff:fe1e:8329"),
    ("customer_id", "refund for cus_A1b2C3d4E5f6G7 done", "cus_A1b2C3d4E5f6G7"),
    ("customer_id", "ticket CUST-00123456 closed", "CUST-00123456"),
]


@pytest.mark.parametrize(("kind", "text", "raw"), PII_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(PII_CASES)])
def test_each_pii_class_is_redacted_when_pii_is_on_and_kept_when_off(
    redactor: Redactor, kind: str, text: str, raw: str
) -> None:
    on = redact(redactor, text)
    off = redact(redactor, text, pii=False)

    assert on.counts == {kind: 1}
    assert raw not in on.text
    assert off.text == text


NOT_PII = [
    "2024-01-15T10:00:00.123+01:00 started",
    "2024-01-15 10:00:00 +0000 build 12345 finished",
    "request 3f2a1c4b-5d6e-4f80-9a1b-2c3d4e5f6a7b done",
    "arn:aws:iam::123456789012:role/orders-execution-role",
    "boto3/1.44.5 botocore/1.44.5 Python/3.13.0 Linux/5.10.219-208.866.amzn2.x86_64",
    "version v2.31.0-rc1 and 1.2.3",
    "took 00:01:23.456 (1705312800123 epoch ms)",
    "kinesis sequence 49590338271490256608559692538361571095921575989136588898",
    "mac 0a:1b:2c:3d:4e:5f mtu 9001 at 12:30:45",
    "listening on 0.0.0.0:8080 and 127.0.0.1:9000 and [::1]:443",
    "card-like but not Luhn 4111 1111 1111 1112",
    "git commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
]


@pytest.mark.parametrize("text", NOT_PII)
def test_timestamps_uuids_arns_versions_and_loopbacks_are_not_mistaken_for_pii(redactor: Redactor, text: str) -> None:
    assert redact(redactor, text).counts == {}


def test_pii_classes_can_be_narrowed_in_the_configuration() -> None:
    only_email = Redactor(RedactionConfig(pii_classes=frozenset({"email"})))

    result = only_email.redact_text("alice@example.com from 203.0.113.45")

    assert result.counts == {"email": 1}
    assert "203.0.113.45" in result.text


def test_an_unknown_pii_class_is_rejected_at_construction() -> None:
    with pytest.raises(ValidationError):
        RedactionConfig(pii_classes=frozenset({"emial"}))


NOT_SECRETS = [
    '{"NextToken": "eyJleGFtcGxlIjoxfQ", "ItemCount": 3}',
    '{"token_count": 1234, "max_tokens": 4096, "token_type": "Bearer"}',
    '{"password_policy": "strict", "password_min_length": 14}',
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/db-AbCdEf",
    '{"secret_arn": "arn:aws:sts::123456789012:assumed-role/billing-role/session-9236b12d"}',
    "Invalid token: expired",
    "Authorization header missing",
    "Bearer token expired, requesting a new one",
    "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "x-amz-id-2: eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran",
    "PWD=/home/app OLDPWD=/tmp",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_keys_and_values_that_merely_look_like_secrets_are_left_alone(redactor: Redactor, text: str) -> None:
    assert redact(redactor, text).counts == {}


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("DB_PASSWORD", "password"),
        ("clientSecret", "secret"),
        ("x-api-key", "api_key"),
        ("Authorization", "authorization"),
        ("private_key", "private_key"),
        ("SecretAccessKey", "aws_secret_key"),
        ("aws_session_token", "aws_session_token"),
        ("Set-Cookie", "cookie"),
        ("basic_auth", "authorization"),
        ("NextToken", None),
        ("ClientToken", None),
        ("token_count", None),
        ("SecretId", None),
        ("oauth", None),
        ("PWD", None),
    ],
)
def test_secret_looking_key_names_are_classified_by_their_ending(key: str, kind: str | None) -> None:
    assert key_secret_type(key) == kind


# --------------------------------------------------------------------------------------------------
# encodings
# --------------------------------------------------------------------------------------------------


def test_a_json_unicode_escaped_access_key_is_redacted(redactor: Redactor) -> None:
    text = '{"msg": "\\u0041KIAQ3EGTX7PLV5ZBN2D"}'

    result = redact(redactor, text)

    assert result.counts == {"aws_access_key_id": 1}
    assert result.text == '{"msg": "[REDACTED:aws_access_key_id]"}'


def test_a_secret_with_json_escaped_slashes_is_redacted(redactor: Redactor) -> None:
    text = '{"aws_secret_access_key":"' + AWS_SECRET.replace("/", "\\/") + '"}'

    result = redact(redactor, text)

    assert result.counts == {"aws_secret_key": 1}
    assert "K7MDENG" not in result.text


def test_a_pem_key_inside_a_json_string_is_redacted_whole(redactor: Redactor) -> None:
    text = json.dumps({"name": "deploy", "private_key": PEM})

    result = redact(redactor, text)

    assert result.counts == {"private_key": 1}
    assert all(line[:20] not in result.text for line in PEM_BODY)
    assert json.loads(result.text)["private_key"] == "[REDACTED:private_key]"


def test_a_url_encoded_secret_is_redacted(redactor: Redactor) -> None:
    text = "GET /cb?next=" + quote(f"https://svc:{'Pa55-W0rd-xyz'}@api.internal/x", safe="")

    result = redact(redactor, text)

    assert result.counts == {"url_password": 1}
    assert "Pa55-W0rd" not in result.text


def test_a_percent_encoded_aws_secret_in_a_query_string_is_redacted(redactor: Redactor) -> None:
    text = "https://x.example/?aws_secret_access_key=" + quote(AWS_SECRET, safe="") + "&a=1"

    result = redact(redactor, text)

    assert result.counts == {"aws_secret_key": 1}
    assert "K7MDENG" not in result.text and result.text.endswith("&a=1")


CONN_PW = "Xq7!Rt2-Lm9wZ"
CONNECTION_STRINGS: list[tuple[str, tuple[str, ...]]] = [
    (f"postgres://app:{CONN_PW}@db.internal:5432/app", ("postgres://app:", "@db.internal:5432/app")),
    ("postgresql://app:Xq7%21Rt2%2FLm9w%40Z@db.internal/app", ("postgresql://app:", "@db.internal/app")),
    (f"postgres://svc%40corp:{CONN_PW}@db.internal/app", ("svc%40corp", "@db.internal/app")),
    (f"DATABASE_URL=app:{CONN_PW}@db.internal:5432/app", ("DATABASE_URL=app:", "@db.internal:5432/app")),
    (f"pgbouncer upstream app:{CONN_PW}@10.0.3.17:6432 is down", ("upstream app:", "@10.0.3.17:6432 is down")),
    (f"jdbc:mysql://app:{CONN_PW}@db.internal:3306/app?useSSL=true", ("jdbc:mysql://app:", "@db.internal:3306/app")),
    (f"jdbc:postgresql://db.internal:5432/app?user=app&password={CONN_PW}", ("jdbc:postgresql://db.internal",)),
    (f"jdbc:sqlserver://db.internal:1433;databaseName=app;user=sa;password={CONN_PW};encrypt=true", ("user=sa",)),
    (f"jdbc:oracle:thin:app/{CONN_PW}@db.internal:1521/ORCL", ("jdbc:oracle:thin:app/", "@db.internal:1521/ORCL")),
    (f"$ sqlplus -s app/{CONN_PW}@//db.internal:1521/ORCL @report.sql", ("sqlplus -s app/", "@report.sql")),
    (
        f"Driver={{ODBC Driver 18 for SQL Server}};Server=tcp:db.internal,1433;Uid=sa;Pwd={CONN_PW};Encrypt=yes;",
        ("Server=tcp:db.internal,1433;Uid=sa;Pwd=",),
    ),
    (f"Server=db.internal;Database=app;User Id=sa;Password={CONN_PW};", ("User Id=sa;Password=",)),
    (f"mongodb+srv://app:{CONN_PW}@cluster0.ab1cd.mongodb.net/app?retryWrites=true", ("@cluster0.ab1cd.mongodb.net",)),
    (f"mongodb://app:{CONN_PW}@h1:27017,h2:27017/app?replicaSet=rs0", ("@h1:27017,h2:27017/app",)),
    (f"redis://:{CONN_PW}@cache.internal:6379/0", ("redis://:", "@cache.internal:6379/0")),
    (f"rediss://default:{CONN_PW}@cache.internal:6380", ("rediss://default:", "@cache.internal:6380")),
    (f"amqps://orders:{CONN_PW}@mq.internal:5671/prod", ("amqps://orders:", "@mq.internal:5671/prod")),
    (f"(broker amqp://orders:{CONN_PW}@mq.internal)", ("(broker amqp://orders:", "@mq.internal)")),
    (f"celery -b redis://:{CONN_PW}@[2001:db8::5]:6379/1 worker", ("@[2001:db8::5]:6379/1 worker",)),
]


@pytest.mark.parametrize(
    ("text", "kept"), CONNECTION_STRINGS, ids=[f"conn-{i}" for i in range(len(CONNECTION_STRINGS))]
)
def test_the_password_of_every_connection_string_form_is_redacted_and_its_user_and_host_stay(
    redactor: Redactor, text: str, kept: tuple[str, ...]
) -> None:
    result = redact(redactor, text, pii=False)

    assert "Xq7" not in result.text and "Lm9w" not in result.text, result.text
    assert all(piece in result.text for piece in kept), result.text
    assert set(result.counts) <= {"url_password", "password"} and result.total == 1, result.counts


def test_redacting_already_redacted_connection_strings_changes_nothing(redactor: Redactor) -> None:
    for text, _kept in CONNECTION_STRINGS:
        once = redact(redactor, text).text
        assert redact(redactor, once).text == once


@pytest.mark.parametrize(
    "text",
    [
        "git clone git@github.com:acme/orders.git",
        "email:jane.doe@example.com",
        "mailto:jane.doe@example.com",
        "sip:alice@voip.example.com",
        "meeting at 10:30@hq.example.com",
        "pkg:npm/lodash@4.17.21",
        "image docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
        "PWD=/home/app/releases/42",
        "DATABASE_URL=db.internal:5432",
        "database_url=${DATABASE_URL}",
        "redis_url=redis://cache.internal:6379/0",
        "jdbc:oracle:thin:@db.internal:1521:ORCL",
        "sqlplus / as sysdba",
        "connection_string=Server=db;Database=app;Trusted_Connection=True;",
        "image_url=Xq7!Rt2-Lm9wZ",
    ],
)
def test_addresses_package_urls_and_password_free_connection_strings_are_left_alone(
    redactor: Redactor, text: str
) -> None:
    assert redact(redactor, text, pii=False).text == text


@pytest.mark.parametrize(
    "text",
    [
        f"database_url={CONN_PW}",
        f"export DATABASE_URL='{CONN_PW}'",
        json.dumps({"level": "INFO", "mongo_uri": CONN_PW}),
        f"cache:\n  redis_url: {CONN_PW}\n",
        f"ConnectionString = {CONN_PW}",
    ],
)
def test_a_bare_password_pasted_under_a_connection_string_key_is_redacted(redactor: Redactor, text: str) -> None:
    result = redact(redactor, text, pii=False)

    assert CONN_PW[:6] not in result.text
    assert result.counts == {"url_password": 1}


def test_a_structured_connection_string_value_loses_only_its_password(redactor: Redactor) -> None:
    value = {
        "database_url": CONN_PW,
        "dsn": f"app:{CONN_PW}@db.internal:5432/app",
        "replica_url": "postgres://db-replica.internal:5432/app",
        "redis_url": "cache.internal:6379",
    }

    result, counts = redactor.redact_value(value, pii=False)

    assert result == {
        "database_url": "[REDACTED:url_password]",
        "dsn": "app:[REDACTED:url_password]@db.internal:5432/app",
        "replica_url": "postgres://db-replica.internal:5432/app",
        "redis_url": "cache.internal:6379",
    }
    assert counts == {"url_password": 2}


PPK_LINES = [
    "PuTTY-User-Key-File-3: ssh-ed25519",
    "Encryption: none",
    "Comment: deploy@build-07",
    "Public-Lines: 2",
    "AAAAC3NzaC1lZDI1NTE5AAAAIFc2Rk9xQm5ZbVp2T0dKNlpXbz",
    "ZUt0aA==",
    "Private-Lines: 1",
    "AAAAIGb7Tq3WcR9xLm2Vz5Kp8Yn4Hd6Js1Fa0XeQw3Er5Ty",
    "Private-MAC: 6f1c0e2b9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b",
]


def test_a_putty_key_file_is_redacted_whole_after_its_first_line_and_keeps_its_line_count(
    redactor: Redactor,
) -> None:
    text = "# deploy key\n" + "\n".join(PPK_LINES) + "\nregion: eu-west-1\n"

    result = redact(redactor, text)

    lines = result.text.split("\n")
    assert len(lines) == len(text.split("\n"))
    assert lines[:3] == ["# deploy key", PPK_LINES[0], "[REDACTED:putty_private_key]"]
    assert lines[-2:] == ["region: eu-west-1", ""]
    assert all(line == "" for line in lines[3:-2])
    assert result.counts == {"putty_private_key": 1}


def test_a_json_escaped_putty_key_file_with_windows_line_endings_is_redacted_whole_after_its_first_line(
    redactor: Redactor,
) -> None:
    text = json.dumps({"name": "deploy", "ppk": "\r\n".join(PPK_LINES)})

    result = redact(redactor, text)

    assert json.loads(result.text) == {
        "name": "deploy",
        "ppk": PPK_LINES[0] + "\r\n[REDACTED:putty_private_key]",
    }
    assert "deploy@build" not in result.text and "AAAAC3Nza" not in result.text and "6f1c0e2b" not in result.text


def test_a_base64_blob_wrapping_a_secret_is_redacted_whole_with_the_inner_type(redactor: Redactor) -> None:
    blob = base64.b64encode(f"GITHUB_TOKEN={GITHUB}\nREGION=eu-west-1\n".encode()).decode()

    result = redact(redactor, f"data: {blob}")

    assert result.text == "data: [REDACTED:github_token]"
    assert result.counts == {"github_token": 1}


def test_a_base64_blob_of_ordinary_text_is_left_alone(redactor: Redactor) -> None:
    blob = base64.b64encode(b"just an ordinary configuration file with nothing inside").decode()

    assert redact(redactor, f"data: {blob}").counts == {}


def test_double_encoding_is_unwrapped(redactor: Redactor) -> None:
    inner = json.dumps({"token": GITHUB})
    text = json.dumps({"body": json.dumps({"payload": inner})})

    result = redact(redactor, text)

    assert result.counts == {"github_token": 1}
    assert GITHUB[4:20] not in result.text


def test_a_jwt_wrapped_over_several_lines_is_redacted_across_the_line_breaks(redactor: Redactor) -> None:
    wrapped = "\n  ".join(JWT[i : i + 40] for i in range(0, len(JWT), 40))
    text = f"id_token: {wrapped}\nregion: eu-west-1\n"

    result = redact(redactor, text)

    assert "jwt" in result.counts
    assert all(JWT[i + 5 : i + 30] not in result.text for i in range(0, len(JWT) - 30, 40))
    assert result.text.endswith("region: eu-west-1\n")


def test_a_token_split_with_backslash_continuations_is_redacted(redactor: Redactor) -> None:
    text = f"export GH={GITHUB[:20]}\\\n{GITHUB[20:]}\necho done"

    result = redact(redactor, text)

    assert result.counts == {"github_token": 1}
    assert GITHUB[20:] not in result.text
    assert result.text.endswith("echo done")


def test_an_access_key_split_after_its_prefix_is_still_caught(redactor: Redactor) -> None:
    result = redact(redactor, f"key: {AWS_KEY_ID[:4]}\n{AWS_KEY_ID[4:]}\n")

    assert result.counts == {"aws_access_key_id": 1}


def test_a_truncated_pem_key_without_end_marker_is_still_redacted(redactor: Redactor) -> None:
    text = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(PEM_BODY[:2]) + "\n"

    result = redact(redactor, text)

    assert result.counts == {"private_key": 1}
    assert PEM_BODY[1][:20] not in result.text


def test_a_yaml_block_scalar_under_a_secret_key_is_redacted(redactor: Redactor) -> None:
    text = "db:\n  password: |\n    first-line-of-secret\n    second-line\n  host: db.internal\n"

    result = redact(redactor, text)

    assert result.counts == {"password": 1}
    assert "first-line" not in result.text and "second-line" not in result.text
    assert "host: db.internal" in result.text


def test_an_env_style_name_value_pair_list_is_redacted(redactor: Redactor) -> None:
    text = json.dumps({"environment": [{"name": "DB_PASSWORD", "value": "plain-Value-9"}, {"name": "A", "value": "b"}]})

    result = redact(redactor, text)

    assert result.counts == {"password": 1}
    assert "plain-Value-9" not in result.text and '"value": "b"' in result.text


# --------------------------------------------------------------------------------------------------
# structured values
# --------------------------------------------------------------------------------------------------


def test_redact_value_walks_nested_structures_and_redacts_secret_named_keys_whole(redactor: Redactor) -> None:
    value: dict[str, Any] = {
        "user": "alice@example.com",
        "config": {
            "password": "short",
            "Credentials": {"AccessKeyId": AWS_KEY_ID, "SecretAccessKey": AWS_SECRET},
            "retries": 3,
            "enabled": True,
            "ratio": 0.5,
            "nothing": None,
            "api_key": 12345678,
        },
        "events": [f"uploaded with {GITHUB}", {"token": ["a", "b"]}, ("tuple", "kept")],
    }

    result, counts = redactor.redact_value(value)

    assert result["user"] == "[REDACTED:email]"
    assert result["config"]["password"] == "[REDACTED:password]"
    assert result["config"]["Credentials"] == "[REDACTED:secret]"
    assert result["config"]["api_key"] == "[REDACTED:api_key]"
    assert (result["config"]["retries"], result["config"]["enabled"], result["config"]["ratio"]) == (
        3,
        True,
        0.5,
    )
    assert result["config"]["nothing"] is None
    assert result["events"][0] == "uploaded with [REDACTED:github_token]"
    assert result["events"][1] == {"token": "[REDACTED:token]"}
    assert result["events"][2] == ("tuple", "kept")
    assert counts == {"email": 1, "password": 1, "secret": 1, "api_key": 1, "github_token": 1, "token": 1}
    assert value["config"]["password"] == "short"  # the input is not mutated


def test_redact_value_treats_name_value_pairs_like_keys(redactor: Redactor) -> None:
    env = [{"Name": "SLACK_SIGNING_SECRET", "Value": "abc"}, {"Name": "REGION", "Value": "eu-west-1"}]

    result, counts = redactor.redact_value(env)

    assert result == [
        {"Name": "SLACK_SIGNING_SECRET", "Value": "[REDACTED:secret]"},
        {"Name": "REGION", "Value": "eu-west-1"},
    ]
    assert counts == {"secret": 1}


def test_redact_value_redacts_dictionary_keys_without_losing_entries(redactor: Redactor) -> None:
    result, counts = redactor.redact_value({"alice@example.com": 1, "bob@example.com": 2})

    assert sorted(result.values()) == [1, 2]
    assert all("@" not in key for key in result)
    assert counts == {"email": 2}


def test_redact_value_redacts_card_numbers_stored_as_integers(redactor: Redactor) -> None:
    result, counts = redactor.redact_value({"card": 4111111111111111, "order_id": 4111111111111112})

    assert result == {"card": "[REDACTED:credit_card]", "order_id": 4111111111111112}
    assert counts == {"credit_card": 1}


def test_redact_value_honours_the_pii_switch(redactor: Redactor) -> None:
    result, counts = redactor.redact_value({"email": "alice@example.com", "password": "x1"}, pii=False)

    assert result == {"email": "alice@example.com", "password": "[REDACTED:password]"}
    assert counts == {"password": 1}


# --------------------------------------------------------------------------------------------------
# streams
# --------------------------------------------------------------------------------------------------


def test_a_secret_split_across_two_small_chunks_is_caught(redactor: Redactor) -> None:
    text = f"line one\nuploading with {GITHUB} now\nline three\n"
    cut = text.index(GITHUB) + 10

    results = list(redactor.redact_stream([text[:cut], text[cut:]]))

    joined = "".join(r.text for r in results)
    assert joined == redactor.redact_text(text).text
    assert sum(r.counts.get("github_token", 0) for r in results) == 1


def test_a_secret_spanning_a_piece_boundary_of_a_large_stream_is_caught(redactor: Redactor) -> None:
    filler = "2024-01-15T10:00:00Z INFO request completed in 12ms\n"
    head = filler * (262_144 // len(filler))  # the secret straddles the first internal piece boundary
    text = head[:-20] + f"token {GITHUB} and {AWS_KEY_ID}\n" + filler * 20_000
    chunks = [text[i : i + 65_537] for i in range(0, len(text), 65_537)]

    results = list(redactor.redact_stream(chunks))

    joined = "".join(r.text for r in results)
    assert GITHUB not in joined and AWS_KEY_ID not in joined
    assert joined.count("[REDACTED:github_token]") == 1
    assert joined == redactor.redact_text(text).text  # nothing else was touched or lost
    totals: dict[str, int] = {}
    for r in results:
        for key, count in r.counts.items():
            totals[key] = totals.get(key, 0) + count
    assert totals == {"github_token": 1, "aws_access_key_id": 1}


def test_a_long_single_line_stream_is_cut_only_between_detections(redactor: Redactor) -> None:
    record = '{"user":"alice@example.com","token":"' + GITHUB + '","aws":"' + AWS_KEY_ID + '","n":12},'
    text = "[" + record * (700_000 // len(record)) + "]"
    chunks = [text[i : i + 40_001] for i in range(0, len(text), 40_001)]

    joined = "".join(r.text for r in redactor.redact_stream(chunks))

    assert joined == redactor.redact_text(text).text
    assert GITHUB[4:12] not in joined and AWS_KEY_ID[4:12] not in joined and "alice" not in joined


def test_a_pem_key_split_over_many_one_line_chunks_is_redacted_whole(redactor: Redactor) -> None:
    text = "before\n" + PEM + "\nafter\n"
    chunks = text.splitlines(keepends=True)

    joined = "".join(r.text for r in redactor.redact_stream(chunks))

    # one marker for the whole body; the BEGIN/END labels and the line breaks stay (same line count)
    assert joined == (
        "before\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED:private_key]"
        + "\n" * len(PEM_BODY)
        + "-----END RSA PRIVATE KEY-----\nafter\n"
    )
    assert joined.count("\n") == text.count("\n")


def test_an_empty_stream_yields_nothing(redactor: Redactor) -> None:
    assert list(redactor.redact_stream([])) == []
    assert list(redactor.redact_stream(["", ""])) == []


def test_a_very_large_text_is_redacted_piecewise_with_the_same_result(redactor: Redactor) -> None:
    block = f"2024-01-15 INFO ok\nkey {AWS_KEY_ID} pw=hunter2hunter2 mail alice@example.com\n"
    text = block * (3_000_000 // len(block))

    result = redactor.redact_text(text)

    assert result.text == redactor.redact_text(block).text * (3_000_000 // len(block))
    assert result.counts["aws_access_key_id"] == 3_000_000 // len(block)


# --------------------------------------------------------------------------------------------------
# exact secrets and fingerprints
# --------------------------------------------------------------------------------------------------


def test_the_gateways_own_secrets_are_redacted_in_plain_and_encoded_forms() -> None:
    secret = "gw-signing-key:Zq/8+Lm=r2&x"
    redactor = Redactor(RedactionConfig(exact_secrets=(secret, "")))
    forms = [
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    ]

    for form in forms:
        result = redactor.redact_text(f"debug value {form} end")
        assert result.text == "debug value [REDACTED:known_secret] end", form
        assert result.counts == {"known_secret": 1}


def test_an_exact_secret_inside_a_larger_base64_blob_is_found_by_decoding() -> None:
    secret = "slack-signing-secret-0123456789"
    redactor = Redactor(RedactionConfig(exact_secrets=(secret,)))
    blob = base64.b64encode(f"config version 7; signing={secret}; region=eu".encode()).decode()

    assert redactor.redact_text(blob).counts == {"known_secret": 1}


def test_exact_secrets_shorter_than_eight_characters_are_rejected() -> None:
    with pytest.raises(ValidationError):
        RedactionConfig(exact_secrets=("short",))


def test_the_configuration_repr_never_shows_secrets_or_the_fingerprint_key() -> None:
    config = RedactionConfig(exact_secrets=("topsecretvalue",), fingerprint_key=b"k" * 32)

    assert "topsecretvalue" not in repr(config)
    assert "kkkk" not in repr(config)


def test_fingerprints_correlate_equal_values_and_differ_across_keys() -> None:
    one = Redactor(RedactionConfig(fingerprint_key=b"1" * 32))
    two = Redactor(RedactionConfig(fingerprint_key=b"2" * 32))
    text = f"a={AWS_KEY_ID} b={AWS_KEY_ID} c=AKIAZZZZZZZZZZZZZZZZ"

    first = one.redact_text(text).text.split()
    second = two.redact_text(text).text.split()

    assert first[0].startswith("a=[REDACTED:aws_access_key_id:") and len(first[0]) == len(
        "a=[REDACTED:aws_access_key_id:12345678]"
    )
    assert first[0][2:] == first[1][2:]  # same value, same fingerprint
    assert first[0][2:] != first[2][2:]  # different value, different fingerprint
    assert first[0][2:] != second[0][2:]  # different key, different fingerprint


def test_a_secret_and_its_encoded_form_share_a_fingerprint() -> None:
    redactor = Redactor(RedactionConfig(fingerprint_key=b"f" * 32))

    plain = redactor.redact_text(f"token {GITHUB}").text
    wrapped = redactor.redact_text(base64.b64encode(f"token={GITHUB}".encode()).decode()).text

    assert plain.split()[1] == wrapped


def test_a_short_fingerprint_key_is_rejected() -> None:
    with pytest.raises(ValidationError):
        RedactionConfig(fingerprint_key=b"short")


# --------------------------------------------------------------------------------------------------
# customer id patterns
# --------------------------------------------------------------------------------------------------


def test_customer_id_patterns_from_the_policy_are_applied(redactor: Redactor) -> None:
    result = redact(redactor, "customers cus_A1b2C3d4E5f6G7, CUST-1234567 and cus_short")

    assert result.counts == {"customer_id": 2}
    assert "cus_short" in result.text


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+b",  # nested quantifiers: the classic catastrophe
        r"(?:\d{1,5}){1,5}",  # nested bounded quantifiers
        r"(a|aa){1,10}",  # alternation under a quantifier
        r"CUST-\d+",  # unbounded quantifier
        r"CUST-\d{1,}",
        r"(ab)\1CUST",  # backreference
        r"\w{1,64}\w{1,64}\d{1,64}",  # too much ambiguity
        r"\d",  # matches too little: would redact every digit
        r"CUST-(",  # does not compile
        "C" * 300,  # too long
    ],
)
def test_a_dangerous_customer_id_pattern_is_rejected_at_construction(pattern: str) -> None:
    with pytest.raises(ValidationError):
        RedactionConfig(customer_id_patterns=(pattern,))
    with pytest.raises(UnsafePatternError) as info:
        validate_customer_id_pattern(pattern)
    assert isinstance(info.value, PolicyError)
    assert info.value.code is ReasonCode.POLICY_UNAVAILABLE


def test_a_reasonable_customer_id_pattern_is_accepted() -> None:
    compiled = validate_customer_id_pattern(r"\b[A-Z]{2,4}-\d{4,8}\b")

    assert compiled.search("ticket AB-12345 opened") is not None


# --------------------------------------------------------------------------------------------------
# hostile inputs: structurally linear (no timing assertions; pytest-timeout guards the suite)
# --------------------------------------------------------------------------------------------------

ADVERSARIAL = {
    "one long run": "a" * 1_000_000,
    "digits": "1" * 1_000_000,
    "spaced digits": "1 " * 500_000,
    "jwt prefixes": "eyJ." * 250_000,
    "pem header then garbage": "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 1_000_000,
    "many pem headers": "-----BEGIN PRIVATE KEY-----" * 37_000,
    "url prefixes": "x://" + ":" * 1_000_000,
    "at signs": "a@b." * 250_000,
    "repeated assignments": "password=" * 111_111,
    "keywords": "token" * 200_000,
    "escapes": "\\u0041" * 166_666,
    "percent escapes": "%41" * 333_333,
    "backslashes": "\\" * 1_000_000,
    "colons": "::" * 500_000,
    "continuation lines": ("A" * 20 + "\\\n") * 45_000,
    "name value pairs": '"name":"DB_PASSWORD","value":"' * 33_333,
    "unclosed quote": 'password="' + "a" * 1_000_000,
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_a_one_megabyte_adversarial_input_is_processed(redactor: Redactor, name: str) -> None:
    result = redactor.redact_text(ADVERSARIAL[name])

    assert isinstance(result.text, str)
