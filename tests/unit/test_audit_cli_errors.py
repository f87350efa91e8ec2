"""The auditor's CLI (issue 18): every error is one line with exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_gateway_local import cli


def test_stack_without_a_region_is_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    code = cli.main(["--state-dir", str(tmp_path), "audit", "--stack", "mcp-gateway", "--since", "1d"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "--region" in err


def test_no_local_stack_is_one_line_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--state-dir", str(tmp_path), "audit", "--since", "1d"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "make run" in err
