"""Developer tooling agrees with itself: pre-commit runs what scripts/test runs; pins cover all."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent

# Checks pre-commit runs that scripts/test does not run yet (none today: add one here only while
# a new check lands in the hooks ahead of the tree being clean for it).
PENDING_IN_SCRIPTS_TEST: set[str] = set()


def _normalise(command: str) -> str:
    return " ".join(shlex.split(command))


def scripts_test_checks() -> set[str]:
    """The .venv tools scripts/test runs, pytest aside (pre-commit is for the quick checks)."""
    checks = set()
    for line in (ROOT / "scripts" / "test").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*(?:exec\s+)?(\.venv/bin/\S+.*)$", line)
        if match and not match.group(1).startswith(".venv/bin/pytest"):
            checks.add(_normalise(match.group(1)))
    return checks


def pre_commit_hooks() -> list[dict[str, object]]:
    """Every hook of .pre-commit-config.yaml."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def test_pre_commit_runs_the_checks_of_scripts_test() -> None:
    hooks = {_normalise(str(hook["entry"])) for hook in pre_commit_hooks()}
    checks = scripts_test_checks()
    assert {".venv/bin/mypy", ".venv/bin/ruff check engine adapters tests benchmarks"} <= checks
    assert hooks >= PENDING_IN_SCRIPTS_TEST
    assert hooks - PENDING_IN_SCRIPTS_TEST == checks - PENDING_IN_SCRIPTS_TEST


def test_pre_commit_fetches_nothing() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    for hook in pre_commit_hooks():
        assert hook["language"] == "unsupported", hook["id"]
        assert str(hook["entry"]).startswith(".venv/bin/"), hook["id"]
        # Whole-tree checks, as in scripts/test: mypy cannot judge one staged file alone.
        assert hook["pass_filenames"] is False, hook["id"]


def test_constraints_pin_every_declared_dependency() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned with ==: {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    for text in declared:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is declared in pyproject.toml but not pinned: run lock.py"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject's {requirement.specifier}"
        )
