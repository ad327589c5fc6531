"""Officer commands through CaseService against hand-written SQL writing the same rows.

Each command is durable on its own (SQLite in WAL mode with synchronous=FULL, one transaction
per command, as store.py sets it up). For every database size the script:

1. builds a database of N valid cases (one opened through the service, the rest cloned from it
   with their own ids, sealed personal data and recomputed hashes) and copies it;
2. in one child process, handles every case in turn with one command each through the service,
   cycling check / fact / note / fire (the fire moves the case, so its timers are cancelled and
   re-armed and letters queued);
3. in the same process and taking turns with the service, `--chunk` commands at a time (so a
   busy shared machine slows both alike), writes exactly the rows the service wrote into the
   copy with plain `sqlite3` in the same transaction pattern: BEGIN IMMEDIATE; read the case
   row and its key row; insert the event; update the case row guarded by its sequence number;
   cancel and insert timers and outbox rows where the service did; COMMIT.

The peak RSS is the child's (the service, plus the baseline's one sqlite3 connection).

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

    from engine.cases.notification import parse_form, personal_data
    from engine.cases.projection import GENESIS_HASH, CaseEvent, apply
    from engine.cases.service import Actor, CaseService, event_to_row
    from engine.language.registry import ProcessRegistry
    from engine.language.yamlsafe import load_yaml
    from engine.store.database import open_store
    from engine.store.tables import (
        case_table,
        counter_table,
        event_table,
        outbox_table,
        timer_table,
    )

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
        timers = [
            dict(r._mapping)
            for r in conn.execute(select(timer_table).where(timer_table.c.case_id == template_id))
        ]
        outbox = [
            dict(r._mapping)
            for r in conn.execute(select(outbox_table).where(outbox_table.c.case_id == template_id))
        ]
    child = form.children[0]
    batch = 2_000
    for first in range(2, count + 1, batch):
        numbers = range(first, min(first + batch, count + 1))
        cases, events, timer_rows, outbox_rows = [], [], [], []
        with service.batch() as conn:
            for n in numbers:
                cid = case_id(n)
                personal = personal_data(
                    form, child.model_copy(update={"full_name": f"Child {n:06d}"})
                )
                payload = {
                    "data": template.payload["data"],
                    "personal": service.keys.seal(conn, cid, 1, personal, at=AT),
                }
                ev = CaseEvent(
                    case_id=cid,
                    seq=1,
                    effective_date=OPENED_ON,
                    recorded_at=AT,
                    actor=template.actor,
                    role=template.role,
                    kind=template.kind,
                    payload=payload,
                    process_id=template.process_id,
                    process_version=template.process_version,
                    rule=template.rule,
                    prev_hash=GENESIS_HASH,
                ).sealed()
                cases.append(apply(None, ev).as_row())
                events.append(event_to_row(ev))
                for t in timers:
                    timer_rows.append(
                        {
                            **{k: v for k, v in t.items() if k != "id"},
                            "case_id": cid,
                            "key": f"{cid}:1:{t['timer_id']}",
                        }
                    )
                for o in outbox:
                    outbox_rows.append(
                        {**{k: v for k, v in o.items() if k != "id"}, "case_id": cid}
                    )
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


# -- the run: service and baseline taking turns --------------------------------------------


class Service:
    """CaseService over one database, doing the benchmark's command for case n."""

    def __init__(self, path: Path) -> None:
        from engine.cases.service import Actor, CaseService
        from engine.language.registry import ProcessRegistry
        from engine.store.database import open_store

        self.service = CaseService(open_store(f"sqlite:///{path}"), ProcessRegistry.from_package)
        self.actor = Actor(*OFFICER)

    def command(self, n: int, kind: str) -> None:
        cid, service, actor = case_id(n), self.service, self.actor
        if kind == "check":
            service.record_check(
                cid,
                "contact_attempted_by_phone",
                on=ACT_ON,
                at=AT,
                actor=actor,
                outcome="no answer; voicemail left",
            )
        elif kind == "fact":
            service.set_fact(cid, "crime_suspected", "false", on=ACT_ON, at=AT, actor=actor)
        elif kind == "note":
            service.add_note(
                cid,
                "Neighbour says the family may have moved to Leeds",
                on=ACT_ON,
                at=AT,
                actor=actor,
            )
        else:
            service.fire(cid, "contact_established", on=ACT_ON, at=AT, actor=actor)


class Baseline:
    """Plain sqlite3 writing, in the service's transaction pattern, the rows it wrote."""

    def __init__(self, path: Path, source: Path) -> None:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=10000")
        self.con = con
        self.src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        self.src.row_factory = sqlite3.Row

        def columns(table: str) -> list[str]:
            return [r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[1] != "id"]

        self.case_cols, self.event_cols = columns("cme_case"), columns("case_event")
        self.timer_cols, self.outbox_cols = columns("timer"), columns("outbox")
        self.update_case = (
            f"UPDATE cme_case SET {', '.join(f'{c} = ?' for c in self.case_cols)}"
            " WHERE id = ? AND seq = ?"
        )
        self.inserts = {
            table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for table, cols in (
                ("case_event", self.event_cols),
                ("timer", self.timer_cols),
                ("outbox", self.outbox_cols),
            )
        }

    def rows_for(self, n: int, *, expected: int | None = None) -> tuple[Any, ...]:
        """What the service wrote for case n's last command (read before timing)."""
        cid, src = case_id(n), self.src
        case = src.execute("SELECT * FROM cme_case WHERE id = ?", (cid,)).fetchone()
        seq = case["seq"]
        event = src.execute(
            "SELECT * FROM case_event WHERE case_id = ? AND seq = ?", (cid, seq)
        ).fetchone()
        timers = src.execute(
            "SELECT * FROM timer WHERE case_id = ? AND armed_seq = ?", (cid, seq)
        ).fetchall()
        cancelled = src.execute(
            "SELECT count(*) FROM timer WHERE case_id = ? AND closed_seq = ?", (cid, seq)
        ).fetchone()[0]
        outbox = src.execute(
            "SELECT * FROM outbox WHERE case_id = ? AND event_seq = ?", (cid, seq)
        ).fetchall()
        return (
            cid,
            seq - 1 if expected is None else expected,
            [case[c] for c in self.case_cols],
            [event[c] for c in self.event_cols],
            [[t[c] for c in self.timer_cols] for t in timers],
            cancelled,
            [[o[c] for c in self.outbox_cols] for o in outbox],
        )

    def write(
        self,
        cid: str,
        seq: int,
        case: list[Any],
        event: list[Any],
        timers: list[Any],
        cancelled: int,
        outbox: list[Any],
    ) -> None:
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        con.execute("SELECT * FROM cme_case WHERE id = ?", (cid,)).fetchone()
        con.execute("SELECT * FROM case_key WHERE case_id = ?", (cid,)).fetchone()
        con.execute(self.inserts["case_event"], event)
        if con.execute(self.update_case, [*case, cid, seq]).rowcount != 1:
            raise RuntimeError(f"{cid} was not at event {seq}")
        if cancelled:
            con.execute(
                "UPDATE timer SET status = 'cancelled', closed_seq = ? "
                "WHERE case_id = ? AND status = 'pending'",
                (seq + 1, cid),
            )
        for t in timers:
            con.execute(self.inserts["timer"], t)
        for o in outbox:
            con.execute(self.inserts["outbox"], o)
        con.execute("COMMIT")


def run(service_db: Path, baseline_db: Path, count: int, chunk: int) -> dict[str, Any]:
    """Cases 1..count, `chunk` at a time through the service, then the same rows by hand."""
    rss_start = _rss_mb()
    service = Service(service_db)
    for kind in KINDS:  # warm-up on case count+1: compile the process, fill statement caches
        service.command(count + 1, kind)
    baseline = Baseline(baseline_db, service_db)
    baseline.write(*baseline.rows_for(count + 1, expected=1))
    rss_ready = _rss_mb()
    totals = {"service": 0.0, "baseline": 0.0, "service_cpu": 0.0, "baseline_cpu": 0.0}
    per_kind: dict[str, float] = {k: 0.0 for k in KINDS}
    chunks: list[tuple[float, float]] = []
    for first in range(1, count + 1, chunk):
        numbers = range(first, min(first + chunk, count + 1))
        cpu, wall = time.process_time(), time.perf_counter()
        for n in numbers:
            kind = KINDS[(n - 1) % len(KINDS)]
            t0 = time.perf_counter()
            service.command(n, kind)
            per_kind[kind] += time.perf_counter() - t0
        service_wall = time.perf_counter() - wall
        totals["service"] += service_wall
        totals["service_cpu"] += time.process_time() - cpu
        prepared = [baseline.rows_for(n) for n in numbers]
        cpu, wall = time.process_time(), time.perf_counter()
        for item in prepared:
            baseline.write(*item)
        baseline_wall = time.perf_counter() - wall
        totals["baseline"] += baseline_wall
        totals["baseline_cpu"] += time.process_time() - cpu
        chunks.append((service_wall / len(numbers), baseline_wall / len(numbers)))
    return {
        "count": count,
        "chunk": chunk,
        **totals,
        "per_kind": per_kind,
        "chunks_ms": [(s * 1000, b * 1000) for s, b in chunks],
        "rss_start_mb": rss_start,
        "rss_ready_mb": rss_ready,
        "rss_peak_mb": _rss_mb(),
    }


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
    parser.add_argument(
        "--chunk", type=int, default=500, help="Commands the service and the baseline take in turn."
    )
    parser.add_argument("--child", choices=["run", "build"], default=None)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--baseline-db", type=Path)
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.child == "build":
        print(json.dumps({"seconds": build(args.db, args.count + 1)}))
        return
    if args.child == "run":
        print(json.dumps(run(args.db, args.baseline_db, args.count, args.chunk)))
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
            results = []
            for _ in range(args.rounds):
                a, b = work / f"service-{size}.db", work / f"baseline-{size}.db"
                for target in (a, b):
                    shutil.copyfile(template, target)
                results.append(
                    _child(
                        "--child",
                        "run",
                        "--db",
                        str(a),
                        "--baseline-db",
                        str(b),
                        "--count",
                        str(size),
                        "--chunk",
                        str(args.chunk),
                    )
                )
            rows.append((size, results))
            _report(size, results)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if len(rows) > 1:
        (small, first), (large, last) = rows[0], rows[-1]
        ms_first = statistics.median(r["service"] / r["count"] for r in first) * 1000
        ms_last = statistics.median(r["service"] / r["count"] for r in last) * 1000
        cpu_first = statistics.median(r["service_cpu"] / r["count"] for r in first) * 1000
        cpu_last = statistics.median(r["service_cpu"] / r["count"] for r in last) * 1000
        print(
            f"per-command cost: {ms_first:.3f} ms at {small:,} cases, {ms_last:.3f} ms at "
            f"{large:,} cases (wall; CPU {cpu_first:.3f} ms and {cpu_last:.3f} ms)"
        )


def _report(size: int, results: list[dict[str, Any]]) -> None:
    svc_rate = statistics.median(r["count"] / r["service"] for r in results)
    base_rate = statistics.median(r["count"] / r["baseline"] for r in results)
    chunk_ratios = [s / b for r in results for s, b in r["chunks_ms"]]
    last = results[-1]
    per_kind = ", ".join(
        f"{k} {1000 * last['per_kind'][k] / (size / len(KINDS)):.3f}" for k in KINDS
    )
    svc_cpu = statistics.median(1000 * r["service_cpu"] / r["count"] for r in results)
    base_cpu = statistics.median(1000 * r["baseline_cpu"] / r["count"] for r in results)
    print(
        f"{size:,} cases, each handled once in turn; service and baseline take turns, "
        f"{last['chunk']} commands at a time ({len(results)} round(s)):"
    )
    print(
        f"  service   {svc_rate:8.0f} commands/s  ({1000 / svc_rate:.3f} ms each; by kind, ms: "
        f"{per_kind})"
    )
    print(
        f"  baseline  {base_rate:8.0f} commands/s  ({1000 / base_rate:.3f} ms each, "
        "hand-written SQL writing the same rows)"
    )
    print(
        f"  service / baseline cost: {base_rate / svc_rate:.2f}x overall; per turn median "
        f"{statistics.median(chunk_ratios):.2f}x (range {min(chunk_ratios):.2f}-"
        f"{max(chunk_ratios):.2f})"
    )
    print(
        f"  CPU per command (excluding waits for fsync): service {svc_cpu:.3f} ms, "
        f"baseline {base_cpu:.3f} ms"
    )
    print(
        f"  process RSS: {last['rss_ready_mb']:.0f} MB after warm-up, peak "
        f"{last['rss_peak_mb']:.0f} MB"
    )
    tenth = max(len(last["chunks_ms"]) // 10, 1)
    tenths = [
        statistics.mean(s for s, _ in last["chunks_ms"][i : i + tenth])
        for i in range(0, len(last["chunks_ms"]), tenth)
    ]
    print(f"  service ms per command by part of the run: {', '.join(f'{t:.3f}' for t in tenths)}\n")


if __name__ == "__main__":
    main()
