"""A worker that does case work in a loop until it is killed: the subject of the crash tests.

Run as `python -m tests.reliability.crash_worker DB_URL JOURNAL SEED [KILL_AT]`. It opens
cases, records checks, facts and notes, takes steps, imports and sweeps, on dates driven by SEED.
Before each command it appends `BEGIN op kind case seq` to JOURNAL (flushed to disk) and after the
commit `DONE op seq`, so the test can tell what was in flight when the process died.
With KILL_AT = `stmt:N` it SIGKILLs itself just before its N-th SQL statement; with
`commit:N:before|after`, just before or just after its N-th commit. Without it, the test kills
it from outside at a random moment.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sys
from importlib.resources import files
from typing import Any, TextIO

from sqlalchemy import event, select

RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2024, 9, 9)
LAST_DAY = dt.date(2025, 7, 18)
OFFICER_ROLES = ("cme_officer", "line_manager")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm_kill(engine: Any, spec: str | None) -> None:
    """Kill this process at a chosen SQL statement or commit (see the module docstring)."""
    if not spec:
        return
    kind, _, rest = spec.partition(":")
    count = {"n": 0}
    if kind == "stmt":
        target = int(rest)

        def before_execute(*_args: Any) -> None:
            count["n"] += 1
            if count["n"] == target:
                _die()

        event.listen(engine, "before_cursor_execute", before_execute)
    elif kind == "commit":
        number, _, when = rest.partition(":")
        target = int(number)

        def on_commit(*_args: Any) -> None:
            count["n"] += 1
            if count["n"] == target and when == "before":
                _die()

        def after_commit(*_args: Any) -> None:
            if count["n"] == target and when == "after":
                _die()

        event.listen(engine, "commit", on_commit)
        # SQLAlchemy has no engine-wide "after commit"; a pool checkin follows every commit of
        # an engine.begin() block, after the database has acknowledged it.
        event.listen(engine.pool, "checkin", after_commit)
    else:
        raise SystemExit(f"unknown kill spec {spec!r}")


class Journal:
    """Append-only intent log, each line forced to disk before the command runs."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.op = 0

    def write(self, line: str) -> None:
        self.handle.write(line + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def begin(self, kind: str, case_id: str, seq: int) -> int:
        self.op += 1
        self.write(f"BEGIN {self.op} {kind} {case_id} {seq}")
        return self.op

    def done(self, op: int, seq: int) -> None:
        self.write(f"DONE {op} {seq}")


def main(argv: list[str]) -> None:
    db_url, journal_path, seed = argv[0], argv[1], int(argv[2])
    kill_at = argv[3] if len(argv) > 3 else None
    from engine.cases.notification import parse_form
    from engine.cases.service import Actor, CaseService
    from engine.errors import CMEError
    from engine.language.registry import ProcessRegistry
    from engine.language.yamlsafe import load_yaml
    from engine.scheduling.sweep import sweep
    from engine.store.database import open_store
    from engine.store.tables import case_table

    rng = random.Random(seed)
    store = open_store(db_url)
    service = CaseService(store, ProcessRegistry.from_package())
    form = load_yaml(
        files("processes").joinpath("forms", "notification_example.yaml").read_text(), "example"
    ).data
    importer = _importer()
    today = FIRST_DAY
    cases: list[str] = []

    def seq_of(case_id: str) -> int:
        with store.engine.connect() as conn:
            return int(
                conn.execute(
                    select(case_table.c.seq).where(case_table.c.id == case_id)
                ).scalar_one()
            )

    with open(journal_path, "a", encoding="utf-8") as handle:
        journal = Journal(handle)
        arm_kill(store.engine, kill_at)
        print("READY", flush=True)
        for _ in range(400):
            today = min(LAST_DAY, today + dt.timedelta(days=rng.choice((0, 0, 1, 2, 5))))
            choice = rng.random()
            try:
                if not cases or choice < 0.15:
                    data = dict(
                        form,
                        date=today,
                        date_of_last_attendance=today - dt.timedelta(days=2),
                        date_of_last_contact=today - dt.timedelta(days=2),
                    )
                    op = journal.begin("open", "-", 0)
                    ids = service.open_case(
                        parse_form(data),
                        on=today,
                        at=RECORDED_AT,
                        actor=Actor("sona", "cme_officer"),
                    )
                    journal.write(f"OPENED {op} {' '.join(ids)}")
                    cases.extend(ids)
                    journal.done(op, 1)
                elif choice < 0.25:
                    op = journal.begin("sweep", "-", 0)
                    sweep(service, until=today, at=RECORDED_AT, batch_size=rng.choice((1, 3, 50)))
                    journal.done(op, 0)
                elif choice < 0.32 and importer is not None:
                    op = journal.begin("import", "-", 0)
                    importer(service, today, rng, journal.write)
                    journal.done(op, 0)
                else:
                    case_id = rng.choice(cases)
                    _command(service, journal, case_id, seq_of(case_id), today, rng)
            except CMEError:
                journal.write("REFUSED")
    store.dispose()


def _command(
    service: Any, journal: Journal, case_id: str, seq: int, today: dt.date, rng: random.Random
) -> None:
    from engine.cases.service import Actor

    case = service.get(case_id)
    compiled = service.process_for(case)
    definition = compiled.definition
    what = rng.choice(("fire", "fire", "check", "fact", "note"))
    role = rng.choice(OFFICER_ROLES)
    actor = Actor("officer", role)
    if what == "fire":
        allowed = compiled.allowed_triggers(case.state) or [t.id for t in definition.triggers]
        trig = rng.choice(allowed)
        op = journal.begin("fire", case_id, seq)
        result = service.fire(case_id, trig, on=today, at=RECORDED_AT, actor=actor)
    elif what == "check":
        check = rng.choice(sorted(definition.checks()))
        op = journal.begin("check", case_id, seq)
        result = service.record_check(
            case_id, check, on=today, at=RECORDED_AT, actor=actor, outcome="done"
        )
    elif what == "fact":
        name = rng.choice(sorted(definition.facts))
        fact = definition.facts[name]
        value = {
            "bool": True,
            "int": 21,
            "float": 1.5,
            "string": "Leeds",
            "date": today.isoformat(),
        }.get(str(fact.type), (fact.values or ["x"])[0])
        op = journal.begin("fact", case_id, seq)
        result = service.set_fact(case_id, name, value, on=today, at=RECORDED_AT, actor=actor)
    else:
        op = journal.begin("note", case_id, seq)
        result = service.add_note(
            case_id, "Visited; no answer", on=today, at=RECORDED_AT, actor=actor
        )
    journal.done(op, result.case.seq)


def _importer() -> Any:
    """An import step if the importers exist (another issue's), else None."""
    try:
        from tests.reliability.imports_glue import import_step
    except ImportError:
        return None
    return import_step


if __name__ == "__main__":
    main(sys.argv[1:])
