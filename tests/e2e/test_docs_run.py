"""The docs test, running half (issue 18): every ```bash run / ```python run block of README.md and docs/*.md runs
as written, in order, one shell per document, against a local stack of its own, started as `make run` starts it
(the default ports are replaced by its ports; MCP_GATEWAY_STATE_DIR points `mcp-gateway` at it). A block that
fails names itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from docs_support import DOCS, ROOT, Block, blocks, localised

RUNNABLE = {doc: [b for b in blocks(doc) if b.mode == "run"] for doc in DOCS}


@dataclass(frozen=True)
class DocsStack:
    """A local stack started exactly as `make run` starts it, in its own process (moto's backends are
    process-wide, so a second stack inside a test worker that already runs one would share its tables)."""

    state_dir: Path
    ports: dict[str, int]


def _free_ports(names: tuple[str, ...]) -> dict[str, int]:
    sockets = []
    try:
        for _ in names:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return {name: int(s.getsockname()[1]) for name, s in zip(names, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="module")
def docs_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsStack]:
    state_dir = tmp_path_factory.mktemp("docs-stack")
    ports = _free_ports(("gateway", "callback", "idp", "slack", "moto"))
    argv = [
        str(ROOT / ".venv" / "bin" / "mcp-gateway"),
        "--state-dir",
        str(state_dir),
        "run",
        "--port",
        str(ports["gateway"]),
        "--callback-port",
        str(ports["callback"]),
        "--idp-port",
        str(ports["idp"]),
        "--slack-port",
        str(ports["slack"]),
        "--moto-port",
        str(ports["moto"]),
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env={**os.environ}
    )
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:  # the banner ends with "Press Ctrl-C to stop." once every server is up
        seen.append(line)
        if "Press Ctrl-C to stop." in line:
            break
    else:
        proc.wait(timeout=30)
        pytest.fail("make run's stack did not come up: " + "".join(seen[-20:]))
    drain = threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True)
    drain.start()  # keep reading its log lines so the stack never blocks on a full pipe
    try:
        yield DocsStack(state_dir=state_dir, ports=ports)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as a developer stops it
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


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
    """The runbook's promote command with a kid no step ever creates fails the run, and the failure names the block
    that holds it, not a block before it that passed. Only the two blocks that prove it run (a passing read-only one,
    then the broken one): the whole runbook in front of it would prove nothing more and costs a stack's worth of CLI
    starts."""
    runbook = ROOT / "docs" / "runbook.md"
    text = runbook.read_text(encoding="utf-8").replace("keys promote k2", "keys promote k3", 1)  # no such kid
    run = [b for b in blocks(runbook, text) if b.mode == "run"]
    passing = next(b for b in run if b.text.strip() == ".venv/bin/mcp-gateway policy iam --format yaml")
    broken = next(b for b in run if "keys promote k3" in b.text)
    promote = next(line for line in broken.text.splitlines() if "keys promote k3" in line)
    result = run_blocks([passing, replace(broken, text=promote + "\n")], docs_stack, tmp_path)
    assert result.returncode != 0
    assert f"docs test: block {broken.where} failed" in result.stderr, result.stderr[-3000:]
    assert f"docs test: block {passing.where} failed" not in result.stderr
    assert "k3" in result.stderr, result.stderr[-3000:]  # the CLI's own refusal names the kid
