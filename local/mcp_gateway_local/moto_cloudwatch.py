"""CloudWatch features moto lacks, answered as such instead of with a server-side traceback.

moto computes only the plain statistics (Average, Sum, Minimum, Maximum, SampleCount). A percentile or another
extended statistic (``p99``, ``tm90``, ``IQR``...) makes its GetMetricData serialise ``None`` and answer HTTP 500
with a traceback in the terminal, which botocore retries (four tracebacks) and the agent sees as
EXECUTION_ERROR. Here moto refuses such a query with the error code ``NotSupportedLocally`` (HTTP 400, not
retried); the execute step maps that code to the reason ``NOT_SUPPORTED_LOCALLY``. On AWS nothing changes.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import ServiceException

#: The statistics moto computes.
MOTO_STATISTICS = frozenset({"Average", "Sum", "Minimum", "Maximum", "SampleCount"})
ERROR_CODE = "NotSupportedLocally"

_lock = threading.Lock()
_installed = False


class NotSupportedLocally(ServiceException):
    code = ERROR_CODE


def unsupported_statistic(queries: list[dict[str, Any]]) -> str | None:
    """The first statistic of a GetMetricData query that moto cannot compute, else None."""
    for query in queries or []:
        stat = (query.get("MetricStat") or {}).get("Stat") if isinstance(query, dict) else None
        if isinstance(stat, str) and stat not in MOTO_STATISTICS:
            return stat
    return None


def _refusing_extended_statistics(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_metric_data(self: Any, queries: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        stat = unsupported_statistic(queries)
        if stat is not None:
            raise NotSupportedLocally(
                ERROR_CODE,
                f"the local AWS stand-in (moto) cannot compute the statistic {stat[:16]!r}; "
                f"use one of {', '.join(sorted(MOTO_STATISTICS))} locally (it works on AWS)",
            )
        return original(self, queries, *args, **kwargs)

    return get_metric_data


def install() -> None:
    """Patch moto's CloudWatch backend, once per process."""
    global _installed  # noqa: PLW0603
    with _lock:
        if _installed:
            return
        from moto.cloudwatch.models import CloudWatchBackend

        # moto warns that the code is not in CloudWatch's error shapes (it is ours): not for the terminal
        warnings.filterwarnings("ignore", message=rf"Exception\({ERROR_CODE}\)")

        CloudWatchBackend.get_metric_data = _refusing_extended_statistics(  # type: ignore[method-assign]
            CloudWatchBackend.get_metric_data
        )
        _installed = True
