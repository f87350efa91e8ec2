"""The docs test, static half (issue 18): every code block of README.md and docs/*.md is marked and checked.
Runnable blocks run in tests/e2e/test_docs_run.py; blocks that need AWS are checked here for syntax, for their aws
CLI operations and options (botocore's model) and for their parameter overrides (template.yaml's ranges and Rules)."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_support import DOCS, ROOT, Block, block_problems, blocks, commands

ALL_BLOCKS = [b for doc in DOCS for b in blocks(doc)]


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.where)
def test_every_documented_block_is_marked_and_passes_its_static_checks(block: Block) -> None:
    assert block_problems(block) == []


def test_the_docs_hold_runnable_blocks_in_readme_clients_and_the_runbook() -> None:
    runnable = {b.path.name for b in ALL_BLOCKS if b.mode == "run"}
    assert {"README.md", "clients.md", "runbook.md", "audit.md"} <= runnable


def mutated(doc: str, old: str, new: str) -> list[str]:
    path = ROOT / doc
    text = path.read_text(encoding="utf-8")
    assert old in text
    return [p for b in blocks(path, text.replace(old, new, 1)) for p in block_problems(b)]


def test_a_runbook_parameter_value_outside_the_templates_range_fails_the_docs_check() -> None:
    problems = mutated("docs/runbook.md", "GatewayProvisionedConcurrency=0", "GatewayProvisionedConcurrency=-3")
    assert any("MinValue" in p for p in problems)


def test_stopping_the_gateway_without_dropping_provisioned_concurrency_fails_the_docs_check() -> None:
    problems = mutated("docs/runbook.md", " GatewayProvisionedConcurrency=0", "")
    assert any("StoppedGatewayHasNoProvisionedConcurrency" in p for p in problems)


def test_a_misspelt_aws_option_or_operation_fails_the_docs_check() -> None:
    wrong = mutated("docs/deploy.md", '--secret-id "$SLACK_SECRET_ARN"', '--secret "$SLACK_SECRET_ARN"')
    assert any("unknown option --secret" in p for p in wrong)
    assert any("no such operation" in p for p in mutated("docs/deploy.md", "describe-stacks", "describe-stack"))


def test_a_placeholder_that_breaks_the_shell_fails_the_docs_check() -> None:
    problems = mutated("docs/deploy.md", '--secret-id "$SLACK_SECRET_ARN"', "--secret-id <SlackSecret ARN>")
    assert any("placeholder <SlackSecret ARN>" in p for p in problems)


def test_an_mcp_gateway_flag_the_cli_does_not_have_fails_the_docs_check() -> None:
    problems = mutated("docs/runbook.md", "keys retire --inactive", "keys retire --old")
    assert any("unrecognized arguments: --old" in p for p in problems)


def test_a_command_block_without_a_marker_fails_the_docs_check(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("```\n.venv/bin/mcp-gateway audit --since 1d\n```\n", encoding="utf-8")
    assert any("no marker" in p for b in blocks(doc) for p in block_problems(b))


def test_commands_are_found_inside_substitutions_pipes_and_continuations() -> None:
    found = commands(
        'X="$(aws cloudformation describe-stacks --stack-name s)"\\\n echo a | aws sts get-caller-identity'
    )
    assert ["aws", "cloudformation", "describe-stacks", "--stack-name", "s"] in found
    assert ["aws", "sts", "get-caller-identity"] in found


def test_the_slack_app_manifest_is_in_the_repo_with_interactivity_and_chat_write() -> None:
    import yaml

    manifest = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "chat:write" in manifest["oauth_config"]["scopes"]["bot"]
    assert "deploy/slack-app-manifest.yaml" in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_the_aws_cli_is_a_listed_prerequisite() -> None:
    assert "The AWS CLI" in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
