"""A database written by the previous release (0.1.0's `cme demo`) opens, verifies, replays every
case to its stored row, and takes new commands whose events verify beside the old ones."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cases.events import EventKind, check_body, event_from_row
from engine.cases.projection import CaseState, replay
from engine.cli import cli, wiring

RELEASE = Path(__file__).parents[2] / "fixtures" / "releases" / "0.1.0"
CASE = "CME-000007"
"""Open in `tracing_continues` at event 38, last changed on 2024-10-16."""

Env = dict[str, str | None]
Row = dict[str, Any]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    # The CLI keeps the master key for the process; this database has its own, so read it
    # afresh here and let the tests after these read the suite's key again.
    wiring.keys.cache_clear()
    yield _copy(tmp_path)
    wiring.keys.cache_clear()


def _copy(tmp_path: Path) -> Env:
    # A copy: the fixture is what 0.1.0 wrote, and stays so.
    shutil.copy2(RELEASE / "demo.db", tmp_path / "demo.db")
    shutil.copy2(RELEASE / "master.key", tmp_path / "master.key")
    # The suite's own test key (CME_MASTER_KEY, tests/conftest.py) would win over the file.
    return {
        "CME_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "CME_MASTER_KEY": None,
        "CME_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "CME_ACTOR": "sona",
    }


def cme(env: Env, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def stored(env: Env) -> tuple[dict[str, Row], dict[str, list[Row]]]:
    """The stored case rows and each case's event rows, in order."""
    url = env["CME_DATABASE_URL"]
    assert url is not None
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.row_factory = sqlite3.Row
        cases = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM cme_case")}
        events: dict[str, list[Row]] = {}
        for r in conn.execute("SELECT * FROM case_event ORDER BY case_id, seq"):
            events.setdefault(r["case_id"], []).append(dict(r))
    return cases, events


def test_it_verifies_as_written(env: Env) -> None:
    report = cme(env, "audit", "verify", "--all", "--role", "auditor")
    assert (report["ok"], report["cases"], report["events"]) == (True, 59, 1632)
    assert cme(env, "audit", "replay", CASE, "--role", "auditor")["ok"]


def test_every_case_replays_to_its_stored_row_through_the_typed_events(
    env: Env,
) -> None:
    cases, events = stored(env)
    for case_id, row in cases.items():
        history = [event_from_row(r) for r in events[case_id]]
        replayed = replay(history).as_row()
        assert replayed == CaseState.from_row(row).as_row(), case_id
        # The JSON columns are the very text 0.1.0 stored, not merely equal in meaning.
        assert [replayed[c] for c in ("facts", "checks", "pauses", "personal")] == [
            row[c] for c in ("facts", "checks", "pauses", "personal")
        ], case_id


def test_it_takes_new_commands_and_still_verifies(env: Env) -> None:
    cme(
        env,
        "case",
        "check",
        CASE,
        "council_tax_check",
        "--on",
        "2025-01-07",
        "--outcome",
        "No record at the address",
        # 0.1.0 recorded this check already: recording it again is an amendment (issue 15).
        "--amend",
        "--reason",
        "the council corrected its records",
    )
    cme(env, "case", "note", CASE, "Rang the last known number", "--on", "2025-01-07")
    cme(env, "case", "fire", CASE, "return_for_closure_decision", "--on", "2025-01-08")
    shown = cme(env, "case", "show", CASE)
    assert (shown["state"], shown["seq"]) == ("closure_decision", 41)
    amended = shown["checks_recorded"]["council_tax_check"]
    assert amended["outcome"] == "No record at the address"
    assert len(amended["earlier"]) == 1
    assert amended["earlier"][0]["outcome"]  # what 0.1.0 recorded is kept beside it
    assert [h["summary"] for h in shown["history"][-3:]] == [
        "Amended: Council tax check — No record at the address (recorded before on 20 Sep 2024 "
        "by sona.k)",
        "note: Rang the last known number",
        "Bring the case back to the line manager for a closure decision — now: "
        "Untraceable CME Case Closure form and closure decision",
    ]
    report = cme(env, "audit", "verify", "--all", "--role", "auditor")
    assert (report["ok"], report["events"]) == (True, 1635)
    cases, events = stored(env)
    history = [event_from_row(r) for r in events[CASE]]
    assert replay(history).as_row() == CaseState.from_row(cases[CASE]).as_row()
    for ev in history:  # old and new payloads alike fit their declared models
        check_body(ev.kind, ev.payload)
    assert [ev.kind for ev in history[-3:]] == [
        EventKind.check_recorded,
        EventKind.note,
        EventKind.trigger,
    ]
