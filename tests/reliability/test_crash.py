"""Crash safety: SIGKILL a worker mid-command, import or sweep; every command is all or nothing.

Each seed picks a kill point: just before the worker's N-th SQL statement, just before or after
its N-th commit, or from outside after a random delay. After the kill the database is opened
afresh (a restart) and must verify (`cme audit verify --all`), every journalled command must have
fully happened or not at all, and a sweep after the restart must fire every due timer exactly
once. CI runs a few seeds per database; `CME_CRASH_SEEDS=200` runs many by hand.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cases.service import CaseService
from engine.cli import cli
from engine.language.registry import ProcessRegistry
from engine.scheduling.sweep import sweep
from engine.store.database import open_store
from engine.store.tables import case_table, event_table, import_ledger_table, timer_table
from tests.reliability.invariants import verify_all

ROOT = Path(__file__).resolve().parents[2]
SEEDS = int(os.environ.get("CME_CRASH_SEEDS", "2"))
RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
LAST_DAY = dt.date(2025, 7, 18)
KINDS = {"fire": "trigger", "check": "check_recorded", "fact": "fact_changed", "note": "note"}

TRIED: list[str] = []
"""Every kill point tried in this run (printed with -s)."""


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\ncrash points tried: {len(TRIED)}: {', '.join(TRIED)}")


def kill_point(seed: int) -> tuple[str | None, float | None]:
    """(in-process kill spec, or None and a delay for a kill from outside)."""
    rng = random.Random(seed)
    mode = rng.choice(("stmt", "stmt", "commit", "outside"))
    if mode == "stmt":
        return f"stmt:{rng.randint(1, 1500)}", None
    if mode == "commit":
        return f"commit:{rng.randint(1, 120)}:{rng.choice(('before', 'after'))}", None
    return None, rng.uniform(0.05, 1.5)


def run_worker(db_url: str, journal: Path, seed: int) -> int:
    spec, delay = kill_point(seed)
    args = [
        sys.executable,
        "-m",
        "tests.reliability.crash_worker",
        db_url,
        str(journal),
        str(seed),
    ] + ([spec] if spec else [])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if delay is not None:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    try:
        proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode in (0, -signal.SIGKILL), stderr
    begun, done, refused, _ = read_journal(journal)
    flight = [begun[op][0] for op in begun if op not in done and op not in refused]
    where = (
        f"killed in {flight[0]}"
        if flight
        else ("killed between commands" if proc.returncode else "ran to the end")
    )
    TRIED.append(f"{spec or f'outside:{delay:.2f}s'} ({where})")
    return proc.returncode


def read_journal(path: Path) -> tuple[dict[int, list[str]], set[int], set[int], list[str]]:
    """(BEGIN fields by op, ops done, ops refused, ids opened); an import's BEGIN fields end
    with its file's sha256 and row count."""
    begun: dict[int, list[str]] = {}
    done: set[int] = set()
    refused: set[int] = set()
    opened: list[str] = []
    last = 0
    if not path.exists():
        return begun, done, refused, opened
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "BEGIN":
            last = int(parts[1])
            begun[last] = parts[2:]
        elif parts[0] == "DONE":
            done.add(int(parts[1]))
        elif parts[0] == "REFUSED":
            refused.add(last)
        elif parts[0] == "OPENED":
            opened.extend(parts[2:])
        elif parts[0] == "IMPORTFILE":
            begun[last] += parts[1:]
    return begun, done, refused, opened


def check_all_or_nothing(db_url: str, journal: Path) -> None:  # noqa: C901 (each table the crash may have touched, checked in turn)
    """Every journalled command happened fully, or (refused or in flight) not at all."""
    store = open_store(db_url)  # the restart
    try:
        verify_all(store)
        begun, done, refused, opened = read_journal(journal)
        with store.engine.connect() as conn:
            seqs = {r.id: r.seq for r in conn.execute(select(case_table.c.id, case_table.c.seq))}
            kinds = {
                (r.case_id, r.seq): r.kind
                for r in conn.execute(
                    select(event_table.c.case_id, event_table.c.seq, event_table.c.kind)
                )
            }
        assert set(opened) <= set(seqs), "a case the worker was told was opened is missing"
        in_flight = [op for op in begun if op not in done and op not in refused]
        assert len(in_flight) <= 1, f"more than one command in flight: {in_flight}"
        with store.engine.connect() as conn:
            ledger = Counter(r.file_sha256 for r in conn.execute(select(import_ledger_table)))
            imported = [
                c
                for r in conn.execute(select(import_ledger_table.c.result))
                for c in re.findall(r"CME-\d+", r.result)
            ]
        # An import is every row of its file or none of them.
        for op, fields in begun.items():
            if fields[0] == "import" and len(fields) == 5:
                sha, rows = fields[3], int(fields[4])
                if op in done:
                    assert ledger[sha] == rows, f"import {op} lost rows"
                else:
                    assert ledger[sha] in (0, rows), f"import {op} half-written"
        extra = set(seqs) - set(opened) - set(imported)
        if extra:
            # Only an open in flight may have left cases, and then all its children's cases.
            assert in_flight, f"cases nobody opened: {sorted(extra)}"
            assert begun[in_flight[0]][0] == "open", f"cases nobody opened: {sorted(extra)}"
            assert len(extra) == 2, "an open is all the form's children or none"
        for op, fields in begun.items():
            kind, case_id, seq = fields[:3]
            if kind not in KINDS:
                continue
            before = int(seq)
            if op in done:
                assert kinds.get((case_id, before + 1)) == KINDS[kind], f"op {op} {kind} lost"
            elif op in refused:
                continue  # checked by the refusal itself; later ops may have moved the case on
            else:
                assert seqs[case_id] in (before, before + 1), f"in-flight op {op} half-written"
                if seqs[case_id] == before + 1:
                    assert kinds[(case_id, before + 1)] == KINDS[kind]
        # Personal data of every case still opens: no case without its key, none garbled.
        service = CaseService(store, ProcessRegistry.from_package())
        for case_id in seqs:
            service.revealed(service.get(case_id))
        # After the restart a sweep catches up: every due timer fires once, none is lost.
        caught_up = sweep(service, until=LAST_DAY, at=RECORDED_AT)
        verify_all(store)
        with store.engine.connect() as conn:
            left = {
                r.key
                for r in conn.execute(
                    select(timer_table.c.key).where(
                        timer_table.c.status == "pending", timer_table.c.due_date <= LAST_DAY
                    )
                )
            }
        # Only timers whose next deadline the calendar cannot place stay pending, reported.
        assert left == set(caught_up.blocked)
    finally:
        store.dispose()
    result = CliRunner().invoke(
        cli,
        ["audit", "verify", "--all", "--db", db_url, "--role", "auditor", "--actor", "crash-test"],
    )
    assert result.exit_code == 0, result.output + result.stderr


@pytest.mark.parametrize("seed", range(SEEDS))
def test_sqlite_survives_sigkill(seed: int, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cme.db'}"
    open_store(db_url).dispose()
    run_worker(db_url, tmp_path / "journal", seed)
    check_all_or_nothing(db_url, tmp_path / "journal")


@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(1000, 1000 + max(1, SEEDS - 1)))
def test_postgres_survives_sigkill(seed: int, pg_url: str, tmp_path: Path) -> None:
    open_store(pg_url).dispose()
    run_worker(pg_url, tmp_path / "journal", seed)
    check_all_or_nothing(pg_url, tmp_path / "journal")
