"""Local stack: StopExecution ends an execution that waits for a task token.

moto's ASL interpreter marks the program stopped but its worker stays parked in the ``.waitForTaskToken``
wait, so ``describe_execution`` keeps answering RUNNING (and a late SendTaskSuccess would still resume it).
Step Functions ends the execution at once: ABORTED, with its stop date, error and cause. ``install`` wraps the
parser's ``Execution.stop`` to record exactly that; the parked worker then finds its program stopped and never
runs another state."""

from __future__ import annotations

import datetime
from typing import Any

_installed = False


def install() -> None:
    global _installed  # noqa: PLW0603
    if _installed:
        return
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.stop

    def stop(self: Any, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
        original(self, stop_date=stop_date, error=error, cause=cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date
            self.error = error
            self.cause = cause

    Execution.stop = stop  # type: ignore[method-assign]
    _installed = True
