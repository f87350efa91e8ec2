"""template.yaml's function environments and the functions' Settings models agree: every variable a function's
template sets is a field of one of that function's Settings models (or a runtime library's own variable), every
required field is set, and every field of mcp_gateway.settings is read by the code (an unused required setting is
a deploy-time trap)."""

from __future__ import annotations

import ast
import functools
import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from mcp_gateway import settings as settings_module
from mcp_gateway_local.template import load_template as _load_template
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "mcp_gateway"

# Each function's Settings models: the one its app.py loads first, then any its wiring loads on its own.
SETTINGS_OF: dict[str, tuple[str, ...]] = {
    "GatewayFunction": ("mcp_gateway.settings:GatewaySettings", "mcp_gateway.gateway.oauth_wiring:OAuthSettings"),
    "ValidateFunction": ("mcp_gateway.settings:ValidateSettings",),
    "ExecuteFunction": ("mcp_gateway.settings:ExecuteSettings",),
    "AuditFunction": ("mcp_gateway.settings:AuditSettings",),
    "NotifyApproversFunction": ("mcp_gateway.settings:NotifyApproversSettings",),
    "ApprovalCallbackFunction": ("mcp_gateway.settings:ApprovalCallbackSettings",),
}
# Variables read by the runtime's libraries, not by our Settings: Powertools' own and botocore's.
LIBRARY_VARIABLES = re.compile(r"^(POWERTOOLS_[A-Z_]+|AWS_STS_REGIONAL_ENDPOINTS)$")


@functools.cache
def load_template() -> dict[str, Any]:
    return _load_template()


def model(path: str) -> type[BaseSettings]:
    module, name = path.split(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, BaseSettings), path
    return cls  # type: ignore[no-any-return]


def functions() -> dict[str, dict[str, Any]]:
    resources = load_template()["Resources"]
    return {name: spec for name, spec in resources.items() if spec["Type"] == "AWS::Serverless::Function"}


def environment(logical: str) -> set[str]:
    template = load_template()
    globals_env = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = functions()[logical]["Properties"].get("Environment", {}).get("Variables", {})
    return set(globals_env) | set(own)


def loaded_model(logical: str) -> str:
    """The Settings class functions/<dir>/app.py passes to ``load(...)``."""
    app = ROOT / functions()[logical]["Properties"]["CodeUri"] / "app.py"
    calls = [
        node.args[0].id
        for node in ast.walk(ast.parse(app.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "load"
        if node.args and isinstance(node.args[0], ast.Name)
    ]
    assert len(calls) == 1, f"{app} loads one Settings model"
    return calls[0]


def test_the_table_names_every_function_and_the_model_its_app_loads() -> None:
    assert set(SETTINGS_OF) == set(functions())
    for logical, models in SETTINGS_OF.items():
        assert models[0].split(":")[1] == loaded_model(logical), logical


@pytest.mark.parametrize("logical", sorted(SETTINGS_OF))
def test_every_template_variable_of_a_function_is_a_field_of_its_settings(logical: str) -> None:
    fields = {name for path in SETTINGS_OF[logical] for name in model(path).model_fields}
    stray = sorted(v for v in environment(logical) if v not in fields and not LIBRARY_VARIABLES.match(v))
    assert stray == []


@pytest.mark.parametrize("logical", sorted(SETTINGS_OF))
def test_every_required_setting_of_a_function_is_set_in_the_template(logical: str) -> None:
    required = {
        name for path in SETTINGS_OF[logical] for name, field in model(path).model_fields.items() if field.is_required()
    }
    assert sorted(required - environment(logical)) == []


def settings_models() -> list[type[BaseSettings]]:
    return [
        cls
        for cls in vars(settings_module).values()
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls.__module__ == settings_module.__name__
    ]


def test_every_field_of_the_settings_models_is_read_by_the_code() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py") if p != PACKAGE / "settings.py")
    fields = {name for cls in settings_models() for name in cls.model_fields}
    assert "AUDIT_TABLE_NAME" in fields
    unread = sorted(name for name in fields if not re.search(rf"\.{name}\b", code))
    assert unread == []
