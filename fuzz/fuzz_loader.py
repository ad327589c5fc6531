"""Fuzz the YAML loaders: processes, calendars, the role table and retention rules.

    .venv/bin/python -m fuzz.fuzz_loader --seconds 300 --seed 1

Every input must load or fail with a DefinitionError (a placed, readable problem list), quickly;
anything else is a crash, saved under out/fuzz/ with its traceback.
"""

from __future__ import annotations

import argparse
import random
import time
from importlib.resources import files

from engine.errors import CMEError
from fuzz.common import Budget, mutate, save


def _targets() -> list[tuple[str, str, object]]:
    from engine.protection.access import parse_role_table
    from engine.time.calendar import SchoolCalendar
    from engine.language.loader import load_process_text
    from engine.protection.retention import parse_retention

    root = files("processes")
    out: list[tuple[str, str, object]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml") and entry.name not in ("roles.yaml", "retention.yaml",
                                                               "rag.yaml", "recipients.yaml"):
            out.append(("process", entry.read_text(encoding="utf-8"), load_process_text))
    cal = root.joinpath("calendars", "london-2024-25.yaml").read_text(encoding="utf-8")
    out.append(("calendar", cal, lambda text, path: SchoolCalendar.from_yaml(text, path)))
    out.append(("roles", root.joinpath("roles.yaml").read_text(encoding="utf-8"),
                parse_role_table))
    out.append(("retention", root.joinpath("retention.yaml").read_text(encoding="utf-8"),
                parse_retention))
    return out


def main() -> None:
    """Fuzz the loaders for --seconds; print what happened."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    targets = _targets()
    rng = random.Random(args.seed)
    budget = Budget(args.seconds)
    runs = crashes = loaded = 0
    slowest = 0.0
    while budget.left():
        kind, text, load = rng.choice(targets)
        case_seed = rng.randrange(2**32)
        sample = mutate(text, random.Random(case_seed))
        started = time.perf_counter()
        try:
            load(sample, f"fuzz:{kind}")  # type: ignore[operator]
            loaded += 1
        except CMEError:
            pass
        except Exception as exc:  # the point: anything else is a bug
            crashes += 1
            print(f"CRASH {kind} seed {case_seed}: {type(exc).__name__}: {exc}"[:300])
            save(kind, case_seed, sample, exc)
        slowest = max(slowest, time.perf_counter() - started)
        runs += 1
    print(f"{runs} inputs, {loaded} loaded, {crashes} crashes, slowest {slowest:.2f}s")


if __name__ == "__main__":
    main()
