"""Demo data for the local stack: buckets with objects (some holding fake secrets and customer identifiers),
log groups with realistic application logs (errors, stack traces, customer ids), and metrics.

Every secret here is fake and shaped only to exercise the redaction engine.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from typing import Any

BUCKETS = ("acme-app-logs", "acme-customer-exports", "acme-scratch", "acme-finance-private")
LOG_GROUPS = ("/aws/lambda/orders-api", "/aws/lambda/payments-worker")
LOG_STREAM = "2026/11/24/[$LATEST]a1b2c3"
# A 5 MiB text object (multi-byte UTF-8, nothing to redact) for paging by byte range.
LARGE_OBJECT = ("acme-app-logs", "exports/large/orders-api-2026-11-24.log")
LARGE_OBJECT_BYTES = 5 * 1024 * 1024
# A log group of 50,000 matching events, seeded only on request (seed_bulk_logs) to keep start-up fast.
BULK_LOG_GROUP = "/acme/bulk/orders-api"
BULK_MATCHING = 50_000
BULK_NON_MATCHING = 2_000
ALARMS = ("orders-api-latency-high", "orders-api-errors")


def large_object_body() -> bytes:
    """Deterministic log-like text of exactly LARGE_OBJECT_BYTES bytes (cut at a line end)."""
    lines: list[bytes] = []
    size = 0
    i = 0
    while size < LARGE_OBJECT_BYTES:
        line = (
            f"2026-11-24T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z INFO "
            f"[orders-api] seq={i:07d} batch processed in {(i * 37) % 900 + 20} ms; état=ok → 完了\n"
        ).encode()
        lines.append(line)
        size += len(line)
        i += 1
    body = b"".join(lines)
    cut = body.rfind(b"\n", 0, LARGE_OBJECT_BYTES) + 1
    return body[:cut] + b"#" * (LARGE_OBJECT_BYTES - cut)


def seed_bulk_logs(client: Callable[[str], Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """BULK_MATCHING events containing ERROR (and BULK_NON_MATCHING INFO events) in two streams over the
    last ~40 minutes; pairs of events share a millisecond. Idempotent per stack."""
    logs = client("logs")
    if logs.describe_log_groups(logGroupNamePrefix=BULK_LOG_GROUP).get("logGroups"):
        return {"log_group": BULK_LOG_GROUP, "matching": BULK_MATCHING}
    now = now or dt.datetime.now(dt.UTC)
    t0 = int((now - dt.timedelta(minutes=40)).timestamp() * 1000)
    logs.create_log_group(logGroupName=BULK_LOG_GROUP)
    streams: dict[str, list[dict[str, Any]]] = {"bulk/a": [], "bulk/b": []}
    total = BULK_MATCHING + BULK_NON_MATCHING
    for i in range(total):
        matching = i % 26 != 25 or i >= 26 * BULK_NON_MATCHING
        message = f"ERROR seq={i:06d} payments timeout" if matching else f"INFO seq={i:06d} order created"
        streams["bulk/a" if i % 2 == 0 else "bulk/b"].append({"timestamp": t0 + (i // 2) * 40, "message": message})
    for stream, events in streams.items():
        logs.create_log_stream(logGroupName=BULK_LOG_GROUP, logStreamName=stream)
        for start in range(0, len(events), 5_000):
            logs.put_log_events(
                logGroupName=BULK_LOG_GROUP, logStreamName=stream, logEvents=events[start : start + 5_000]
            )
    return {"log_group": BULK_LOG_GROUP, "matching": BULK_MATCHING}


# Fake, well-shaped secrets (never real): they must come back redacted.
FAKE_AWS_KEY_ID = "AKIAQ3EGRMXKZ7EXAMPL"
FAKE_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"  # noqa: S105 - fake, for the redaction demo
FAKE_DB_PASSWORD = "Tr0ub4dor&3-horse-battery"  # noqa: S105 - fake, for the redaction demo
FAKE_STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"


def _orders_api_events(now: dt.datetime) -> list[dict[str, Any]]:
    rng = random.Random(7)
    events = []
    for i in range(60):
        t = now - dt.timedelta(minutes=55 - i)
        customer = f"cus_{rng.choice(['Kq8Z2mR4tY7wXp', 'Ab3Cd5Ef7Gh9Jk', 'Zz1Yy2Xx3Ww4Vv'])}"
        rid = f"{rng.getrandbits(64):016x}"
        if i % 10 == 3:
            msg = (
                f"ERROR [orders-api] request_id={rid} customer_id={customer} POST /orders failed: "
                "TimeoutError: upstream payments-worker did not answer within 3000 ms\n"
                'Traceback (most recent call last):\n  File "/var/task/orders/handler.py", line 88, in create_order\n'
                "    receipt = payments.charge(order, timeout=3.0)\n"
                '  File "/var/task/orders/payments.py", line 41, in charge\n'
                '    raise TimeoutError(f"payments-worker timeout after {timeout}s")\n'
                "TimeoutError: payments-worker timeout after 3.0s"
            )
        elif i % 10 == 7:
            msg = (
                f"ERROR [orders-api] request_id={rid} database connection failed: "
                f"postgresql://orders_app:{FAKE_DB_PASSWORD}@orders-db.internal:5432/orders "
                f"(customer {customer}, contact jane.doe@example.com, +1 415 555 0137)"
            )
        elif i % 10 == 9:
            msg = (
                f"WARN [orders-api] request_id={rid} retrying S3 upload with key id {FAKE_AWS_KEY_ID} "
                f"aws_secret_access_key={FAKE_AWS_SECRET}"
            )
        else:
            msg = json.dumps(
                {
                    "level": "INFO",
                    "service": "orders-api",
                    "request_id": rid,
                    "customer_id": customer,
                    "path": "/orders",
                    "status": 201,
                    "duration_ms": rng.randint(40, 900),
                }
            )
        events.append({"timestamp": int(t.timestamp() * 1000), "message": msg})
    return events


def _payments_events(now: dt.datetime) -> list[dict[str, Any]]:
    rng = random.Random(11)
    events = []
    for i in range(40):
        t = now - dt.timedelta(minutes=50 - i)
        if i % 8 == 5:
            msg = (
                "ERROR [payments-worker] charge failed for ACME-CUST-00482913: card 4111 1111 1111 1111 declined; "
                f"stripe key {FAKE_STRIPE} rejected (HTTP 402)"
            )
        elif i % 8 == 2:
            msg = (
                "ERROR [payments-worker] java.lang.IllegalStateException: ledger out of balance\n"
                "\tat com.acme.payments.Ledger.post(Ledger.java:212)\n"
                "\tat com.acme.payments.Worker.handle(Worker.java:97)\n"
                "\tat java.base/java.lang.Thread.run(Thread.java:1583)"
            )
        else:
            source = f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            batch, took = rng.randint(1000, 9999), rng.randint(20, 400)
            msg = f"INFO [payments-worker] processed batch {batch} in {took} ms from {source}"
        events.append({"timestamp": int(t.timestamp() * 1000), "message": msg})
    return events


def seed(client: Callable[[str], Any], now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    s3 = client("s3")
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket)
    objects = {
        ("acme-app-logs", "orders-api/2026/11/24/app.log"): "\n".join(e["message"] for e in _orders_api_events(now)),
        ("acme-app-logs", "payments-worker/2026/11/24/app.log"): "\n".join(e["message"] for e in _payments_events(now)),
        ("acme-app-logs", "README.txt"): "Application logs exported nightly from CloudWatch Logs.\n",
        ("acme-customer-exports", "exports/2026-11-23/customers.csv"): (
            "customer_id,email,phone,plan\n"
            "cus_Kq8Z2mR4tY7wXp,jane.doe@example.com,+1 415 555 0137,enterprise\n"
            "cus_Ab3Cd5Ef7Gh9Jk,omar.haddad@example.org,+44 20 7946 0958,team\n"
            "ACME-CUST-00482913,li.wei@example.net,+86 10 5555 0199,free\n"
        ),
        ("acme-customer-exports", "config/app.env"): (
            f"DATABASE_URL=postgresql://orders_app:{FAKE_DB_PASSWORD}@orders-db.internal:5432/orders\n"
            f"AWS_ACCESS_KEY_ID={FAKE_AWS_KEY_ID}\nAWS_SECRET_ACCESS_KEY={FAKE_AWS_SECRET}\n"
            f"STRIPE_API_KEY={FAKE_STRIPE}\nLOG_LEVEL=info\n"
        ),
        (
            "acme-scratch",
            "notes/incident-2026-11-20.md",
        ): "# Incident\nCheckout latency spike traced to payments-worker timeouts.\n",
        ("acme-finance-private", "ledger/2026-11.csv"): "account,amount\n1001,4200.00\n",
    }
    for (bucket, key), body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/plain")
    s3.put_object(
        Bucket="acme-app-logs",
        Key="artifacts/heap-dump.bin",
        Body=bytes(range(256)) * 64,
        ContentType="application/octet-stream",
    )
    s3.put_object(
        Bucket=LARGE_OBJECT[0],
        Key=LARGE_OBJECT[1],
        Body=large_object_body(),
        ContentType="text/plain; charset=utf-8",
    )

    logs = client("logs")
    for group, events in ((LOG_GROUPS[0], _orders_api_events(now)), (LOG_GROUPS[1], _payments_events(now))):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=LOG_STREAM)
        logs.put_log_events(logGroupName=group, logStreamName=LOG_STREAM, logEvents=events)

    cw = client("cloudwatch")
    data = []
    for i in range(36):
        t = now - dt.timedelta(minutes=5 * (36 - i))
        data.append(
            {
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Service", "Value": "orders-api"}],
                "Timestamp": t,
                "Value": 120.0 + (i % 7) * 35 + (400 if i in (30, 31) else 0),
                "Unit": "Milliseconds",
            }
        )
        data.append(
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "Service", "Value": "orders-api"}],
                "Timestamp": t,
                "Value": float(i % 5 == 0) + (6 if i in (30, 31) else 0),
                "Unit": "Count",
            }
        )
    for start in range(0, len(data), 20):
        cw.put_metric_data(Namespace="Acme/Orders", MetricData=data[start : start + 20])
    cw.put_metric_alarm(
        AlarmName=ALARMS[0],
        Namespace="Acme/Orders",
        MetricName="Latency",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=2,
        Threshold=500.0,
        ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "Service", "Value": "orders-api"}],
        AlarmDescription="p50 latency above 500 ms",
    )
    cw.put_metric_alarm(
        AlarmName=ALARMS[1],
        Namespace="Acme/Orders",
        MetricName="Errors",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "Service", "Value": "orders-api"}],
    )
    cw.set_alarm_state(AlarmName=ALARMS[1], StateValue="ALARM", StateReason="Threshold crossed: 6 errors in 5 minutes")
    return {"buckets": list(BUCKETS), "log_groups": list(LOG_GROUPS)}
