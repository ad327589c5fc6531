"""Write constraints.txt: every package `cme-engine[test]` needs, pinned to what .venv holds.

pyproject.toml keeps lower bounds (what the code needs); constraints.txt says which versions the
suite last passed with, so `scripts/setup` builds the same environment on every machine. To move
the pins: raise or relax a bound in pyproject.toml (or `.venv/bin/pip install -U NAME`), run the
tests, then `.venv/bin/python scripts/lock.py` and commit both files.

Unlike a bare `pip freeze`, only the dependency closure of the project is written: tools installed
into .venv by hand (vulture, ipython, ...) stay out.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "cme-engine"
EXTRAS = ("test",)
# Installed by `scripts/setup` itself, before the project; pinned so a new pip cannot change how
# the rest resolves.
TOOLS = ("pip",)


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure() -> dict[str, str]:
    """Canonical name -> installed version for the project's requirements, transitively."""
    pins: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(PROJECT, EXTRAS)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, extras = todo.pop()
        if (canonical(name), extras) in seen:
            continue
        seen.add((canonical(name), extras))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            sys.exit(f"{name} is required but not installed in this environment: run scripts/setup")
        if canonical(name) != PROJECT:
            pins[canonical(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            # An extra-less environment, plus each extra asked for on this package.
            envs = [{"extra": ""}] + [{"extra": extra} for extra in extras]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, tuple(sorted(req.extras))))
    for tool in TOOLS:
        pins[canonical(tool)] = distribution(tool).version
    return pins


def main() -> None:
    """Write constraints.txt next to pyproject.toml."""
    pins = closure()
    lines = [
        "# Written by `.venv/bin/python scripts/lock.py` from the environment the tests passed in.",
        "# Used by scripts/setup: pip install -c constraints.txt -e '.[test]'. Not edited by hand.",
        f"# Python {sys.version_info.major}.{sys.version_info.minor}",
        *(f"{name}=={pins[name]}" for name in sorted(pins)),
    ]
    (ROOT / "constraints.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"constraints.txt: {len(pins)} packages pinned")


if __name__ == "__main__":
    main()
