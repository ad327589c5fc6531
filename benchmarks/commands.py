"""Officer commands through CaseService against hand-written SQL writing the same rows.

Each command is durable on its own (SQLite in WAL mode with synchronous=FULL, one transaction
per command, as store.py sets it up). For every database size the script:

1. builds a database of N valid cases (one opened through the service, the rest cloned from it
   with their own ids, sealed personal data and recomputed hashes) and copies it;
2. runs the service over every case in turn, one command each, cycling check / fact / note /
   fire (the fire moves the case, so its timers are cancelled and re-armed and letters queued),
   in a child process that reports its peak RSS;
3. runs the baseline in another child process on the copy: plain `sqlite3`, the same
   transaction pattern (BEGIN IMMEDIATE; read the case row and its key row; insert the event;
   update the case row guarded by its sequence number; cancel, insert timers and outbox rows
   where the service did; COMMIT), writing exactly the rows the service wrote.

Usage:
    .venv/bin/python benchmarks/commands.py                 # 1,000 and 100,000 cases
    .venv/bin/python benchmarks/commands.py --sizes 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CME_MASTER_KEY", "YmVuY2htYXJrLW9ubHktbWFzdGVyLWtleS0zMmJ5dGU=")

OPENED_ON = dt.date(2024, 10, 21)
ACT_ON = dt.date(2024, 10, 22)
AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
OFFICER = ("bench-officer", "cme_officer")
KINDS = ("check", "fact", "note", "fire")


def case_id(n: int) -> str:
    """The id of the n-th case (1-based), as the service numbers them."""
    return f"CME-{n:06d}"


# -- building a database of N cases ----------------------------------------------------------


def build(path: Path, count: int) -> float:
    """A database at `path` holding `count` open cases; returns the seconds it took."""
    from importlib.resources import files

    from sqlalchemy import insert, select, update

    from engine.notification import parse_form, personal_data
    from engine.projection import GENESIS_HASH, CaseEvent, apply
    from engine.registry import ProcessRegistry
    from engine.service import Actor, CaseService, event_to_row
    from engine.store import (
        case_table,
        counter_table,
        event_table,
        open_store,
        outbox_table,
        timer_table,
    )
    from engine.yamlsafe import load_yaml

    start = time.perf_counter()
    store = open_store(f"sqlite:///{path}")
    service = CaseService(store, ProcessRegistry.from_package)
    text_ = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    raw = load_yaml(text_, "example").data
    raw["children"] = raw["children"][:1]
    form = parse_form(raw)
    (template_id,) = service.open_case(form, on=OPENED_ON, at=AT, actor=Actor(*OFFICER))
    with store.read() as conn:
        (template,) = service.events(template_id, conn=conn)
        timers = [dict(r._mapping) for r in conn.execute(
            select(timer_table).where(timer_table.c.case_id == template_id))]
        outbox = [dict(r._mapping) for r in conn.execute(
            select(outbox_table).where(outbox_table.c.case_id == template_id))]
    child = form.children[0]
    batch = 2_000
    for first in range(2, count + 1, batch):
        numbers = range(first, min(first + batch, count + 1))
        cases, events, timer_rows, outbox_rows = [], [], [], []
        with service.batch() as conn:
            for n in numbers:
                cid = case_id(n)
                personal = personal_data(form, child.model_copy(
                    update={"full_name": f"Child {n:06d}"}))
                payload = {
                    "data": template.payload["data"],
                    "personal": service.keys.seal(conn, cid, 1, personal, at=AT),
                }
                ev = CaseEvent(
                    case_id=cid, seq=1, effective_date=OPENED_ON, recorded_at=AT,
                    actor=template.actor, role=template.role, kind=template.kind,
                    payload=payload, process_id=template.process_id,
                    process_version=template.process_version, rule=template.rule,
                    prev_hash=GENESIS_HASH,
                ).sealed()
                cases.append(apply(None, ev).as_row())
                events.append(event_to_row(ev))
                for t in timers:
                    timer_rows.append({**{k: v for k, v in t.items() if k != "id"},
                                       "case_id": cid, "key": f"{cid}:1:{t['timer_id']}"})
                for o in outbox:
                    outbox_rows.append({**{k: v for k, v in o.items() if k != "id"},
                                        "case_id": cid})
            conn.execute(insert(case_table), cases)
            conn.execute(insert(event_table), events)
            if timer_rows:
                conn.execute(insert(timer_table), timer_rows)
            if outbox_rows:
                conn.execute(insert(outbox_table), outbox_rows)
    with store.engine.begin() as conn:
        conn.execute(update(counter_table).values(last=count))
    store.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one file, so a copy is the whole database
    con.close()
    return time.perf_counter() - start


# -- the two children ------------------------------------------------------------------------


def run_service(path: Path, count: int) -> dict[str, Any]:
    """Handle cases 1..count in turn through CaseService; case count+1 warms up."""
    rss_start = _rss_mb()
    from engine.registry import ProcessRegistry
    from engine.service import Actor, CaseService
    from engine.store import open_store

    store = open_store(f"sqlite:///{path}")
    service = CaseService(store, ProcessRegistry.from_package)
    actor = Actor(*OFFICER)

    def command(n: int, kind: str) -> None:
        cid = case_id(n)
        if kind == "check":
            service.record_check(cid, "contact_attempted_by_phone", on=ACT_ON, at=AT,
                                 actor=actor, outcome="no answer; voicemail left")
        elif kind == "fact":
            service.set_fact(cid, "crime_suspected", "false", on=ACT_ON, at=AT, actor=actor)
        elif kind == "note":
            service.add_note(cid, "Neighbour says the family may have moved to Leeds",
                             on=ACT_ON, at=AT, actor=actor)
        else:
            service.fire(cid, "contact_established", on=ACT_ON, at=AT, actor=actor)

    for kind in KINDS:  # warm-up: compile the process, fill statement caches
        command(count + 1, kind)
    rss_ready = _rss_mb()
    per_kind: dict[str, float] = {k: 0.0 for k in KINDS}
    chunks: list[float] = []
    chunk = max(count // 10, 1)
    cpu_started = time.process_time()
    started = chunk_start = time.perf_counter()
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        t0 = time.perf_counter()
        command(i + 1, kind)
        per_kind[kind] += time.perf_counter() - t0
        if (i + 1) % chunk == 0:
            now = time.perf_counter()
            chunks.append((now - chunk_start) / chunk)
            chunk_start = now
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed, "cpu_seconds": time.process_time() - cpu_started, "count": count,
        "per_kind": per_kind,
        "chunk_ms": [c * 1000 for c in chunks],
        "rss_start_mb": rss_start, "rss_ready_mb": rss_ready, "rss_peak_mb": _rss_mb(),
    }


def run_baseline(path: Path, source: Path, count: int) -> dict[str, Any]:
    """Write, with hand-written SQL, exactly the rows the service wrote to `source`."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA busy_timeout=10000")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    src.row_factory = sqlite3.Row
    case_cols = [r[1] for r in con.execute("PRAGMA table_info(cme_case)") if r[1] != "id"]
    event_cols = [r[1] for r in con.execute("PRAGMA table_info(case_event)") if r[1] != "id"]
    timer_cols = [r[1] for r in con.execute("PRAGMA table_info(timer)") if r[1] != "id"]
    outbox_cols = [r[1] for r in con.execute("PRAGMA table_info(outbox)") if r[1] != "id"]
    update_case = (f"UPDATE cme_case SET {', '.join(f'{c} = ?' for c in case_cols)} "
                   "WHERE id = ? AND seq = ?")
    insert_event = (f"INSERT INTO case_event ({', '.join(event_cols)}) "
                    f"VALUES ({', '.join('?' * len(event_cols))})")
    insert_timer = (f"INSERT INTO timer ({', '.join(timer_cols)}) "
                    f"VALUES ({', '.join('?' * len(timer_cols))})")
    insert_outbox = (f"INSERT INTO outbox ({', '.join(outbox_cols)}) "
                     f"VALUES ({', '.join('?' * len(outbox_cols))})")

    def rows_for(n: int) -> tuple[Any, ...]:
        cid = case_id(n)
        case = src.execute("SELECT * FROM cme_case WHERE id = ?", (cid,)).fetchone()
        event = src.execute("SELECT * FROM case_event WHERE case_id = ? AND seq = ?",
                            (cid, case["seq"])).fetchone()
        timers = src.execute("SELECT * FROM timer WHERE case_id = ? AND armed_seq = ?",
                             (cid, case["seq"])).fetchall()
        cancelled = src.execute("SELECT count(*) FROM timer WHERE case_id = ? AND closed_seq = ?",
                                (cid, case["seq"])).fetchone()[0]
        outbox = src.execute("SELECT * FROM outbox WHERE case_id = ? AND event_seq = ?",
                             (cid, case["seq"])).fetchall()
        return (cid, case["seq"] - 1, [case[c] for c in case_cols],
                [event[c] for c in event_cols], [[t[c] for c in timer_cols] for t in timers],
                cancelled, [[o[c] for c in outbox_cols] for o in outbox])

    def write(cid: str, seq: int, case: list[Any], event: list[Any], timers: list[Any],
              cancelled: int, outbox: list[Any]) -> None:
        con.execute("BEGIN IMMEDIATE")
        con.execute("SELECT * FROM cme_case WHERE id = ?", (cid,)).fetchone()
        con.execute("SELECT * FROM case_key WHERE case_id = ?", (cid,)).fetchone()
        con.execute(insert_event, event)
        if con.execute(update_case, [*case, cid, seq]).rowcount != 1:
            raise RuntimeError(f"{cid} was not at event {seq}")
        if cancelled:
            con.execute("UPDATE timer SET status = 'cancelled', closed_seq = ? "
                        "WHERE case_id = ? AND status = 'pending'", (seq + 1, cid))
        for t in timers:
            con.execute(insert_timer, t)
        for o in outbox:
            con.execute(insert_outbox, o)
        con.execute("COMMIT")

    # Warm-up, as the service had: the warm-up case's last rows, on its first event.
    cid, _, case, event, timers, cancelled, outbox = rows_for(count + 1)
    write(cid, 1, case, event, timers, cancelled, outbox)
    elapsed = cpu = 0.0
    step = 5_000
    for first in range(1, count + 1, step):
        prepared = [rows_for(n) for n in range(first, min(first + step, count + 1))]
        cpu_started, started = time.process_time(), time.perf_counter()
        for item in prepared:
            write(*item)
        elapsed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
    return {"seconds": elapsed, "cpu_seconds": cpu, "count": count}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- the report ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--rounds", type=int, default=1, help="Repeat each size; medians shown.")
    parser.add_argument("--keep", type=Path, default=None, help="Build databases here and keep.")
    parser.add_argument("--child", choices=["service", "baseline", "build"], default=None)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--source", type=Path)
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.child == "build":
        print(json.dumps({"seconds": build(args.db, args.count + 1)}))
        return
    if args.child == "service":
        print(json.dumps(run_service(args.db, args.count)))
        return
    if args.child == "baseline":
        print(json.dumps(run_baseline(args.db, args.source, args.count)))
        return

    work = args.keep or Path(tempfile.mkdtemp(prefix="cme-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"SQLite, WAL, synchronous=FULL; one transaction per command; databases in {work}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    rows = []
    try:
        for size in args.sizes:
            template = work / f"cases-{size}.db"
            if not template.exists():
                built = _child("--child", "build", "--db", str(template), "--count", str(size))
                print(f"built {size:,} cases (+1 for warm-up) in {built['seconds']:.1f} s")
            services, baselines = [], []
            for _ in range(args.rounds):
                a, b = work / f"service-{size}.db", work / f"baseline-{size}.db"
                for target in (a, b):
                    shutil.copyfile(template, target)
                services.append(_child("--child", "service", "--db", str(a),
                                       "--count", str(size)))
                baselines.append(_child("--child", "baseline", "--db", str(b), "--source",
                                        str(a), "--count", str(size)))
            rows.append((size, services, baselines))
            _report(size, services, baselines)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        ms_first = statistics.median(s["seconds"] / s["count"] for s in first[1]) * 1000
        ms_last = statistics.median(s["seconds"] / s["count"] for s in last[1]) * 1000
        print(f"per-command cost: {ms_first:.3f} ms at {first[0]:,} cases, {ms_last:.3f} ms at "
              f"{last[0]:,} cases (ratio {ms_last / ms_first:.2f})")


def _report(size: int, services: list[dict[str, Any]], baselines: list[dict[str, Any]]) -> None:
    svc_rate = statistics.median(s["count"] / s["seconds"] for s in services)
    base_rate = statistics.median(b["count"] / b["seconds"] for b in baselines)
    ratios = [s["seconds"] / b["seconds"] for s, b in zip(services, baselines, strict=True)]
    last = services[-1]
    per_kind = ", ".join(
        f"{k} {1000 * last['per_kind'][k] / (size / len(KINDS)):.3f} ms" for k in KINDS
    )
    print(f"{size:,} cases, each handled once in turn ({len(services)} round(s)):")
    print(f"  service   {svc_rate:8.0f} commands/s  ({1000 / svc_rate:.3f} ms each: {per_kind})")
    print(f"  baseline  {base_rate:8.0f} commands/s  ({1000 / base_rate:.3f} ms each, "
          "hand-written SQL, same rows)")
    print(f"  service / baseline cost: {statistics.median(ratios):.2f}x "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    svc_cpu = statistics.median(1000 * s["cpu_seconds"] / s["count"] for s in services)
    base_cpu = statistics.median(1000 * b["cpu_seconds"] / b["count"] for b in baselines)
    print(f"  CPU per command (this process, excluding fsync waits): service {svc_cpu:.3f} ms, "
          f"baseline {base_cpu:.3f} ms")
    print(f"  service process RSS: {last['rss_ready_mb']:.0f} MB after warm-up, "
          f"peak {last['rss_peak_mb']:.0f} MB")
    print(f"  ms per command by tenth of the run: "
          f"{', '.join(f'{c:.3f}' for c in last['chunk_ms'])}\n")


if __name__ == "__main__":
    main()
