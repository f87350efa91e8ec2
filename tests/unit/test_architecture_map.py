"""docs/architecture.md's one-page map stays true: every folder, module, logical ID, ASL state, model and test file it
names exists, so a newcomer who follows it never lands on a name that moved."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from mcp_gateway.domain import contracts

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "mcp_gateway"
DOC = ROOT / "docs" / "architecture.md"
CELL_NAME = re.compile(r"`([^`]+)`")


class _AnyTagLoader(yaml.SafeLoader):
    """Reads template.yaml with its CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def map_rows() -> list[dict[str, list[str]]]:
    """The map table's rows as {column: [backticked names]}."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 0. The map") : text.index("### The dependency rule")]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append({name: CELL_NAME.findall(cell) for name, cell in zip(header, cells, strict=True)})
    return rows


def _expand(name: str) -> list[str]:
    """`tools/{s3,logs}.py` -> two names; `tests/unit/test_tokens_*.py` stays a glob."""
    m = re.search(r"\{([^}]+)\}", name)
    if not m:
        return [name]
    return [name[: m.start()] + part + name[m.end() :] for part in m.group(1).split(",")]


def _path_exists(name: str) -> bool:
    path = name.split(" ", maxsplit=1)[0].rstrip("/")
    for base in (ROOT, PACKAGE):
        if "*" in path:
            if list(base.glob(path)):
                return True
        elif (base / path).exists():
            return True
    return False


def _logical_ids() -> set[str]:
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_AnyTagLoader)
    return set(template["Resources"])


def _states() -> set[str]:
    names: set[str] = set()
    for asl in (ROOT / "statemachine").glob("*.asl.json"):
        names.update(json.loads(asl.read_text(encoding="utf-8"))["States"])
    return names


ROWS = map_rows()


def test_the_map_has_a_row_for_every_function_of_the_template() -> None:
    functions = {f.parent.name for f in (ROOT / "functions").glob("*/app.py")}
    named = {n.rstrip("/").split("/")[-1] for row in ROWS for n in row["folder"] if n.startswith("functions/")}
    assert functions <= named


@pytest.mark.parametrize("row", ROWS, ids=[row["stage"][0] if row["stage"] else str(i) for i, row in enumerate(ROWS)])
def test_every_name_in_a_map_row_exists(row: dict[str, list[str]]) -> None:
    missing: list[str] = []
    for column in ("folder", "handler / module", "tests"):
        for raw in row.get(column, []):
            for name in _expand(raw.split(" ")[0]):
                if ("/" in name or name.endswith(".py")) and not _path_exists(name):
                    missing.append(f"{column}: {name}")
    ids = _logical_ids()
    for name in row.get("logical ID", []):
        if name not in ids:
            missing.append(f"logical ID: {name}")
    states = _states()
    for name in row.get("ASL state", []):
        for state in _expand(name):
            prefix = state.rstrip("…")
            if not any(s == prefix or (state.endswith("…") and s.startswith(prefix)) for s in states):
                missing.append(f"ASL state: {state}")
    for name in row.get("model (domain/contracts.py unless named)", []):
        if "/" in name or name.endswith(".py"):
            if not _path_exists(name.split(" ")[0]):
                missing.append(f"model module: {name}")
        elif name[:1].isupper() and not hasattr(contracts, name) and not _defined_somewhere(name):
            missing.append(f"model: {name}")
    assert missing == []


def _defined_somewhere(name: str) -> bool:
    pattern = re.compile(rf"^class {re.escape(name)}\b", re.M)
    return any(pattern.search(p.read_text(encoding="utf-8")) for p in PACKAGE.rglob("*.py"))


def test_the_map_check_reports_a_name_that_does_not_exist() -> None:
    assert not _path_exists("gateway/no_such_module.py")
    assert "NoSuchFunction" not in _logical_ids()
    assert not _defined_somewhere("NoSuchModel")
