"""The web service under load, on SQLite and PostgreSQL: page times for one officer, 50 officers
at once on localhost, and the reports pages.

The database holds `--cases` cases (150,000 by default): `--open` of them open (2,000), shared
among 50 officers, the rest closed. Two cases are made through `CaseService` (one open: opened
on Thursday 19 November 2026, two checks recorded, its timers swept to today; one closed: opened
on 13 January 2025 and closed as opened in error); every other case is a copy of one of them with
its own id, child's name and officer, each event re-sealed under the copy's own case key and
re-hashed into its own chain, and the copy's row built by the engine's `apply` from those events
(as benchmarks/commands.py builds its databases). The search index and the ledger of openings
are not copied: no page measured here reads them.

The service's clock is pinned at Thursday 3 December 2026, 10:00 UTC ("today"), so the figures
do not depend on the day the benchmark is run. It measures:

1. server time (the app called in process, no network) of the case page and the officer's
   dashboard (my cases, due today and overdue), p50 and p95 over `--samples` requests, against
   the CLI's equivalent read in the same process (`case_summary` as `cme case show`;
   `list_cases` + `due_on` for one officer as `cme case list --officer` + `cme due --officer`);
   target p95 < 50 ms;
2. 50 simulated officers on localhost for `--seconds` (60): uvicorn in its own process; each
   officer (a thread with its own session) loads the dashboard, opens a case (four in five its
   own, one in five from ten cases every officer shares), and adds a note with the seq the page
   was rendered at; a stale save (409, "someone else changed this case") reloads and saves again.
   The officers sign in first (argon2, timed apart), and one officer's pages warm the server's
   calendar and process caches first unless `--cold` (a server that has served nothing yet).
   Afterwards every note acknowledged (303) must be in the case's history exactly once (lost
   updates: 0) and no answer may be a 5xx (0); throughput and p95 reported;
3. the register, RAG and MASH pages for the open cases (target < 500 ms), against the CLI's
   `cme report register | rag | mash` read in the same process.

Usage:
    .venv/bin/python benchmarks/web.py --cases 5000 --seconds 20          # a quick run
    timeout 3600 .venv/bin/python benchmarks/web.py                       # 150,000 cases, 60 s
    .venv/bin/python benchmarks/web.py --no-postgres                      # SQLite only
    .venv/bin/python benchmarks/web.py --cases 600 --seconds 20 --cold    # a cold server
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CME_MASTER_KEY", "YmVuY2htYXJrLW9ubHktbWFzdGVyLWtleS0zMmJ5dGU=")
os.environ.setdefault("CME_ACTOR", "benchmark")

NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
OPEN_ON = dt.date(2026, 11, 19)
CLOSED_ON = dt.date(2025, 1, 13)
OFFICERS = [f"officer.{i:02d}" for i in range(1, 51)]
MANAGER = "manager.01"
PASSWORD = "benchmark only password"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_PAGE_MS = 50.0
TARGET_REPORT_MS = 500.0
HOT_CASES = 10


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def case_id(n: int) -> str:
    return f"CME-{n:06d}"


# -- building the database ---------------------------------------------------------------------


def build(url: str, cases: int, open_count: int) -> dict[str, Any]:
    """`cases` cases at `url`, the first `open_count` open; returns what was made."""
    from importlib.resources import files

    from sqlalchemy import insert, update

    from engine.cases.notification import parse_form
    from engine.cases.projection import apply
    from engine.cases.service import Actor, CaseService, event_to_row
    from engine.language.registry import ProcessRegistry
    from engine.language.yamlsafe import load_yaml
    from engine.scheduling.sweep import sweep
    from engine.store.database import open_store
    from engine.store.tables import (
        case_table,
        counter_table,
        event_table,
        outbox_table,
        timer_table,
    )

    started = time.perf_counter()
    store = open_store(url)
    service = CaseService(store, ProcessRegistry.from_package)
    raw = load_yaml(
        files("processes").joinpath("forms", "notification_example.yaml").read_text(), "example"
    ).data
    raw["children"] = raw["children"][:1]
    officer = Actor(OFFICERS[0], "cme_officer")

    def at(day: dt.date, hour: int = 9) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)

    # The two cases made by the engine: open (n = 1) and closed (n = 2).
    raw["date"] = OPEN_ON.isoformat()
    (open_id,) = service.open_case(parse_form(raw), on=OPEN_ON, at=at(OPEN_ON), actor=officer)
    for check in ("core_information_checked", "contact_attempted_by_phone"):
        service.record_check(
            open_id, check, on=OPEN_ON, at=at(OPEN_ON, 11), actor=officer, outcome="done"
        )
    closed_raw = {**raw, "date": CLOSED_ON.isoformat()}
    closed_raw["children"] = [{**raw["children"][0], "full_name": "Closed Template", "upn": None}]
    (closed_id,) = service.open_case(
        parse_form(closed_raw), on=CLOSED_ON, at=at(CLOSED_ON), actor=officer
    )
    service.fire(
        closed_id,
        "close_opened_in_error",
        on=CLOSED_ON,
        at=at(CLOSED_ON, 12),
        actor=officer,
        note="a duplicate notification",
    )
    sweep(service, until=TODAY, at=NOW)
    assert open_id == case_id(1)

    templates = {True: _template(service, open_id), False: _template(service, closed_id)}
    rng = random.Random(16)
    firsts = ["Ana", "Mohammed", "Zoë", "Tiago", "Amira", "Kofi", "Lena", "Yusuf", "Maya", "Ivan"]
    made = 2
    batch = 1_000
    for first in range(3, cases + 1, batch):
        rows: dict[str, list[dict[str, Any]]] = {"case": [], "event": [], "timer": [], "outbox": []}
        with service.batch() as conn:
            for n in range(first, min(first + batch, cases + 1)):
                cid = case_id(n)
                is_open = n <= open_count
                events, timers, outbox = templates[is_open]
                who = OFFICERS[n % len(OFFICERS)]
                name = f"{rng.choice(firsts)} Bench{n:06d}"
                state = None
                for copy in _copied_events(service, conn, cid, events, who, name, officer.name):
                    state = apply(state, copy)
                    rows["event"].append(event_to_row(copy))
                assert state is not None
                rows["case"].append(state.as_row())
                template_id = open_id if is_open else closed_id
                for t in timers:
                    rows["timer"].append(
                        {
                            **{k: v for k, v in t.items() if k != "id"},
                            "case_id": cid,
                            "key": str(t["key"]).replace(template_id, cid),
                        }
                    )
                for o in outbox:
                    rows["outbox"].append(
                        {
                            **{k: v for k, v in o.items() if k != "id"},
                            "case_id": cid,
                        }
                    )
                made += 1
            conn.execute(insert(case_table), rows["case"])
            conn.execute(insert(event_table), rows["event"])
            if rows["timer"]:
                conn.execute(insert(timer_table), rows["timer"])
            if rows["outbox"]:
                conn.execute(insert(outbox_table), rows["outbox"])
    with store.engine.begin() as conn:
        conn.execute(update(counter_table).values(last=cases))
    _accounts(store)
    store.dispose()
    return {"cases": made, "open": min(open_count, cases), "seconds": time.perf_counter() - started}


def _template(service: Any, cid: str) -> tuple[list[Any], list[Any], list[Any]]:
    """A case made by the engine, to copy: each event with its personal part opened, its timer
    rows and its outbox rows."""
    from sqlalchemy import select

    from engine.store.tables import outbox_table, timer_table

    with service.store.read() as conn:
        events = [
            (ev, service.keys.reveal_payload(conn, cid, ev.seq, ev.payload))
            for ev in service.events(cid, conn=conn)
        ]
        timers = [
            dict(r._mapping)
            for r in conn.execute(select(timer_table).where(timer_table.c.case_id == cid))
        ]
        outbox = [
            dict(r._mapping)
            for r in conn.execute(select(outbox_table).where(outbox_table.c.case_id == cid))
        ]
    return events, timers, outbox


def _accounts(store: Any) -> None:
    """A local account for each officer and the line manager (argon2, as `cme admin user add`)."""
    from engine.cli import wiring
    from engine.web.accounts import add_account

    roles = wiring.roles()
    people = [(name, "cme_officer") for name in OFFICERS] + [(MANAGER, "line_manager")]
    for name, role in people:
        add_account(store, roles, name=name, role=role, password=PASSWORD, by="bench", at=NOW)


def _copied_events(
    service: Any, conn: Any, cid: str, events: list[Any], who: str, name: str, template_officer: str
) -> list[Any]:
    """The template's events for case `cid`: its child named `name`, its officer `who`, each
    personal part sealed under `cid`'s own key and each event hashed into `cid`'s own chain."""
    from engine.cases.projection import GENESIS_HASH, CaseEvent

    out = []
    previous = GENESIS_HASH
    for ev, revealed in events:
        payload = dict(ev.payload)
        if isinstance(revealed, dict) and isinstance(revealed.get("personal"), dict):
            personal = dict(revealed["personal"])
            if ev.seq == 1 and isinstance(personal.get("child"), dict):
                personal["child"] = {**personal["child"], "full_name": name}
            payload["personal"] = service.keys.seal(conn, cid, ev.seq, personal, at=NOW)
        if ev.seq == 1 and isinstance(payload.get("data"), dict):
            data = dict(payload["data"])
            if "assigned_officer" in data:
                data["assigned_officer"] = who
            payload["data"] = data
        copy = CaseEvent(
            case_id=cid,
            seq=ev.seq,
            effective_date=ev.effective_date,
            recorded_at=ev.recorded_at,
            actor=who if ev.actor == template_officer else ev.actor,
            role=ev.role,
            kind=ev.kind,
            payload=payload,
            process_id=ev.process_id,
            process_version=ev.process_version,
            rule=ev.rule,
            prev_hash=previous,
        ).sealed()
        previous = copy.hash
        out.append(copy)
    return out


# -- the app, with its clock pinned -----------------------------------------------------------


def make_app(url: str) -> Any:
    from engine.web.app import create_app
    from engine.web.context import Engine
    from engine.web.settings import WebSettings

    class PinnedEngine(Engine):
        def now(self) -> dt.datetime:
            return NOW

    settings = WebSettings(db_url=url, secure_cookies=False, session_secret="benchmark")
    app = create_app(settings)
    app.state.engine = PinnedEngine(settings)
    app.state.engine.service  # noqa: B018 (open the database before the first request)
    return app


def token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: Any, name: str) -> None:
    token = token_of(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in", data={"name": name, "password": PASSWORD, "next": "/", "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text[:500]


def timed(fn: Callable[[], Any], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def figures(label: str, ms: list[float], baseline: list[float] | None, target: float) -> str:
    line = f"  {label:<34} p50 {statistics.median(ms):7.1f} ms  p95 {p95(ms):7.1f} ms"
    if baseline:
        line += (
            f"   CLI read p50 {statistics.median(baseline):7.1f} ms  p95 {p95(baseline):7.1f} ms"
        )
    verdict = "meets" if p95(ms) < target else "MISSES"
    return line + f"   ({verdict} the {target:.0f} ms target)"


def single_pages(url: str, open_count: int, samples: int) -> list[str]:
    """Case page, dashboard and reports: server time in process, against the CLI's reads."""
    from fastapi.testclient import TestClient

    from engine.cases.views import case_summary, due_on, list_cases
    from engine.cli import wiring
    from engine.protection.access import Actor
    from engine.reports.mash import mash_report
    from engine.reports.rag import load_rag_for
    from engine.reports.rag_report import rag_report
    from engine.reports.register import register_report

    app = make_app(url)
    engine = app.state.engine
    rng = random.Random(3)
    out = []
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, OFFICERS[0])
        mine = [case_id(n) for n in range(1, open_count + 1) if OFFICERS[n % 50] == OFFICERS[0]]
        probe = client.get(f"/cases/{mine[0]}")
        assert probe.status_code == 200, probe.text[:500]
        assert client.get("/cases").status_code == 200
        actor = Actor(OFFICERS[0], "cme_officer")
        page = timed(lambda: client.get(f"/cases/{rng.choice(mine)}"), samples)
        cli = timed(
            lambda: case_summary(engine.reader, rng.choice(mine), on=TODAY, actor=actor, at=NOW),
            samples,
        )
        out.append(figures("case page /cases/{id}", page, cli, TARGET_PAGE_MS))
        dash = timed(lambda: client.get("/cases"), samples)
        cli = timed(
            lambda: (
                list_cases(engine.reader, officer=OFFICERS[0], actor=actor, at=NOW),
                due_on(engine.reader, on=TODAY, officer=OFFICERS[0], actor=actor, at=NOW),
            ),
            samples,
        )
        out.append(figures(f"dashboard /cases ({len(mine)} cases)", dash, cli, TARGET_PAGE_MS))
        service = engine.service
        rules = load_rag_for(wiring.registry(), None)
        reads = {
            "register": lambda: register_report(service, on=TODAY, actor=actor, at=NOW),
            "rag": lambda: rag_report(service, on=TODAY, rules=rules, actor=actor, at=NOW),
            "mash": lambda: mash_report(service, on=TODAY, actor=actor, at=NOW),
        }
        runs = max(3, samples // 20)
        for name, read in reads.items():
            answer = client.get(f"/reports/{name}")
            if answer.status_code == 404:
                out.append(f"  /reports/{name}: no such page in this build")
                continue
            assert answer.status_code == 200, answer.text[:500]
            path = f"/reports/{name}"
            web = timed(lambda path=path: client.get(path), runs)  # type: ignore[misc]
            cli = timed(read, runs)
            label = f"/reports/{name} ({open_count} open)"
            out.append(figures(label, web, cli, TARGET_REPORT_MS))
    engine.store.dispose()
    return out


# -- 50 officers at once ------------------------------------------------------------------------


def serve(url: str, port: int) -> None:
    """Run the pinned app under uvicorn (the load run's server process)."""
    import uvicorn

    uvicorn.run(make_app(url), host="127.0.0.1", port=port, log_level="warning")


class Officer(threading.Thread):
    """One simulated officer: dashboard, a case, a note; again until the time is up."""

    def __init__(self, base: str, name: str, own: list[str], hot: list[str], until: float) -> None:
        super().__init__(daemon=True)
        self.base, self.name, self.own, self.hot, self.until = base, name, own, hot, until
        self.rng = random.Random(name)
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.saved: Counter[str] = Counter()
        self.conflicts = 0
        self.errors: list[str] = []
        self.client: Any = None

    def request(self, client: Any, method: str, path: str, **kw: Any) -> Any:
        start = time.perf_counter()
        answer = client.request(method, self.base + path, **kw)
        self.latencies.append((time.perf_counter() - start) * 1000)
        self.statuses[answer.status_code] += 1
        return answer

    def sign_in(self) -> None:
        """Sign in before the clock starts (argon2 is meant to be slow, once per session)."""
        import httpx

        self.client = httpx.Client(follow_redirects=False, timeout=120)
        page = self.client.get(self.base + "/sign-in")
        answer = self.client.post(
            self.base + "/sign-in",
            data={"name": self.name, "password": PASSWORD, "next": "/",
                  "csrf_token": token_of(page.text)},
        )  # fmt: skip
        assert answer.status_code == 303, answer.text[:300]

    def run(self) -> None:
        client = self.client
        try:
            if True:  # the client signed in already; closed below
                k = 0
                while time.monotonic() < self.until:
                    self.request(client, "GET", "/cases")
                    cid = self.rng.choice(self.hot if self.rng.random() < 0.2 else self.own)
                    for _attempt in range(5):
                        page = self.request(client, "GET", f"/cases/{cid}")
                        seq = re.search(r'name="seq" value="(\d+)"', page.text)
                        if page.status_code != 200 or seq is None:
                            break
                        text = f"bench note {self.name} {k}"
                        answer = self.request(
                            client,
                            "POST",
                            f"/cases/{cid}/notes",
                            data={
                                "csrf_token": token_of(page.text),
                                "seq": seq.group(1),
                                "note-text": text,
                            },
                        )
                        if answer.status_code == 303:
                            self.saved[cid] += 1
                            k += 1
                            break
                        if answer.status_code == 409:
                            self.conflicts += 1
                            continue
                        self.errors.append(f"{cid}: {answer.status_code}")
                        break
        except Exception as exc:  # noqa: BLE001 (reported, and counted as a failure)
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()


def _note_counts(url: str) -> dict[str, int]:
    """How many notes each case's history holds."""
    from sqlalchemy import func, select

    from engine.store.database import open_store
    from engine.store.tables import event_table

    store = open_store(url)
    with store.read() as conn:
        rows = conn.execute(
            select(event_table.c.case_id, func.count())
            .where(event_table.c.kind == "note")
            .group_by(event_table.c.case_id)
        ).all()
    store.dispose()
    return {str(cid): int(n) for cid, n in rows}


def _start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving the pinned app over `url` in its own process; it and its address."""
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-only", url, "--port", str(port)], env={**os.environ}
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/sign-in", timeout=2)
            return server, base
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def load(url: str, open_count: int, seconds: float, *, cold: bool = False) -> list[str]:
    """50 officers against uvicorn in its own process; lost updates and 5xx counted."""
    server, base = _start_server(url)
    try:
        hot = [case_id(n) for n in range(1, HOT_CASES + 1)]
        before = _note_counts(url)
        officers = []
        for i, name in enumerate(OFFICERS):
            own = [case_id(n) for n in range(1, open_count + 1) if n % 50 == (i + 1) % 50]
            officers.append(Officer(base, name, own or hot, hot, 0.0))
        signing = time.perf_counter()
        for o in officers:
            o.sign_in()
        signed_in = time.perf_counter() - signing
        if not cold:
            # One officer's pages first, so the calendar and process caches are warm (see --cold).
            first = officers[0]
            for path in ("/cases", f"/cases/{first.own[0]}", f"/cases/{hot[0]}"):
                first.client.get(base + path)
        until = time.monotonic() + seconds
        started = time.perf_counter()
        for o in officers:
            o.until = until
            o.start()
        for o in officers:
            o.join()
        elapsed = time.perf_counter() - started
        after = _note_counts(url)
    finally:
        server.terminate()
        server.wait(timeout=30)
    acknowledged: Counter[str] = Counter()
    for o in officers:
        acknowledged.update(o.saved)
    stored = {cid: after.get(cid, 0) - before.get(cid, 0) for cid in set(after) | set(before)}
    lost = sum(max(0, n - stored.get(cid, 0)) for cid, n in acknowledged.items())
    extra = sum(max(0, n - acknowledged.get(cid, 0)) for cid, n in stored.items())
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    for o in officers:
        statuses.update(o.statuses)
        latencies.extend(o.latencies)
    five = sum(n for code, n in statuses.items() if code >= 500)
    errors = [e for o in officers for e in o.errors]
    requests = sum(statuses.values())
    return [
        f"  50 sign-ins one after another: {signed_in:.1f} s ({signed_in / 50 * 1000:.0f} ms each)",
        f"  50 officers for {elapsed:.0f} s: {requests} requests ({requests / elapsed:.1f}/s), "
        f"{sum(acknowledged.values())} notes saved ({sum(acknowledged.values()) / elapsed:.1f}/s), "
        f"{sum(o.conflicts for o in officers)} stale saves told and saved again",
        f"  latency over all requests: p50 {statistics.median(latencies or [0]):.0f} ms, "
        f"p95 {p95(latencies or [0]):.0f} ms; answers {dict(sorted(statuses.items()))}",
        f"  lost updates: {lost}; notes stored that no one was told were saved: {extra}; "
        f"5xx: {five}; client errors: {len(errors)}{' ' + '; '.join(errors[:5]) if errors else ''}",
    ]


# -- the run --------------------------------------------------------------------------------


def pg_url() -> str | None:
    try:
        import psycopg

        name = f"cme_bench_web_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    except Exception as exc:  # noqa: BLE001 (no server: PostgreSQL is skipped, saying why)
        print(f"PostgreSQL skipped: not reachable at 127.0.0.1:5432 ({type(exc).__name__})")
        return None


def drop_pg(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=150_000)
    parser.add_argument("--open", type=int, default=2_000, dest="open_count")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-load", action="store_true", help="skip the 50-officer run")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="start the 50 officers on a server that has served no page yet (caches cold)",
    )
    parser.add_argument("--serve-only", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_only:
        serve(args.serve_only, args.port)
        return
    open_count = min(args.open_count, args.cases)
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{Path(tmp) / 'web.db'}")]
        if not args.no_postgres and (pg := pg_url()) is not None:
            urls.append(("PostgreSQL", pg))
        for label, url in urls:
            try:
                made = build(url, args.cases, open_count)
                print(
                    f"\n{label}: {made['cases']:,} cases ({made['open']:,} open, "
                    f"{len(OFFICERS)} officers) built in {made['seconds']:.0f} s; "
                    f"today {TODAY} (pinned)"
                )
                for line in single_pages(url, open_count, args.samples):
                    print(line, flush=True)
                if not args.no_load:
                    for line in load(url, open_count, args.seconds, cold=args.cold):
                        print(line, flush=True)
            finally:
                if label == "PostgreSQL":
                    drop_pg(url)


if __name__ == "__main__":
    main()
