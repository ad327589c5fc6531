"""Cold start of `cme case show ID --json` on a 100,000-case SQLite database, against
`python -c 'import sqlmodel'` measured in the same run; and which commands stay light.

Every measurement is a fresh interpreter, timed from outside (wall clock), the commands taking
turns so that a busy machine slows all of them alike; the script prints the minimum and the
median of each and the ratio of the medians.

Usage:
    .venv/bin/python benchmarks/cold_start.py                   # 100,000 cases, 15 runs each
    .venv/bin/python benchmarks/cold_start.py --cases 1000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CME = str(Path(sys.executable).parent / "cme")
HEAVY = ("sqlalchemy", "sqlmodel", "cel", "transitions", "psycopg", "apscheduler")
MASTER_KEY = "YmVuY2htYXJrLW9ubHktbWFzdGVyLWtleS0zMmJ5dGU="  # the one commands.py builds with


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds one run of `argv` takes, start to exit, and the CPU seconds (user + system)
    it used; it must succeed. On a shared machine the CPU time is the steadier figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def heavy_modules(args: list[str], env: dict[str, str]) -> list[str]:
    """Which heavy packages running `cme ARGS` imports."""
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom engine.cli import cli\n"
        f"r = CliRunner().invoke(cli, {args!r})\nassert r.exit_code == 0, r.output\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT, check=True
    )
    found: list[str] = json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="Folder for the database (built once, reused next time).",
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="cme-cold-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"cases-{args.cases}.db"
    env = {
        **os.environ,
        "CME_MASTER_KEY": MASTER_KEY,
        "CME_ACTOR": "bench-officer",
        "CME_ROLE": "cme_officer",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("CME_DATABASE_URL", None)
    try:
        if not db.exists():
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / "commands.py"),
                    "--child",
                    "build",
                    "--db",
                    str(db),
                    "--count",
                    str(args.cases),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            print(f"built {args.cases:,} cases in {time.perf_counter() - started:.1f} s")
        url = f"sqlite:///{db}"
        case_id = f"CME-{args.cases // 2:06d}"
        commands = {
            "python -c 'import sqlmodel'": [sys.executable, "-c", "import sqlmodel"],
            f"cme case show {case_id} --json": [
                CME,
                "case",
                "show",
                case_id,
                "--json",
                "--db",
                url,
                "--on",
                "2024-10-22",
            ],
            # The same command through click alone, without the entry point's collector
            # settings (engine/cli/__init__.py main): what the imports and the work cost.
            "  same, default GC settings": [
                sys.executable,
                "-c",
                "from engine.cli import cli; cli.main(prog_name='cme')",
                "case",
                "show",
                case_id,
                "--json",
                "--db",
                url,
                "--on",
                "2024-10-22",
            ],
            "cme --help": [CME, "--help"],
            "cme process show untraceable_cme": [CME, "process", "show", "untraceable_cme"],
            "cme calendar show --year 2024-25": [CME, "calendar", "show", "--year", "2024-25"],
        }
        for argv in commands.values():  # warm the file cache and write byte code once
            timed(argv, {**env, "PYTHONDONTWRITEBYTECODE": ""})
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                runs[name].append(timed(argv, env))
        print(
            f"{args.cases:,}-case SQLite database; {args.runs} runs each, taking turns; "
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f}\n"
        )
        print(f"{'seconds':45} {'wall min':>9} {'median':>7} {'CPU min':>8} {'median':>7}")
        for name, times in runs.items():
            walls, cpus = [w for w, _ in times], [c for _, c in times]
            print(
                f"{name:45} {min(walls):9.3f} {statistics.median(walls):7.3f} "
                f"{min(cpus):8.3f} {statistics.median(cpus):7.3f}"
            )
        base = runs["python -c 'import sqlmodel'"]
        for title, key in (
            ("cme case show", f"cme case show {case_id} --json"),
            ("the same with default GC settings", "  same, default GC settings"),
        ):
            print(f"\n{title} / import sqlmodel (target: at most 1.3x):")
            for label, pick in (("wall", 0), ("CPU", 1)):
                b, s = [t[pick] for t in base], [t[pick] for t in runs[key]]
                print(
                    f"  {label:4} {statistics.median(s) / statistics.median(b):.2f}x by median, "
                    f"{min(s) / min(b):.2f}x by minimum"
                )
        print()
        for cli_args in (
            ["--help"],
            ["process", "show", "untraceable_cme"],
            ["calendar", "show", "--year", "2024-25"],
            ["case", "--help"],
        ):
            found = heavy_modules(cli_args, env)
            print(
                f"cme {' '.join(cli_args):38} imports {', '.join(found) or 'none of'} "
                f"{'' if found else '(' + ', '.join(HEAVY) + ')'}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
