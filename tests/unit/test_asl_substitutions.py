"""The state machine definitions are partition-safe and their substitutions agree with template.yaml: no
``arn:aws:`` literal in any ASL, every ``${...}`` has a DefinitionSubstitution, every DefinitionSubstitution is
used, and the partition comes from ``AWS::Partition``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_gateway_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((ROOT / "statemachine").glob("*.asl.json"))
VARIABLE = re.compile(r"\$\{([^}]+)\}")


def state_machines() -> dict[str, dict[str, Any]]:
    """DefinitionUri -> the state machine resource's properties."""
    resources = load_template()["Resources"]
    return {
        spec["Properties"]["DefinitionUri"]: spec["Properties"]
        for spec in resources.values()
        if spec["Type"] == "AWS::Serverless::StateMachine"
    }


def substitutions_of(asl: Path) -> dict[str, Any]:
    props = state_machines()[str(asl.relative_to(ROOT))]
    return dict(props.get("DefinitionSubstitutions") or {})


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested ones (Parallel branches, Map processors) included."""
    for name, state in (definition.get("States") or {}).items():
        yield name, state
        for branch in state.get("Branches") or []:
            yield from states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from states(state[key])


def test_there_are_state_machine_definitions_and_each_belongs_to_a_state_machine_in_the_template() -> None:
    assert len(ASL_FILES) >= 2
    assert {str(p.relative_to(ROOT)) for p in ASL_FILES} == set(state_machines())


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_no_definition_hard_codes_the_aws_partition(asl: Path) -> None:
    text = asl.read_text(encoding="utf-8")
    assert "arn:aws:" not in text
    assert not re.search(r"arn:aws-[a-z-]+:", text), "no other partition literal either"


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_every_variable_in_a_definition_has_a_substitution_and_every_substitution_is_used(asl: Path) -> None:
    used = set(VARIABLE.findall(asl.read_text(encoding="utf-8")))
    defined = set(substitutions_of(asl))
    assert used, "a definition without substitutions would hard-code its resources"
    assert sorted(used - defined) == [], "variables with no DefinitionSubstitution"
    assert sorted(defined - used) == [], "DefinitionSubstitutions nobody uses"


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_the_partition_substitution_is_the_stacks_partition(asl: Path) -> None:
    assert substitutions_of(asl)["Partition"] == {"Ref": "AWS::Partition"}


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_in_another_partition_every_task_and_arn_follows_the_partition(asl: Path) -> None:
    text = asl.read_text(encoding="utf-8").replace("${Partition}", "aws-cn")
    definition = json.loads(VARIABLE.sub("X", text))
    tasks = [(name, state) for name, state in states(definition) if state["Type"] == "Task"]
    assert tasks
    for name, state in tasks:
        assert state["Resource"].startswith("arn:aws-cn:states:::"), name
    partitions = set(re.findall(r"\barn:([^:\"]*):", text))
    assert partitions == {"aws-cn"}
