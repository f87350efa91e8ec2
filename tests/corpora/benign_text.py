"""A deterministic corpus of ordinary, secret-free log lines and values (the false-positive yardstick).

What is in it: UUIDs, git SHAs, sha256 digests, ARNs, timestamps in many formats, request and trace
ids, S3 keys and ETags, version strings, durations, URLs without credentials, Lambda REPORT lines,
Powertools-style JSON log lines, Java and Python stack traces, Kinesis sequence numbers, MAC
addresses, pagination tokens and keys that merely *mention* passwords or tokens
(``token_count``, ``password_policy``, ``NextToken``).

What is deliberately *not* in it: e-mail addresses, IP addresses, phone numbers or card numbers.
Those are customer data the PII detectors are supposed to redact, so a line holding one is not a
false positive. The corpus is therefore meant to be measured with ``pii=True`` (the stricter
setting); the unit test reports both settings.
"""

from __future__ import annotations

import json
import random
import string
import uuid

__all__ = ["benign_lines"]

HEX = "0123456789abcdef"
ALNUM = string.ascii_letters + string.digits

_SERVICES = ["orders", "payments", "inventory", "checkout", "search", "notifications", "billing"]
_REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "us-west-2"]
_LEVELS = ["INFO", "DEBUG", "WARN", "ERROR"]
_PATHS = ["/v1/orders", "/v1/orders/{id}", "/healthz", "/v2/search", "/v1/payments/{id}/capture", "/metrics"]
_MESSAGES = [
    "request completed",
    "cache miss for product listing",
    "retrying after throttling",
    "connection pool exhausted, waiting",
    "token refreshed for session",
    "password policy updated: minimum length 14",
    "Passwords must be at least 12 characters long",
    "rotating secret scheduled for next window",
    "user authenticated via SSO",
    "Authorization header missing",
    "Invalid token: expired",
    "secret not found: prod/orders/db",
    "API key rotation complete",
    "no credentials in environment, using instance profile",
    "Bearer token expired, requesting a new one",
    "processed batch",
    "shutting down gracefully",
]


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HEX) for _ in range(n))


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ts(rng: random.Random) -> str:
    return (
        f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:"
        f"{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
    )


def _account(rng: random.Random) -> str:
    return str(rng.randrange(100000000000, 999999999999))


def _arn(rng: random.Random) -> str:
    region = rng.choice(_REGIONS)
    acct = _account(rng)
    svc = rng.choice(_SERVICES)
    return rng.choice(
        [
            f"arn:aws:lambda:{region}:{acct}:function:{svc}-handler",
            f"arn:aws:s3:::{svc}-artifacts-{acct}/releases/{svc}.zip",
            f"arn:aws:iam::{acct}:role/{svc}-execution-role",
            f"arn:aws:dynamodb:{region}:{acct}:table/{svc}-table",
            f"arn:aws:states:{region}:{acct}:stateMachine:{svc}-workflow",
            f"arn:aws:secretsmanager:{region}:{acct}:secret:prod/{svc}/db-{_rand(rng, ALNUM, 6)}",
            f"arn:aws:sts::{acct}:assumed-role/{svc}-role/session-{_hex(rng, 8)}",
            f"arn:aws:logs:{region}:{acct}:log-group:/aws/lambda/{svc}:*",
        ]
    )


def _version(rng: random.Random) -> str:
    return rng.choice(
        [
            f"v{rng.randrange(0, 5)}.{rng.randrange(0, 40)}.{rng.randrange(0, 20)}",
            f"{rng.randrange(1, 4)}.{rng.randrange(0, 30)}.{rng.randrange(0, 10)}-rc{rng.randrange(1, 5)}",
            f"boto3/1.44.{rng.randrange(10)} botocore/1.44.{rng.randrange(10)} Python/3.13.0 "
            "Linux/5.10.219-208.866.amzn2.x86_64",
            f"node/v22.{rng.randrange(20)}.{rng.randrange(10)}",
            f"openjdk 21.0.{rng.randrange(9)}+{rng.randrange(1, 40)}-LTS",
        ]
    )


def _s3_key(rng: random.Random) -> str:
    svc = rng.choice(_SERVICES)
    return rng.choice(
        [
            f"logs/{svc}/2024/{rng.randrange(1, 13):02d}/{rng.randrange(1, 29):02d}/"
            f"part-{rng.randrange(10000):05d}-{_uuid(rng)}.json.gz",
            f"exports/{svc}/dt=2024-01-{rng.randrange(1, 29):02d}/data_{_hex(rng, 8)}.parquet",
            f"builds/{svc}/{_hex(rng, 40)}/artifact.zip",
            f"reports/monthly/{svc}-report-2024-{rng.randrange(1, 13):02d}.csv",
        ]
    )


def _duration(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randrange(1, 5000)}ms",
            f"{rng.random() * 30:.3f}s",
            f"PT{rng.randrange(1, 60)}M",
            f"00:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}",
            f"{rng.randrange(1, 900)} seconds",
        ]
    )


def _url(rng: random.Random) -> str:
    host = rng.choice(["api.example.com", "docs.aws.amazon.com", "github.com", "status.example.org"])
    path = rng.choice(_PATHS).replace("{id}", _uuid(rng))
    return rng.choice(
        [
            f"https://{host}{path}",
            f"https://{host}{path}?page={rng.randrange(1, 50)}&limit=50&sort=created_at",
            f"https://{host}/search?q=order+status&lang=en",
            f"s3://{rng.choice(_SERVICES)}-bucket/{_s3_key(rng)}",
            f"https://github.com/example/{rng.choice(_SERVICES)}/commit/{_hex(rng, 40)}",
        ]
    )


def _json_log(rng: random.Random) -> str:
    record: dict[str, object] = {
        "level": rng.choice(_LEVELS),
        "location": f"handler:{rng.randrange(10, 400)}",
        "message": rng.choice(_MESSAGES),
        "timestamp": _ts(rng).replace("T", " ").replace("Z", "+0000"),
        "service": rng.choice(_SERVICES),
        "cold_start": rng.random() < 0.1,
        "function_name": f"{rng.choice(_SERVICES)}-handler",
        "function_memory_size": rng.choice([128, 256, 512, 1024]),
        "function_arn": _arn(rng),
        "function_request_id": _uuid(rng),
        "xray_trace_id": f"1-{_hex(rng, 8)}-{_hex(rng, 24)}",
    }
    extra: dict[str, object] = rng.choice(
        [
            {
                "duration_ms": round(rng.random() * 900, 2),
                "status_code": rng.choice([200, 201, 204, 404, 500]),
            },
            {"token_count": rng.randrange(1, 4000), "max_tokens": 4096, "model": "claude-sonnet"},
            {
                "NextToken": f"eyJ{''.join(rng.choice(ALNUM) for _ in range(10))}",
                "ItemCount": rng.randrange(500),
            },
            {"password_policy": "strict", "password_min_length": 14, "token_ttl_seconds": 900},
            {"s3_key": _s3_key(rng), "etag": f'"{_hex(rng, 32)}"', "size_bytes": rng.randrange(10**7)},
            {"sha256": _hex(rng, 64), "git_sha": _hex(rng, 40), "version": _version(rng)},
            {"secret_arn": _arn(rng), "SecretId": f"prod/{rng.choice(_SERVICES)}/db", "rotation": "enabled"},
            {"nextForwardToken": f"f/{rng.randrange(10**55, 10**56)}/s", "events": rng.randrange(100)},
            {"token_type": "Bearer", "expires_in": 900, "scope": "logs:read"},
        ]
    )
    record.update(extra)
    return json.dumps(record)


def _java_trace(rng: random.Random) -> list[str]:
    ts = _ts(rng)
    n = rng.randrange
    svc = rng.choice(_SERVICES)
    return [
        f"{ts} ERROR [http-nio-8080-exec-{n(1, 20)}] c.e.{svc}.OrderController - request failed",
        f"java.lang.IllegalStateException: order {_uuid(rng)} is not in state PENDING",
        f"\tat com.example.{svc}.OrderService.capture(OrderService.java:{n(20, 400)})",
        f"\tat com.example.{svc}.OrderController.post(OrderController.java:{n(20, 200)})",
        "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
        "\tat java.base/java.lang.Thread.run(Thread.java:1583)",
        f"Caused by: java.util.concurrent.TimeoutException: no response after {_duration(rng)}",
        f"\t... {n(5, 60)} more",
    ]


def _python_trace(rng: random.Random) -> list[str]:
    return [
        "Traceback (most recent call last):",
        f'  File "/var/task/app.py", line {rng.randrange(10, 300)}, in lambda_handler',
        "    result = process(event, context)",
        f'  File "/var/task/orders/process.py", line {rng.randrange(10, 300)}, in process',
        '    item = table.get_item(Key={"pk": order_id})["Item"]',
        f"KeyError: 'Item' (order_id={_uuid(rng)})",
    ]


def _plain(rng: random.Random) -> str:
    ts = _ts(rng)
    n = rng.randrange
    svc = rng.choice(_SERVICES)
    req = _uuid(rng)
    return rng.choice(
        [
            f"START RequestId: {req} Version: $LATEST",
            f"END RequestId: {req}",
            (
                f"REPORT RequestId: {req}\tDuration: {rng.random() * 900:.2f} ms\tBilled Duration: "
                f"{n(1, 900)} ms\tMemory Size: 512 MB\tMax Memory Used: {n(60, 500)} MB\t"
                f"Init Duration: {rng.random() * 900:.2f} ms"
            ),
            f"{ts} {rng.choice(_LEVELS)} [{svc}] {rng.choice(_MESSAGES)} request_id={req} took {_duration(rng)}",
            f"{ts} INFO deployed {svc} {_version(rng)} commit {_hex(rng, 40)} to {rng.choice(_REGIONS)}",
            f"{ts} INFO uploaded s3://{svc}-bucket/{_s3_key(rng)} etag={_hex(rng, 32)} sha256={_hex(rng, 64)}",
            f"{ts} DEBUG assumed {_arn(rng)} session expires in {_duration(rng)}",
            f"{ts} INFO GET {_url(rng)} 200 {n(100, 90000)} bytes in {_duration(rng)}",
            f"x-amz-request-id: {_hex(rng, 16).upper()}",
            f"x-amz-id-2: {''.join(rng.choice(ALNUM + '+/') for _ in range(76))}",
            f"Content-MD5: {''.join(rng.choice(ALNUM + '+/') for _ in range(22))}==",
            f'ETag: "{_hex(rng, 32)}-{n(2, 40)}"',
            f"{ts} INFO kinesis shard shardId-0000000000{n(10)} sequence {n(10**55, 10**56)}",
            f"{ts} INFO epoch_ms={n(1_600_000_000_000, 1_800_000_000_000)} offset={n(10**9)}",
            f"{ts} DEBUG interface eth0 mac {':'.join(_hex(rng, 2) for _ in range(6))} mtu 9001",
            f"{ts} INFO build {n(1000, 99999)} finished at 2024-01-15 10:{n(60):02d}:00 +0000",
            f"{ts} WARN slow query took {_duration(rng)} rows={n(10**6)} plan=IndexScan",
            f"{ts} INFO listing {rng.choice(_SERVICES)}-bucket prefix=logs/ continuation=1{_hex(rng, 30)}",
            f"{ts} INFO workflow {_arn(rng)} execution {req} SUCCEEDED in {_duration(rng)}",
            f"{ts} INFO cron(0 12 * * ? *) next run at 2024-02-01T12:00:00+00:00",
            f"{ts} INFO trace_id={_hex(rng, 32)} span_id={_hex(rng, 16)} parent={_hex(rng, 16)}",
            f"{ts} INFO feature flag new-checkout=on rollout=25% cohort=beta-{n(10)}",
            f"{ts} INFO resized image to 1024x768 quality=85 format=webp",
            f"{ts} INFO https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html referenced in error",
            f"{ts} INFO user_id=usr_{_hex(rng, 10)} cart_items={n(1, 20)} total=EUR {n(1, 999)}.{n(100):02d}",
            f"{ts} DEBUG dynamodb consumed_capacity={rng.random() * 10:.1f} table={svc}-table",
            # lines that mention keywords without holding secrets
            '{"KeyId": "alias/aws/s3", "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled"}',
            f"{ts} INFO tests passed={n(100, 900)} failed=0 skipped=2 bypass_cache=true",
            f"{ts} INFO author=jdoe authored commit {_hex(rng, 40)}",
            f"{ts} DEBUG tokenizer=cl100k_base tokens_in={n(9999)} tokens_out={n(999)}",
            f"{ts} INFO secretsmanager GetSecretValue for prod/{svc}/db succeeded, stage AWSCURRENT",
            f"{ts} INFO rotated access key for role {svc}-deployer (age {n(80, 120)} days)",
            f"{ts} WARN password reset requested for account usr_{_hex(rng, 10)} via self-service",
            f"{ts} INFO s3 key={_s3_key(rng)} size={n(10**8)}",
            f"{ts} DEBUG authorizer=lambda cache_ttl=300 identity_source=$request.header.Authorization",
            f"{ts} INFO credential provider chain: env, sso, instance-profile (chosen: instance-profile)",
            f"{ts} INFO cookie consent banner shown to session sess_{_hex(rng, 8)}",
        ]
    )


def benign_lines(seed: int = 7, count: int = 1200) -> list[str]:
    """At least ``count`` ordinary log lines (multi-line traces contribute one entry per line)."""
    rng = random.Random(seed)
    lines: list[str] = []
    while len(lines) < count:
        pick = rng.random()
        if pick < 0.35:
            lines.append(_json_log(rng))
        elif pick < 0.42:
            lines.extend(_java_trace(rng))
        elif pick < 0.48:
            lines.extend(_python_trace(rng))
        elif pick < 0.55:
            lines.append(
                rng.choice(
                    [
                        _arn(rng),
                        _s3_key(rng),
                        _url(rng),
                        _version(rng),
                        _uuid(rng),
                        _hex(rng, 40),
                        _hex(rng, 64),
                    ]
                )
            )
        else:
            lines.append(_plain(rng))
    return lines
