"""Packaging and CI: the README's two commands, .ci/run running exactly the documented test
command, and pyproject's dependencies and entry points."""

from __future__ import annotations

import importlib
import re
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _commands_block() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.index("<!-- COMMANDS -->") < 200, "the README must open with its commands"
    block = text.split("<!-- COMMANDS -->", 1)[1].split("<!-- /COMMANDS -->", 1)[0]
    return [l.strip() for l in block.splitlines() if l.strip().startswith("python3 ")]


def test_readme_opens_with_exactly_two_commands():
    run_app, run_tests = _commands_block()  # exactly two
    for cmd in (run_app, run_tests):
        assert cmd.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ")
        assert "torch==2.13.0" in cmd  # pinned in the commands, not in pyproject
        assert "pip install -c constraints.txt " in cmd  # tested versions, not the newest
    assert run_app.endswith("&& python main.py")
    assert "-e ." in run_app and "[test]" not in run_app
    assert "-e '.[test]'" in run_tests
    assert run_tests.endswith("QT_QPA_PLATFORM=offscreen python -m pytest -q")


def test_ci_runs_the_readme_test_command():
    out = subprocess.run(
        ["bash", str(REPO / ".ci" / "run"), "--print-command"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout.strip() == _commands_block()[1]
    script = (REPO / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert 'exec bash -c "$TEST_CMD"' in script  # its exit status is CI's
    for lib in ("libegl1", "libxkbcommon0", "libgl1", "libfontconfig1"):
        assert lib in script


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_pyproject_dependencies_and_extras():
    project = _pyproject()["project"]
    assert project["name"] == "lumafuse"
    assert project["requires-python"] == ">=3.11"
    names = {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    for needed in ("numpy", "opencv-python-headless", "openexr", "pyside6-essentials",
                   "pyqtgraph", "torch", "safetensors", "exifread", "rawpy", "pillow"):
        assert needed in names, needed
    assert not any(d.replace(" ", "").startswith("torch==") for d in project["dependencies"])
    test = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].lower() for d in project["optional-dependencies"]["test"]}
    assert {"pytest", "pytest-qt", "import-linter"} <= test


def test_entry_points_resolve():
    scripts = _pyproject()["project"]["scripts"]
    assert set(scripts) == {"lumafuse", "lumafuse-cli"}
    for target in scripts.values():
        module, _, func = target.partition(":")
        assert callable(getattr(importlib.import_module(module), func)), target
    assert scripts["lumafuse"] == "app.launcher:run"  # routes and exits like main.py
    assert scripts["lumafuse-cli"] == "app.cli.main:main"


def test_main_py_uses_the_launcher():
    text = (REPO / "main.py").read_text()
    assert "from app.launcher import run" in text and "run(sys.argv[1:])" in text
    assert "PySide6" not in text.split('"""', 2)[-1]  # nothing Qt before routing


def test_constraints_pin_every_dependency_exactly():
    """constraints.txt pins each direct dependency (and the test extras) to one version, and
    torch to the CPU wheel the README installs."""
    lines = [l.strip() for l in (REPO / "constraints.txt").read_text().splitlines()]
    pins = {}
    for line in lines:
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and not any(c in version for c in "<>=*,"), line
            pins[name.lower().replace("_", "-")] = version
    project = _pyproject()["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    for dep in wanted:
        name = re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
    assert pins["torch"] == "2.13.0"
