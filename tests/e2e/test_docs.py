"""The docs test, running half (issue 18): every ```bash run / ```python run block of README.md and docs/*.md runs
as written, in order, one shell per document, against a local stack of its own (the default ports are replaced by
its ports; MCP_GATEWAY_STATE_DIR points `mcp-gateway` at it). A block that fails names itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docs_support import DOCS, ROOT, Block, blocks, localised

RUNNABLE = {doc: [b for b in blocks(doc) if b.mode == "run"] for doc in DOCS}


@pytest.fixture(scope="module")
def docs_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mcp_gateway_local.stack import LocalStack

    local = LocalStack(state_dir=tmp_path_factory.mktemp("docs-stack"))
    local.start()
    yield local
    local.stop()


def script_for(run: list[Block], stack: Any, workdir: Path) -> str:
    lines = ["set -eo pipefail", f"cd {ROOT}", "trap 'echo \"docs test: block $BLOCK failed\" >&2' ERR"]
    for n, block in enumerate(run):
        text = localised(block.text, stack.ports)
        lines.append(f"BLOCK={block.where}")
        if block.lang == "python":
            path = workdir / f"block{n}.py"
            path.write_text(text, encoding="utf-8")
            lines.append(f'"{sys.executable}" {path}')
        else:
            lines.append(text)
    return "\n".join(lines) + "\n"


def run_blocks(run: list[Block], stack: Any, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "MCP_GATEWAY_STATE_DIR": str(stack.state_dir),
    }
    return subprocess.run(
        ["bash", "-c", script_for(run, stack, workdir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("doc", [d for d in DOCS if RUNNABLE[d]], ids=lambda d: d.name)
def test_every_runnable_block_of_the_document_runs_against_the_local_stack(
    doc: Path, docs_stack: Any, tmp_path: Path
) -> None:
    result = run_blocks(RUNNABLE[doc], docs_stack, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_documented_command_that_breaks_fails_the_docs_test(docs_stack: Any, tmp_path: Path) -> None:
    runbook = ROOT / "docs" / "runbook.md"
    text = runbook.read_text(encoding="utf-8").replace("keys promote k2", "keys promote k3", 1)  # no such kid
    run = [b for b in blocks(runbook, text) if b.mode == "run"]
    result = run_blocks(run, docs_stack, tmp_path)
    assert result.returncode != 0
    assert "docs test: block docs/runbook.md:" in result.stderr
