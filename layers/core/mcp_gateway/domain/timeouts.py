"""Every timeout on the path of a tool call, derived from one setting: the request workflow's budget. Pure.

    Express sync budget  <  gateway's Step Functions read timeout  <  gateway Lambda timeout  <  function URL limit

The workflow must finish (and record its own outcome) before the gateway stops waiting for it, and the
gateway must have time left to record its own view and answer the agent before Lambda stops it. The
template's values (the request state machine's TimeoutSeconds, the gateway function's Timeout) are checked
against these by tests/unit/test_timeouts.py.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The default budget of one request workflow execution (seconds): the ASL's top-level TimeoutSeconds.
WORKFLOW_BUDGET_SECONDS = 25
#: Lambda's (and so a function URL's) hard limit on one invocation.
FUNCTION_URL_LIMIT_SECONDS = 900
READ_MARGIN_SECONDS = 5  # after the workflow's own deadline, before the gateway stops reading
ANSWER_MARGIN_SECONDS = 5  # after the gateway stops reading: the gateway outcome record and the answer


@dataclass(frozen=True)
class Timeouts:
    workflow_seconds: int
    client_read_seconds: int
    client_connect_seconds: int
    gateway_lambda_seconds: int
    function_url_limit_seconds: int = FUNCTION_URL_LIMIT_SECONDS

    def ordered(self) -> bool:
        return (
            0 < self.workflow_seconds < self.client_read_seconds < self.gateway_lambda_seconds
            and self.gateway_lambda_seconds < self.function_url_limit_seconds
            and self.client_connect_seconds < self.client_read_seconds
        )


def derive(workflow_seconds: int = WORKFLOW_BUDGET_SECONDS) -> Timeouts:
    if workflow_seconds < 1:
        raise ValueError("the workflow budget must be at least one second")
    read = workflow_seconds + READ_MARGIN_SECONDS
    out = Timeouts(
        workflow_seconds=workflow_seconds,
        client_read_seconds=read,
        client_connect_seconds=3,
        gateway_lambda_seconds=read + ANSWER_MARGIN_SECONDS,
    )
    if not out.ordered():
        raise ValueError("the workflow budget leaves no room inside the function URL limit")
    return out
