"""National-scale timer sweep: load N cases, sweep a whole school year day by day, compare with SQL.

What it measures, in one run:

1. the engine's sweep (`engine.scheduling.sweep.sweep`) over every school day of 2024-25 on a
database of
   N cases opened across the year (default 150,000, the national figure per year): firings/s;
2. the same rows written by hand-written SQL (raw DBAPI, no engine) with the same transaction
   pattern (batches claimed in due order, the same batch size) on an identical copy of the
   database: firings/s, and the engine's cost as a multiple of it;
3. a sweep for a day with nothing due on the full database (the claim is an index range scan);
4. on PostgreSQL (`--pg`), the engine with 1 and with 2 sweeper processes at once, and a check
   that no timer fired twice (every event's timer key counted).

Cases are opened through `CaseService.open_case` (the real path: hashing, sealing, timers), in
transactions of 500. Nobody acts on them, so every case runs Day 2 and 3 escalations, the Day 5,
16 and 26 steps and every outstanding-step escalation: about 20 firings a case.

    .venv/bin/python benchmarks/sweep.py                      # 150,000 cases on SQLite
    .venv/bin/python benchmarks/sweep.py --cases 10000        # quicker
    .venv/bin/python benchmarks/sweep.py --cases 20000 --pg   # PostgreSQL, 1 and 2 sweepers
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.cases.notification import parse_form
from engine.cases.service import Actor, CaseService
from engine.language.registry import ProcessRegistry
from engine.scheduling.sweep import sweep
from engine.store.database import open_store
from engine.time.calendars import load_calendar

PROCESS = "untraceable_cme"
YEAR_FIRST = dt.date(2024, 9, 2)
YEAR_LAST = dt.date(2025, 7, 22)
LAST_OPENING = dt.date(2025, 6, 2)  # Day 27 must still fall inside the calendar's school year
OFFICER = Actor("bench", "cme_officer")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# A fixed benchmark master key (base64 of 32 bytes), so spawned sweepers open the same data.
os.environ.setdefault("CME_MASTER_KEY", "YmVuY2htYXJrLW1hc3Rlci1rZXktMzItYnl0ZXMhISE=")


@functools.cache
def registry() -> ProcessRegistry:
    return ProcessRegistry.from_package()


def school_days(first: dt.date, last: dt.date) -> list[dt.date]:
    cal = load_calendar("london-2024-25")
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if cal.is_school_day(d)]


def morning(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)


def form_for(day: dt.date, n: int) -> Any:
    return parse_form(
        {
            "date": day.isoformat(),
            "notifier": {"name": "Attendance Lead", "school_or_service": "A School"},
            "parent_carer": {"names": f"Parent {n}", "contact_numbers": ["07700 900123"]},
            "children": [{"full_name": f"Child {n}", "date_of_birth": "2014-05-06"}],
        }
    )


def load(url: str, cases: int) -> float:
    """Open `cases` cases spread over the school days to 2 June 2025; seconds taken."""
    service = CaseService(open_store(url), registry())
    openings = school_days(YEAR_FIRST, LAST_OPENING)
    start = time.perf_counter()
    done = 0
    while done < cases:
        with service.batch():
            for _ in range(min(500, cases - done)):
                day = openings[done * len(openings) // cases]
                service.open_case(
                    form_for(day, done), on=day, at=morning(day), actor=OFFICER, process=PROCESS
                )
                done += 1
        if done % 10000 == 0 or done == cases:
            rate = done / (time.perf_counter() - start)
            print(f"  loaded {done:,} cases ({rate:,.0f}/s)", flush=True)
    service.store.dispose()
    return time.perf_counter() - start


def engine_year(url: str, batch: int, label: str = "engine") -> tuple[int, float]:
    """Sweep every school day of the year with the engine; (firings, seconds)."""
    service = CaseService(open_store(url), registry())
    total = 0
    start = time.perf_counter()
    for day in school_days(YEAR_FIRST, YEAR_LAST):
        total += sweep(service, until=day, at=morning(day), batch_size=batch).total
    seconds = time.perf_counter() - start
    service.store.dispose()
    print(
        f"  {label}: {total:,} firings in {seconds:,.1f} s = {total / seconds:,.0f}/s", flush=True
    )
    return total, seconds


def empty_sweep_ms(url: str, day: dt.date, repeat: int = 20) -> float:
    """Median time of a sweep with nothing due on `day` (after a warm-up)."""
    service = CaseService(open_store(url), registry())
    sweep(service, until=day, at=morning(day))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = sweep(service, until=day, at=morning(day))
        times.append((time.perf_counter() - start) * 1000)
        assert result.total == 0, "the empty-day sweep found something due"
    service.store.dispose()
    return sorted(times)[len(times) // 2]


# --- the baseline: the same rows by hand-written SQL ---------------------------------------------


class Plan:
    """What each state arms and what each timer step writes, read from the definition once."""

    def __init__(self) -> None:
        compiled = registry().get(PROCESS)
        d = compiled.definition
        self.definition = d
        self.calendar = load_calendar("london-2024-25")
        self.timers: dict[str, list[Any]] = {
            name: list(state.timers) for name, state in d.states.items()
        }
        self.step_to: dict[str, str] = {t.id: t.dest for t in d.triggers if t.dest}
        self.step_actions = {
            t.id: [*t.actions, *d.states[t.dest].on_enter] for t in d.triggers if t.dest
        }

    def arm(
        self, case_id: str, seq: int, state: str, opened: dt.date, entered: dt.date
    ) -> list[tuple[Any, ...]]:
        rows = []
        for t in self.timers[state]:
            if t.weeks is not None:
                due = opened + dt.timedelta(weeks=t.weeks)
            else:
                due = max(self.calendar.school_day_n(opened, t.day), entered)
            rows.append(
                (
                    f"{case_id}:{seq}:{t.id}",
                    case_id,
                    t.id,
                    state,
                    "fire" if t.fire else "escalate",
                    t.fire,
                    t.escalate.to_role if t.escalate else None,
                    due.isoformat(),
                    "pending",
                    f"Day {t.day} = {due.isoformat()}",
                    "london-2024-25",
                    1,
                    seq,
                )
            )
        return rows


def _claim_sql(style: str) -> str:
    p = "?" if style == "qmark" else "%s"
    return (
        f"SELECT id, key, case_id, timer_id, state, action, trigger, escalate_role, due_date "
        f"FROM timer WHERE status = 'pending' AND due_date <= {p} "
        f"ORDER BY due_date, id LIMIT {p}"
    )


def baseline_year(
    conn: Any, style: str, batch: int, plan: Plan, *, per_firing_commit: bool = False
) -> tuple[int, float]:
    """The same firings as the engine, written with raw DBAPI statements; (firings, seconds)."""
    p = "?" if style == "qmark" else "%s"
    sqlite = style == "qmark"
    claim = _claim_sql(style)
    get_case = f"SELECT seq, head_hash, state, opened_on FROM cme_case WHERE id = {p}"
    ins_event = (
        "INSERT INTO case_event (case_id, seq, effective_date, recorded_at, actor, role, kind, "
        "payload, process_id, process_version, rule, prev_hash, hash) "
        f"VALUES ({', '.join([p] * 13)})"
    )
    upd_case = (
        f"UPDATE cme_case SET seq = {p}, head_hash = {p}, last_effective = {p}, "
        f"overdue = {p} WHERE id = {p} AND seq = {p}"
    )
    upd_case_state = (
        f"UPDATE cme_case SET seq = {p}, head_hash = {p}, last_effective = {p}, "
        f"overdue = {p}, state = {p}, state_entered_on = {p} "
        f"WHERE id = {p} AND seq = {p}"
    )
    mark = (
        f"UPDATE timer SET status = 'fired', closed_seq = {p} WHERE id = {p} AND status = 'pending'"
    )
    cancel = (
        f"UPDATE timer SET status = 'cancelled', closed_seq = {p} "
        f"WHERE case_id = {p} AND status = 'pending'"
    )
    ins_timer = (
        "INSERT INTO timer (key, case_id, timer_id, state, action, trigger, escalate_role, "
        "due_date, status, explanation, calendar, calendar_version, armed_seq) "
        f"VALUES ({', '.join([p] * 13)})"
    )
    ins_outbox = (
        "INSERT INTO outbox (case_id, event_seq, position, kind, recipient, template, channel, "
        f"wording, status, attempts, created_on) VALUES ({', '.join([p] * 11)})"
    )
    total = 0
    start = time.perf_counter()
    cur = conn.cursor()
    for day in school_days(YEAR_FIRST, YEAR_LAST):
        recorded = morning(day)
        rec = recorded.replace(tzinfo=None).isoformat(sep=" ") if sqlite else recorded
        while True:
            cur.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
            cur.execute(
                claim + ("" if sqlite else " FOR UPDATE SKIP LOCKED"),
                (day.isoformat() if sqlite else day, batch),
            )
            timers = cur.fetchall()
            for n, (tid, key, case_id, timer_id, state, action, trigger, role, due) in enumerate(
                timers
            ):
                cur.execute(get_case, (case_id,))
                seq, head, case_state, opened = cur.fetchone()
                due_s = due if isinstance(due, str) else due.isoformat()
                payload = {
                    "data": {
                        "timer": timer_id,
                        "key": key,
                        "to_role": role,
                        "trigger": trigger,
                        "from_state": state,
                    }
                }
                text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
                digest = hashlib.sha256((head + case_id + str(seq + 1) + due_s + text).encode())
                new_hash = digest.hexdigest()
                kind = "timer_fired" if action == "fire" else "escalation"
                cur.execute(
                    ins_event,
                    (
                        case_id,
                        seq + 1,
                        due_s if sqlite else due,
                        rec,
                        "scheduler",
                        "scheduler",
                        kind,
                        text,
                        PROCESS,
                        1,
                        f"timer {timer_id}",
                        head,
                        new_hash,
                    ),
                )
                if action == "fire":
                    dest = plan.step_to[trigger]
                    cur.execute(
                        upd_case_state,
                        (
                            seq + 1,
                            new_hash,
                            due_s if sqlite else due,
                            False,
                            dest,
                            due_s if sqlite else due,
                            case_id,
                            seq,
                        ),
                    )
                    cur.execute(mark, (seq + 1, tid))
                    cur.execute(cancel, (seq + 1, case_id))
                    opened_d = (
                        opened if isinstance(opened, dt.date) else dt.date.fromisoformat(opened)
                    )
                    rows = plan.arm(case_id, seq + 1, dest, opened_d, dt.date.fromisoformat(due_s))
                    if rows:
                        cur.executemany(ins_timer, rows)
                    actions = plan.step_actions[trigger]
                else:
                    cur.execute(
                        upd_case, (seq + 1, new_hash, due_s if sqlite else due, True, case_id, seq)
                    )
                    cur.execute(mark, (seq + 1, tid))
                    actions = [None]
                for i, a in enumerate(actions):
                    cur.execute(
                        ins_outbox,
                        (
                            case_id,
                            seq + 1,
                            i,
                            a.kind if a else "notify",
                            a.to if a else role,
                            a.template if a else "escalation",
                            "email",
                            "wording",
                            "pending",
                            0,
                            due_s if sqlite else due,
                        ),
                    )
                total += 1
                if per_firing_commit and n + 1 < len(timers):
                    cur.execute("COMMIT")
                    cur.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
            cur.execute("COMMIT")
            if not timers:
                break
    seconds = time.perf_counter() - start
    return total, seconds


def sqlite_baseline(path: Path, batch: int, plan: Plan, **kw: Any) -> tuple[int, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    try:
        return baseline_year(conn, "qmark", batch, plan, **kw)
    finally:
        conn.close()


# --- PostgreSQL --------------------------------------------------------------------------------


def pg_create(template: str | None = None) -> str:
    import psycopg

    name = f"cme_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _sweeper(url: str, batch: int, queue: Any) -> None:
    total, seconds = engine_year(url, batch, label=f"sweeper pid {os.getpid()}")
    queue.put((total, seconds))


def pg_engine(url: str, batch: int, sweepers: int) -> tuple[int, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start = time.perf_counter()
    procs = [ctx.Process(target=_sweeper, args=(url, batch, queue)) for _ in range(sweepers)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - start
    return sum(r[0] for r in results), seconds


def pg_twice(name: str) -> tuple[int, int]:
    """(timer keys fired more than once, events with a timer key) in database `name`."""
    import psycopg

    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}") as conn:
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT payload::json->'data'->>'key' AS k FROM case_event "
            "WHERE kind IN ('timer_fired','escalation','timer_lapsed') GROUP BY 1 "
            "HAVING count(*) > 1) d"
        ).fetchone()[0]
        keyed = conn.execute(
            "SELECT count(*) FROM case_event WHERE kind IN "
            "('timer_fired','escalation','timer_lapsed')"
        ).fetchone()[0]
    return twice, keyed


def run_pg(cases: int, batch: int, plan: Plan) -> None:
    import psycopg

    print(f"PostgreSQL, {cases:,} cases")
    template = pg_create()
    try:
        seconds = load(pg_url(template), cases)
        print(f"  load: {seconds:,.1f} s")
        for sweepers in (1, 2):
            name = pg_create(template)
            try:
                total, seconds = pg_engine(pg_url(name), batch, sweepers)
                twice, keyed = pg_twice(name)
                print(
                    f"  engine, {sweepers} sweeper(s): {total:,} firings in {seconds:,.1f} s "
                    f"= {total / seconds:,.0f}/s; events with a timer key {keyed:,}; "
                    f"keys fired twice: {twice}",
                    flush=True,
                )
            finally:
                pg_drop(name)
        name = pg_create(template)
        try:
            with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
                total, seconds = baseline_year(conn, "format", batch, plan)
            print(
                f"  hand-written SQL, 1 sweeper: {total:,} firings in {seconds:,.1f} s = "
                f"{total / seconds:,.0f}/s",
                flush=True,
            )
        finally:
            pg_drop(name)
    finally:
        pg_drop(template)


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=150_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--per-firing",
        action="store_true",
        help="also run the baseline with a transaction per firing",
    )
    parser.add_argument("--dir", default=None, help="where the SQLite files go (default: tmp)")
    args = parser.parse_args()
    plan = Plan()
    if args.pg:
        run_pg(args.cases, args.batch, plan)
        return
    folder = Path(args.dir or tempfile.mkdtemp(prefix="cme-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    loaded = folder / "loaded.db"
    print(
        f"SQLite (WAL, synchronous=FULL), {args.cases:,} cases, batches of {args.batch}, "
        f"files in {folder}"
    )
    seconds = load(f"sqlite:///{loaded}", args.cases)
    print(f"  load: {seconds:,.1f} s")
    with sqlite3.connect(loaded) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pending = conn.execute("SELECT count(*) FROM timer WHERE status='pending'").fetchone()[0]
    print(f"  pending timers after load: {pending:,}")
    empty = empty_sweep_ms(f"sqlite:///{loaded}", YEAR_FIRST)
    print(
        f"  sweep of a day with nothing due (2 Sep 2024, {args.cases:,} cases, "
        f"{pending:,} pending timers): {empty:.1f} ms"
    )
    for name in ("engine.db", "baseline.db", "per-firing.db"):
        shutil.copy(loaded, folder / name)
    total, seconds = engine_year(f"sqlite:///{folder / 'engine.db'}", args.batch)
    base_total, base_seconds = sqlite_baseline(folder / "baseline.db", args.batch, plan)
    print(
        f"  hand-written SQL: {base_total:,} firings in {base_seconds:,.1f} s = "
        f"{base_total / base_seconds:,.0f}/s"
    )
    ratio = (seconds / total) / (base_seconds / base_total)
    print(
        f"  engine cost per firing = {ratio:.1f} x hand-written SQL "
        f"(target: at most 6 x; at least 3,000 firings/s)"
    )
    if args.per_firing:
        pf_total, pf_seconds = sqlite_baseline(
            folder / "per-firing.db", args.batch, plan, per_firing_commit=True
        )
        print(f"  hand-written SQL, a transaction per firing: {pf_total / pf_seconds:,.0f}/s")
    end = YEAR_LAST
    print(
        f"  sweep of a day with nothing due after the year ({end:%d %b %Y}): "
        f"{empty_sweep_ms('sqlite:///' + str(folder / 'engine.db'), end):.1f} ms"
    )
    if base_total != total:
        print(f"  NOTE: the baseline fired {base_total:,} timers, the engine {total:,}")
    if not args.dir:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
