"""The architecture, enforced: the import-linter contracts (.importlinter), the domain's banned-I/O rule (ruff's
TID251 banned-api and an AST check for what imports cannot show: ``open()``, ``os.environ``, ``urllib.request``)
and the one wiring pattern of ``functions/*/app.py``. Each rule is also run on a probe that breaks it, so a rule
that silently stopped checking would fail here."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOMAIN = ROOT / "layers" / "core" / "mcp_gateway" / "domain"

# Modules the domain may not import (the import-linter contract covers the same ground for whole packages;
# ``urllib.parse`` is pure and stays allowed, ``urllib.request``/``urllib.error`` are network I/O).
BANNED_MODULES = (
    "socket",
    "ssl",
    "http",
    "urllib.request",
    "urllib.error",
    "subprocess",
    "requests",
    "httpx",
    "urllib3",
    "boto3",
    "botocore",
    "pathlib",
    "shutil",
    "tempfile",
    "importlib.resources",
)
# Attributes of ``os`` that read the environment or touch the file system / processes.
BANNED_OS = frozenset(
    {
        "environ", "environb", "getenv", "getenvb", "putenv", "unsetenv", "system", "popen", "open", "fdopen",
        "listdir", "scandir", "walk", "remove", "unlink", "mkdir", "makedirs", "rename", "replace", "stat",
    }
)  # fmt: skip
BANNED_CALLS = frozenset({"open", "io.open", "io.FileIO", "codecs.open"})
BANNED_METHODS = frozenset({"read_text", "read_bytes", "write_text", "write_bytes"})


def _banned_module(name: str) -> bool:
    return any(name == banned or name.startswith(banned + ".") for banned in BANNED_MODULES)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def io_violations(source: str) -> list[str]:
    """Rule codes of every I/O construct in ``source``: ``import:<module>``, ``os.<attr>``, ``call:<name>``,
    ``method:<name>``. Empty for pure code."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import:{a.name}" for a in node.names if _banned_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if _banned_module(node.module):
                found.append(f"import:{node.module}")
            elif node.module == "os":
                found += [f"os.{a.name}" for a in node.names if a.name in BANNED_OS]
            elif node.module == "urllib":
                found += [f"import:urllib.{a.name}" for a in node.names if _banned_module(f"urllib.{a.name}")]
            elif node.module in ("io", "codecs"):
                found += [
                    f"call:{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in BANNED_CALLS
                ]
        elif isinstance(node, ast.Attribute) and _dotted(node.value) == "os" and node.attr in BANNED_OS:
            found.append(f"os.{node.attr}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in BANNED_CALLS:
                found.append(f"call:{name}")
            elif isinstance(node.func, ast.Attribute) and node.func.attr in BANNED_METHODS:
                found.append(f"method:{node.func.attr}")
    return found


def _lint_imports(cwd: Path, python_path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = None
    if python_path is not None:
        import os

        env = {**os.environ, "PYTHONPATH": python_path}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-logo", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --------------------------------------------------------------------------------------------------------------
# The import contracts
# --------------------------------------------------------------------------------------------------------------
def test_the_import_linter_contracts_hold_for_the_tree() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " broken" in result.stdout and "0 broken" in result.stdout


@pytest.fixture
def probe_tree(tmp_path: Path) -> Path:
    """A copy of both packages and the contracts, for probes that break them."""
    shutil.copytree(ROOT / "layers" / "core" / "mcp_gateway", tmp_path / "mcp_gateway")
    shutil.copytree(ROOT / "local" / "mcp_gateway_local", tmp_path / "mcp_gateway_local")
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize(
    ("probe", "breakage"),
    [
        ("import socket\n", "mcp_gateway.domain is not allowed to import socket"),
        ("import http.client\n", "mcp_gateway.domain is not allowed to import http"),
        ("import subprocess\n", "mcp_gateway.domain is not allowed to import subprocess"),
        ("import boto3\n", "mcp_gateway.domain is not allowed to import boto3"),
        ("from .. import settings\n", "mcp_gateway.domain is not allowed to import mcp_gateway.settings"),
        ("from ..adapters import aws\n", "mcp_gateway.domain is not allowed to import mcp_gateway.adapters"),
        ("from ..gateway import edge\n", "mcp_gateway.domain is not allowed to import mcp_gateway.gateway"),
    ],
)
def test_a_domain_module_that_breaks_the_dependency_rule_fails_the_import_contract(
    probe_tree: Path, probe: str, breakage: str
) -> None:
    (probe_tree / "mcp_gateway" / "domain" / "_probe.py").write_text(probe)
    result = _lint_imports(probe_tree, python_path=str(probe_tree))
    assert result.returncode == 1, result.stdout + result.stderr
    assert breakage in result.stdout


@pytest.mark.parametrize(
    ("module", "probe", "breakage"),
    [
        (
            "adapters",
            "from ..handlers import audit\n",
            "mcp_gateway.adapters is not allowed to import mcp_gateway.handlers",
        ),
        (
            "adapters",
            "from ..gateway import edge\n",
            "mcp_gateway.adapters is not allowed to import mcp_gateway.gateway",
        ),
        ("gateway", "import botocore.exceptions\n", "mcp_gateway.gateway is not allowed to import botocore"),
        ("handlers", "import boto3\n", "mcp_gateway.handlers is not allowed to import boto3"),
        ("handlers", "import mcp_gateway_local.cli\n", "mcp_gateway is not allowed to import mcp_gateway_local"),
    ],
)
def test_an_outer_module_that_reaches_past_its_layer_fails_the_import_contract(
    probe_tree: Path, module: str, probe: str, breakage: str
) -> None:
    (probe_tree / "mcp_gateway" / module / "_probe.py").write_text(probe)
    result = _lint_imports(probe_tree, python_path=str(probe_tree))
    assert result.returncode == 1, result.stdout + result.stderr
    assert breakage in result.stdout


# --------------------------------------------------------------------------------------------------------------
# The domain performs no I/O
# --------------------------------------------------------------------------------------------------------------
def test_no_domain_module_performs_io() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert len(files) > 10
    offenders = {str(p.relative_to(ROOT)): io_violations(p.read_text(encoding="utf-8")) for p in files}
    assert {path: codes for path, codes in offenders.items() if codes} == {}


@pytest.mark.parametrize(
    ("probe", "code"),
    [
        ("data = open('policy.yaml').read()\n", "call:open"),
        ("import io\ndata = io.open('p').read()\n", "call:io.open"),
        ("from io import open\n", "call:io.open"),
        ("import os\nregion = os.environ['AWS_REGION']\n", "os.environ"),
        ("import os\nregion = os.getenv('AWS_REGION')\n", "os.getenv"),
        ("from os import environ\n", "os.environ"),
        ("import urllib.request\n", "import:urllib.request"),
        ("from urllib.error import URLError\n", "import:urllib.error"),
        ("from urllib import request\n", "import:urllib.request"),
        ("from pathlib import Path\n", "import:pathlib"),
        ("import http.server\n", "import:http.server"),
        ("import socket\n", "import:socket"),
        ("import subprocess\n", "import:subprocess"),
        ("import requests\n", "import:requests"),
        ("from importlib import resources\nresources.files('x').joinpath('p').read_text()\n", "method:read_text"),
    ],
)
def test_the_io_check_flags_each_banned_construct(probe: str, code: str) -> None:
    assert code in io_violations(probe)


def test_the_io_check_allows_pure_standard_library_code() -> None:
    pure = (
        "import urllib.parse\nfrom urllib.parse import urlsplit, quote\nimport json, hashlib, hmac, re, io\n"
        "buf = io.StringIO()\nparts = urllib.parse.urlsplit('https://example.com/a')\n"
    )
    assert io_violations(pure) == []


@pytest.mark.parametrize(
    ("probe", "module"),
    [
        ("import socket\n", "socket"),
        ("import urllib.request\n", "urllib.request"),
        ("import subprocess\n", "subprocess"),
        ("import boto3\n", "boto3"),
        ("import os\nregion = os.environ['AWS_REGION']\n", "os.environ"),
        ("from pathlib import Path\n", "pathlib"),
    ],
)
def test_ruff_bans_io_modules_in_the_domain_but_not_elsewhere(probe: str, module: str) -> None:
    def ruff(path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "ruff"), "check", "--select", "TID251", "--output-format", "concise", "--stdin-filename", path],
            cwd=ROOT,
            input=probe,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    in_domain = ruff("layers/core/mcp_gateway/domain/_probe.py")
    assert in_domain.returncode == 1, in_domain.stdout + in_domain.stderr
    assert f"TID251 `{module}` is banned" in in_domain.stdout
    assert ruff("layers/core/mcp_gateway/adapters/_probe.py").returncode == 0


# --------------------------------------------------------------------------------------------------------------
# One wiring pattern for every function
# --------------------------------------------------------------------------------------------------------------
WIRING_IMPORTS = frozenset(
    {
        "typing",
        "aws_lambda_powertools.metrics",
        "mcp_gateway.handlers.wiring",
        "mcp_gateway.gateway.wiring",
        "mcp_gateway.observability",
        "mcp_gateway.settings",
    }
)


def wiring_violations(source: str) -> list[str]:
    """How ``source`` departs from the pattern ``SETTINGS = load(XSettings); HANDLER = build_x(SETTINGS)`` plus
    one ``lambda_handler``; the only imports are the wiring, settings and observability modules."""
    tree = ast.parse(source)
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [f"import:{a.name}" for a in node.names if a.name not in WIRING_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and (node.level or node.module not in WIRING_IMPORTS):
            found.append(f"import:{node.module}")
    assigns = [n for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)]
    calls = [n.value for n in assigns if isinstance(n.value, ast.Call)]
    shape = [(_dotted(c.func), [_dotted(a) for a in c.args]) for c in calls]
    if len(assigns) != 2 or len(shape) != 2:
        found.append("wiring:two-assignments")
    elif not (shape[0][0] == "load" and shape[0][1][0].endswith("Settings") and len(shape[0][1]) == 1):
        found.append("wiring:settings")
    elif not (shape[1][0].startswith("build_") and shape[1][1] == ["SETTINGS"]):
        found.append("wiring:build")
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    if defs != ["lambda_handler"]:
        found.append("wiring:one-handler")
    return found


APPS = sorted((ROOT / "functions").glob("*/app.py"))


@pytest.mark.parametrize("app", APPS, ids=[p.parent.name for p in APPS])
def test_every_function_is_wired_the_same_way(app: Path) -> None:
    assert wiring_violations(app.read_text(encoding="utf-8")) == []


def test_every_function_of_the_template_has_an_app_module_checked_here() -> None:
    from mcp_gateway_local.template import load_template

    resources = load_template()["Resources"].values()
    code_dirs = {
        (ROOT / r["Properties"]["CodeUri"]).resolve() for r in resources if r["Type"] == "AWS::Serverless::Function"
    }
    assert len(code_dirs) >= 6
    assert {p.parent.resolve() for p in APPS} == code_dirs


@pytest.mark.parametrize(
    ("probe", "code"),
    [
        ("from mcp_gateway.adapters import aws\n", "import:mcp_gateway.adapters"),
        ("import boto3\n", "import:boto3"),
        ("import os\n", "import:os"),
        ("from mcp_gateway.domain.policy import Policy\n", "import:mcp_gateway.domain.policy"),
        ("EXTRA = make_client()\n", "wiring:two-assignments"),
        ("def _helper() -> None: ...\n", "wiring:one-handler"),
    ],
)
def test_the_wiring_check_flags_an_app_that_does_its_own_wiring(probe: str, code: str) -> None:
    source = (ROOT / "functions" / "audit" / "app.py").read_text(encoding="utf-8")
    assert wiring_violations(source) == []
    assert code in wiring_violations(probe + source)


# --------------------------------------------------------------------------------------------------------------
# Complexity budgets (pyproject.toml [tool.ruff.lint.mccabe] / [tool.ruff.lint.pylint])
# --------------------------------------------------------------------------------------------------------------
def _ruff_stdin(source: str, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ruff"), "check", "--output-format", "concise", "--stdin-filename", path],
        cwd=ROOT,
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _branchy(branches: int) -> str:
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(branches))
    return f"def f(x: int) -> int:\n{body}    return -1\n"


def _long(statements: int) -> str:
    body = "".join(f"    x += {i}\n" for i in range(statements))
    return f"def f(x: int) -> int:\n{body}    return x\n"


def test_a_function_past_the_complexity_budgets_fails_lint_and_one_within_them_passes() -> None:
    import tomllib

    lint = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["lint"]
    complexity, branches = lint["mccabe"]["max-complexity"], lint["pylint"]["max-branches"]
    statements = lint["pylint"]["max-statements"]
    assert {"C90", "PL"} <= set(lint["select"])
    assert not {"C901", "PLR0912", "PLR0915"} & set(lint["ignore"])
    path = "layers/core/mcp_gateway/adapters/_probe.py"
    too_complex = _ruff_stdin(_branchy(complexity), path)  # complexity = branches + 1
    assert too_complex.returncode == 1 and " C901 " in too_complex.stdout
    too_branchy = _ruff_stdin(_branchy(branches + 1), path)
    assert too_branchy.returncode == 1 and " PLR0912 " in too_branchy.stdout
    too_long = _ruff_stdin(_long(statements + 1), path)
    assert too_long.returncode == 1 and " PLR0915 " in too_long.stdout
    assert _ruff_stdin(_branchy(min(branches, complexity - 1)), path).returncode == 0
    assert _ruff_stdin(_long(statements), path).returncode == 0
