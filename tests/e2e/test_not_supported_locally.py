"""What moto cannot do is answered as such (issue 18): ``get_metric_data`` with a percentile statistic is a clear
NOT_SUPPORTED_LOCALLY tool error on the local stack, with no traceback in the terminal; plain statistics still
work."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import unique_email

pytestmark = pytest.mark.e2e

LATENCY = {
    "namespace": "Acme/Orders",
    "metric_name": "Latency",
    "dimensions": [{"name": "Service", "value": "orders-api"}],
}


async def test_get_metric_data_with_p99_is_a_not_supported_locally_error_without_a_traceback(
    stack: Any, session_factory: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    async with session_factory(unique_email("p99")).client() as client:
        result = await client.call_tool("get_metric_data", {**LATENCY, "stat": "p99"})
        plain = await client.call_tool("get_metric_data", {**LATENCY, "stat": "Maximum"})
    assert result.is_error
    body = json.loads(result.content[0].text)["error"]
    assert body["reason"] == "NOT_SUPPORTED_LOCALLY"
    assert not plain.is_error and plain.structured_content["status"] == "ok"
    printed = capfd.readouterr()
    assert "Traceback" not in printed.out + printed.err


def test_the_local_cloudwatch_refuses_an_extended_statistic_with_a_400_not_a_server_error(stack: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    query = {
        "Id": "m1",
        "MetricStat": {
            "Metric": {"Namespace": "Acme/Orders", "MetricName": "Latency"},
            "Period": 60,
            "Stat": "tm90",
        },
    }
    with pytest.raises(ClientError) as caught:
        stack.client("cloudwatch").get_metric_data(
            MetricDataQueries=[query], StartTime=now - dt.timedelta(hours=1), EndTime=now
        )
    assert caught.value.response["Error"]["Code"] == "NotSupportedLocally"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
