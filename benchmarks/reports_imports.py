"""Imports and reports at scale, each against hand-written SQL doing the same rows.

1. Import: an Out of School report of N children (CSV) through `import_out_of_school`: every row
   checked, then N cases opened in ONE transaction with the import ledger. Baseline: plain
   `sqlite3` in one transaction inserting, per child, the same case row, opened event, timer
   rows and ledger row the import wrote (copied from the imported database), so the rows are
   identical and only the engine's work differs.
2. Reports on those N open cases (register, RAG, MASH): read, reveal personal data, compute.
   Baseline: plain `sqlite3` reading the same case rows and pending timers and building one
   dict per case (no decryption, no calendar, no rules): the floor any implementation pays.

Usage:
    .venv/bin/python benchmarks/reports_imports.py                # 1,000 and 5,000 children
    .venv/bin/python benchmarks/reports_imports.py --sizes 500
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CME_MASTER_KEY", "YmVuY2htYXJrLW9ubHktbWFzdGVyLWtleS0zMmJ5dGU=")

ON = dt.date(2024, 11, 4)
AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)


def write_csv(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "child_name",
                "date_of_birth",
                "marked_by",
                "marked_on",
                "parent_carer",
                "address",
                "postcode",
            ]
        )
        for i in range(n):
            dob = dt.date(2010 + i % 8, 1 + i % 12, 1 + i % 28)
            w.writerow(
                [
                    f"Child {i}",
                    dob.isoformat(),
                    "Early Help",
                    "2024-10-30",
                    f"Parent {i}",
                    f"{i} Example Street, London",
                    "NW1 0AA",
                ]
            )


def run_import(db: Path, csv_path: Path) -> float:
    from adapters.imports.out_of_school import import_out_of_school
    from engine.cases.service import Actor, CaseService
    from engine.language.registry import ProcessRegistry
    from engine.store.database import open_store

    service = CaseService(open_store(f"sqlite:///{db}"), ProcessRegistry.from_package())
    t0 = time.perf_counter()
    result = import_out_of_school(
        service, csv_path, on=ON, at=AT, actor=Actor("sona", "cme_officer")
    )
    elapsed = time.perf_counter() - t0
    assert len(result.written) > 0
    service.store.dispose()
    return elapsed


def baseline_import(source: Path, target: Path) -> float:
    """Insert the rows the import wrote, copied from `source`, into an empty copy `target`."""
    src = sqlite3.connect(source)
    tables = ["case_key", "cme_case", "case_event", "timer", "import_ledger", "case_counter"]
    tables = [
        t
        for t in tables
        if src.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (t,)).fetchone()
    ]
    data = {t: src.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    cols = {t: [r[1] for r in src.execute(f"PRAGMA table_info({t})")] for t in tables}
    src.close()
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=FULL")
    for t in tables:
        dst.execute(f"DELETE FROM {t}")
    t0 = time.perf_counter()
    dst.execute("BEGIN IMMEDIATE")
    for t in tables:
        marks = ",".join("?" for _ in cols[t])
        dst.executemany(f"INSERT INTO {t} ({','.join(cols[t])}) VALUES ({marks})", data[t])
    dst.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    dst.close()
    return elapsed


def run_reports(db: Path) -> dict[str, float]:
    from engine.cases.service import Actor, CaseService
    from engine.language.registry import ProcessRegistry
    from engine.reports.mash import mash_report
    from engine.reports.rag import load_rag_for
    from engine.reports.rag_report import rag_report
    from engine.reports.register import register_report
    from engine.store.database import open_store

    registry = ProcessRegistry.from_package()
    service = CaseService(open_store(f"sqlite:///{db}"), registry)
    actor = Actor("sona", "cme_officer")
    rules = load_rag_for(registry)
    out = {}
    for name, fn in (
        ("register", lambda: register_report(service, on=ON, actor=actor, at=AT)),
        ("rag", lambda: rag_report(service, on=ON, rules=rules, actor=actor, at=AT)),
        ("mash", lambda: mash_report(service, on=ON, actor=actor, at=AT)),
    ):
        t0 = time.perf_counter()
        rows = fn().rows
        out[name] = time.perf_counter() - t0
        out[f"{name}_rows"] = len(rows)
    service.store.dispose()
    return out


def baseline_report(db: Path) -> float:
    conn = sqlite3.connect(db)
    t0 = time.perf_counter()
    cases = conn.execute(
        "SELECT id, state, opened_on, assigned_officer, facts, checks, personal FROM cme_case "
        "WHERE terminal = 0 AND opened_on <= ? ORDER BY id",
        (ON.isoformat(),),
    ).fetchall()
    timers = {}
    for case_id, due, trig, role in conn.execute(
        "SELECT case_id, due_date, trigger, escalate_role FROM timer WHERE status='pending' "
        "ORDER BY due_date, id"
    ):
        timers.setdefault(case_id, (due, trig or role))
    rows = [
        {
            "case_id": c[0],
            "state": c[1],
            "opened_on": c[2],
            "officer": c[3],
            "facts": json.loads(c[4]),
            "checks": json.loads(c[5]),
            "personal": json.loads(c[6]),
            "next_due": timers.get(c[0]),
        }
        for c in cases
    ]
    elapsed = time.perf_counter() - t0
    conn.close()
    assert rows
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args()
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            csv_path = folder / "out-of-school.csv"
            write_csv(csv_path, n)
            db = folder / "cme.db"
            t_import = run_import(db, csv_path)
            copy = folder / "baseline.db"
            copy.write_bytes(db.read_bytes())
            for suffix in ("-wal", "-shm"):
                extra = Path(str(db) + suffix)
                if extra.exists():
                    Path(str(copy) + suffix).write_bytes(extra.read_bytes())
            t_base = baseline_import(db, copy)
            reports = run_reports(db)
            t_report_base = baseline_report(db)
            print(f"N = {n} children (SQLite, WAL, synchronous=FULL)")
            print(
                f"  import out-of-school, one transaction: {t_import:8.2f} s "
                f"({n / t_import:8.0f} rows/s, {1000 * t_import / n:6.2f} ms/row)"
            )
            print(
                f"  baseline SQL inserting the same rows : {t_base:8.2f} s "
                f"({n / t_base:8.0f} rows/s)  -> engine/baseline {t_import / t_base:6.1f}x"
            )
            for name in ("register", "rag", "mash"):
                t = reports[name]
                print(
                    f"  report {name:<8} ({int(reports[name + '_rows'])} rows): {t:8.2f} s "
                    f"({1000 * t / n:6.2f} ms/case)"
                )
            print(
                f"  baseline SQL reading the same rows   : {t_report_base:8.2f} s "
                f"-> register/baseline {reports['register'] / t_report_base:6.1f}x"
            )


if __name__ == "__main__":
    main()
