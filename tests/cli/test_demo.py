"""`cme demo`: a term of invented cases runs end to end, with every story it promises, every
deadline of the term swept, histories that replay, and a refusal to overwrite an earlier run."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from engine.cases.projection import replay
from engine.cases.service import CaseService
from engine.cli import cli
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.store.tables import case_table, event_table, timer_table


def test_the_demo_runs_a_term_and_prints_the_register_and_a_history(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--fresh", "--db", str(db)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "40 notifications, Mon 02 Sep 2024 to Fri 20 Dec 2024 (75 school days)" in out
    assert "End of term 20 Dec 2024" in out
    assert "The register, as `cme report register` prints it:" in out
    assert "The history of CME-" in out
    assert "dylan.m" in out  # the line manager who closed the case whose history is shown
    assert "closed_untraceable" in out

    store = open_store(f"sqlite:///{db}")
    service = CaseService(store, ProcessRegistry())
    with store.read() as conn:
        states = Counter(conn.execute(select(case_table.c.state)).scalars())
        kinds = Counter(conn.execute(select(event_table.c.kind)).scalars())
        steps = Counter(
            conn.execute(select(event_table.c.payload).where(event_table.c.kind == "trigger"))
            .scalars()
            .all()
        )
        ids = list(conn.execute(select(case_table.c.id)).scalars())
        timers = conn.execute(select(timer_table.c.status, timer_table.c.due_date)).all()
    triggers = " ".join(steps)
    for state in (
        "placed",
        "closed_untraceable",
        "closure_decision",
        "transferred_to_destination_la",
        "left_the_country",
    ):
        assert states[state] >= 1, f"no case ended in {state}: {states}"
    for step in (
        "refer_to_mash",
        "refer_to_placement_panel",
        "refer_to_sen_service",
        "keep_case_open",
    ):
        assert f'"trigger":"{step}"' in triggers, f"no case took {step}"
    assert kinds["escalation"] > 0
    assert kinds["timer_fired"] > 0
    # The sweep ran to the end of term: nothing due by 20 Dec is left pending, nothing later ran.
    end = dt.date(2024, 12, 20)
    # (A check recorded in time withdraws its reminder, so few if any lapse.)
    settled = {status for status, due in timers if due <= end}
    assert {"fired", "cancelled"} <= settled <= {"fired", "lapsed", "cancelled"}
    assert all(due > end for status, due in timers if status == "pending")
    assert all(due <= end for status, due in timers if status in ("fired", "lapsed"))
    for case_id in ids:
        assert replay(service.events(case_id)).as_row() == service.get(case_id).as_row()
    store.dispose()


def test_the_demo_will_not_overwrite_an_earlier_run_without_fresh(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    db.write_bytes(b"an earlier run")
    result = CliRunner().invoke(cli, ["demo", "--db", str(db)])
    assert result.exit_code == 1
    assert "already exists (a demo ran before); run `cme demo --fresh`" in result.output
    assert db.read_bytes() == b"an earlier run"
