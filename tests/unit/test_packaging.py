"""The wheel built from pyproject.toml holds every package and module of the source tree and the bundled policy:
installed on its own (no source tree on sys.path, no editable install), every module imports and the bundled
policy loads."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = {
    "mcp_gateway": ROOT / "layers" / "core" / "mcp_gateway",
    "mcp_gateway_local": ROOT / "local" / "mcp_gateway_local",
}
BUNDLED = ("mcp_gateway/bundled/gateway-policy.yaml", "mcp_gateway/bundled/schema.json")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def source_modules() -> set[str]:
    """Every .py file of both packages, as a path inside the wheel."""
    return {
        f"{package}/{path.relative_to(root).as_posix()}"
        for package, root in SOURCE_ROOTS.items()
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources (the build never writes into the shared tree)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", src / "pyproject.toml")
    for folder in ("layers/core", "local", "policy"):
        shutil.copytree(ROOT / folder, src / folder, symlinks=True, ignore=IGNORE)
    command = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--quiet", "-w", str(work / "dist")]
    if importlib.util.find_spec("setuptools") is not None:
        command.append("--no-build-isolation")  # the venv's setuptools; otherwise pip fetches the pinned backend
    subprocess.run(command, check=True, capture_output=True, timeout=240, cwd=work)
    (built,) = (work / "dist").glob("mcp_aws_gateway-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", str(target)]
    subprocess.run([*command, str(wheel)], check=True, capture_output=True, timeout=120)
    return target


def test_the_wheel_holds_every_module_of_the_source_tree_and_the_bundled_policy(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = source_modules()
    assert {"mcp_gateway/handlers/__init__.py", "mcp_gateway/gateway/__init__.py"} <= modules
    assert sorted(modules - names) == []
    assert set(BUNDLED) <= names
    assert "mcp_gateway/py.typed" in names


def test_the_bundled_policy_files_in_the_wheel_are_the_policy_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(BUNDLED[0]) == (ROOT / "policy" / "gateway-policy.yaml").read_bytes()
        assert zf.read(BUNDLED[1]) == (ROOT / "policy" / "schema.json").read_bytes()


PROBE = """
import importlib, json, pkgutil, sys
target, site_packages = sys.argv[1], sys.argv[2]
sys.path[:] = [target, site_packages, *[p for p in sys.path if p.startswith(sys.base_prefix)]]
imported = []
for name in ("mcp_gateway", "mcp_gateway_local"):
    package = importlib.import_module(name)
    imported.append(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
outside = sorted(
    n for n in imported if not (getattr(sys.modules[n], "__file__", None) or target).startswith(target)
)
from importlib import resources
from mcp_gateway.policy_loader import load_policy
policy = load_policy()
schema = json.loads(resources.files("mcp_gateway").joinpath("bundled", "schema.json").read_text())
print(json.dumps({"imported": imported, "outside": outside, "allow": len(policy.allow), "schema": schema["title"]}))
"""


def test_every_module_imports_from_the_installed_wheel_and_the_bundled_policy_loads(installed: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("POLICY_PATH", "PYTHONPATH")}
    # -S: no site processing, so neither the editable install's finder nor the source tree is on the path
    result = subprocess.run(
        [sys.executable, "-S", "-P", "-c", PROBE, str(installed), sysconfig.get_paths()["purelib"]],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=installed,
        env=env,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {path.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for path in source_modules()}
    assert sorted(expected - set(report["imported"])) == []
    assert report["outside"] == []
    assert report["allow"] > 0
    assert report["schema"]
