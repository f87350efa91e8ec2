"""Resuming a workflow that waits on a task token (implements ``domain.ports.TaskTokensPort``):
Step Functions ``SendTaskSuccess``."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .aws import error_code

TASK_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class TaskTokens:
    def __init__(self, sfn: Any) -> None:
        self.sfn = sfn

    def send_success(self, task_token: str, output: dict[str, Any]) -> bool:
        """True: the waiting workflow resumes with ``output``. False: the task is gone (timed out, unknown or
        an invalid token). Any other failure raises."""
        try:
            self.sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as exc:
            if error_code(exc) not in TASK_GONE:
                raise
            return False
        return True
