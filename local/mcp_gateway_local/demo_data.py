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

# Fake, well-shaped secrets (never real): they must come back redacted.
FAKE_AWS_KEY_ID = "AKIAQ3EGRMXKZ7EXAMPL"
FAKE_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
FAKE_DB_PASSWORD = "Tr0ub4dor&3-horse-battery"
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
                "    raise TimeoutError(f\"payments-worker timeout after {timeout}s\")\n"
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
            msg = f"INFO [payments-worker] processed batch {rng.randint(1000, 9999)} in {rng.randint(20, 400)} ms from 10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
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
        ("acme-scratch", "notes/incident-2026-11-20.md"): "# Incident\nCheckout latency spike traced to payments-worker timeouts.\n",
        ("acme-finance-private", "ledger/2026-11.csv"): "account,amount\n1001,4200.00\n",
    }
    for (bucket, key), body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/plain")
    s3.put_object(Bucket="acme-app-logs", Key="artifacts/heap-dump.bin", Body=bytes(range(256)) * 64, ContentType="application/octet-stream")

    logs = client("logs")
    for group, events in ((LOG_GROUPS[0], _orders_api_events(now)), (LOG_GROUPS[1], _payments_events(now))):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="2026/11/24/[$LATEST]a1b2c3")
        logs.put_log_events(logGroupName=group, logStreamName="2026/11/24/[$LATEST]a1b2c3", logEvents=events)

    cw = client("cloudwatch")
    data = []
    for i in range(36):
        t = now - dt.timedelta(minutes=5 * (36 - i))
        data.append({"MetricName": "Latency", "Dimensions": [{"Name": "Service", "Value": "orders-api"}], "Timestamp": t, "Value": 120.0 + (i % 7) * 35 + (400 if i in (30, 31) else 0), "Unit": "Milliseconds"})
        data.append({"MetricName": "Errors", "Dimensions": [{"Name": "Service", "Value": "orders-api"}], "Timestamp": t, "Value": float(i % 5 == 0) + (6 if i in (30, 31) else 0), "Unit": "Count"})
    for start in range(0, len(data), 20):
        cw.put_metric_data(Namespace="Acme/Orders", MetricData=data[start : start + 20])
    return {"buckets": list(BUCKETS), "log_groups": list(LOG_GROUPS)}
