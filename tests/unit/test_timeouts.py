"""Every timeout of a tool call's path derives from the one workflow budget (domain/timeouts.py), and the
template and the request state machine say the same: Express sync budget < the gateway's read timeout <
the gateway Lambda timeout < the function URL limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_gateway.domain.timeouts import FUNCTION_URL_LIMIT_SECONDS, derive
from mcp_gateway.settings import GatewaySettings
from mcp_gateway_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def _gateway() -> dict:
    return load_template()["Resources"]["GatewayFunction"]["Properties"]


def test_the_template_the_state_machine_and_the_settings_share_one_workflow_budget() -> None:
    asl = json.loads((ROOT / "statemachine" / "request.asl.json").read_text())
    budget = int(_gateway()["Environment"]["Variables"]["WORKFLOW_TIMEOUT_SECONDS"])
    assert asl["TimeoutSeconds"] == budget
    assert GatewaySettings.model_fields["WORKFLOW_TIMEOUT_SECONDS"].default == budget


def test_the_timeouts_are_ordered_from_the_workflow_budget_to_the_function_url_limit() -> None:
    budget = int(_gateway()["Environment"]["Variables"]["WORKFLOW_TIMEOUT_SECONDS"])
    t = derive(budget)
    lambda_timeout = int(_gateway()["Timeout"])
    assert t.workflow_seconds < t.client_read_seconds < lambda_timeout < FUNCTION_URL_LIMIT_SECONDS
    assert lambda_timeout == t.gateway_lambda_seconds
    assert t.ordered()


def test_a_budget_that_leaves_no_room_inside_the_function_url_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        derive(FUNCTION_URL_LIMIT_SECONDS)
    with pytest.raises(ValueError):
        derive(0)
