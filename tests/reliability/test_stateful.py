"""Stateful property test: random officer commands, facts, sweeps and migrations on every process.

After every step: each case's chain verifies and replays to its stored row; a command either
appended exactly one event or wrote nothing; no timer acted twice or before its due date; a
closed case accepted no step; every state a case reached is one the YAML allows from the last.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil
import tempfile
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from sqlalchemy import select

from engine.cases.notification import parse_form
from engine.cases.service import Actor, CaseService
from engine.errors import CMEError, TransitionNotAllowed
from engine.language.definition import FactType
from engine.language.lint import edges
from engine.language.loader import load_process_text, load_processes
from engine.language.registry import ProcessRegistry
from engine.language.yamlsafe import load_yaml
from engine.scheduling.sweep import sweep
from engine.store.database import open_store
from engine.store.tables import case_table, timer_table
from tests.reliability.invariants import verify_all
from tests.reliability.profiles import PROFILE

RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2024, 9, 9)
LAST_DAY = dt.date(2025, 7, 18)
OPENERS = {
    "untraceable_cme": "cme_officer",
    "school_checks": "school",
    "roll_returns": "school",
    "removal_grounds": "school",
}
POLICY_OWNER = Actor("pat", "policy_owner")
MIGRATED_FROM = dt.date(2024, 9, 2)

STATS = {"sequences": 0, "steps": 0, "events": 0, "refusals": 0, "timer_events": 0}
"""Counts across the run, printed by `-s` at the end of the long profile (see SECURITY.md)."""


MIGRATED_FROM_VERSION: dict[str, int] = {}
"""For each process, the version its running cases are on and migrate from (set by `registry`)."""

_VERSION = re.compile(r"^version: \d+$", re.MULTILINE)
_EFFECTIVE = re.compile(
    r"^effective_from: \S+\n(?:applies:\n  cases_opened_from: \S+\n)?", re.MULTILINE
)
"""A version's header lines, found apart: a comment may stand between them."""


@functools.cache
def registry() -> ProcessRegistry:
    """The shipped processes plus, for each, a next version that running cases migrate to.

    The next version is the latest text with its version raised, in force for migrations from
    2 September 2024 but for new cases only from 2030, so cases keep opening on the shipped one.
    """
    shipped = load_processes()
    extra = []
    for pid in sorted({p.id for p in shipped}):
        # A pending version (no effective_from) opens no case: the next version follows the
        # latest one in force, numbered above every shipped one (a pending one included).
        dated = [p for p in shipped if p.id == pid and not p.definition.pending]
        if not dated:
            continue
        latest = max(dated, key=lambda p: p.version)
        MIGRATED_FROM_VERSION[pid] = latest.version
        above = max(p.version for p in shipped if p.id == pid) + 1
        text, versions = _VERSION.subn(f"version: {above}", latest.text, count=1)
        text, dates = _EFFECTIVE.subn(
            "effective_from: 2024-09-02\napplies:\n  cases_opened_from: 2030-01-01\n",
            text,
            count=1,
        )
        assert (versions, dates) == (1, 1), pid
        extra.append(load_process_text(text, f"test:{pid}@{above}"))
    return ProcessRegistry([*shipped, *extra])


@functools.cache
def form_data() -> dict[str, Any]:
    text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    data: dict[str, Any] = load_yaml(text, "example").data
    return data


def one_child_form(which: int, on: dt.date) -> Any:
    data = dict(form_data())
    data["children"] = [data["children"][which]]
    data["date"] = on
    data["date_of_last_attendance"] = data["date_of_last_contact"] = on - dt.timedelta(days=3)
    return parse_form(data)


def fact_values(kind: FactType, values: list[str] | None) -> st.SearchStrategy[Any]:
    """Valid values of a fact type, mixed with a few that must be refused."""
    valid: st.SearchStrategy[Any] = {
        FactType.bool: st.booleans(),
        FactType.int: st.integers(0, 40),
        FactType.float: st.floats(0, 40, allow_nan=False),
        FactType.string: st.sampled_from(["", "yes", "Leeds", "Ground G", "8(1)(e)"]),
        FactType.date: st.dates(FIRST_DAY, LAST_DAY).map(dt.date.isoformat),
        FactType.enum: st.sampled_from(values or ["x"]),
    }[kind]
    return st.one_of(valid, valid, st.sampled_from(["not-a-date", "maybe", -1, None]))


class CaseWork(RuleBasedStateMachine):
    """A database with a handful of cases and an officer, a school and a scheduler at work."""

    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        STATS["sequences"] += 1
        self.dir = tempfile.mkdtemp(prefix="cme-stateful-")
        self.store = open_store(f"sqlite:///{self.dir}/cme.db")
        self.service = CaseService(self.store, registry())
        self.today = FIRST_DAY
        self.swept_until = FIRST_DAY - dt.timedelta(days=1)
        self.migrated: set[str] = set()

    def teardown(self) -> None:
        self.store.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------

    def _seq(self, case_id: str) -> int:
        with self.store.engine.connect() as conn:
            return int(
                conn.execute(
                    select(case_table.c.seq).where(case_table.c.id == case_id)
                ).scalar_one()
            )

    def _attempt(self, case_id: str, command: Any) -> Any:
        """Run a command; it appends exactly one event or, refused, writes nothing."""
        before = self._seq(case_id)
        STATS["steps"] += 1
        try:
            result = command()
        except CMEError:
            STATS["refusals"] += 1
            assert self._seq(case_id) == before, "a refused command wrote to the case"
            return None
        assert self._seq(case_id) == before + 1, "a command appended other than one event"
        STATS["events"] += 1
        return result

    # -- rules ------------------------------------------------------------------------------

    @initialize(target=cases)
    def first_case(self) -> str:
        (case_id,) = self.service.open_case(
            one_child_form(0, self.today),
            on=self.today,
            at=RECORDED_AT,
            actor=Actor("sona", "cme_officer"),
        )
        return case_id

    @rule(target=cases, process=st.sampled_from(sorted(OPENERS)), child=st.integers(0, 1))
    def open_case(self, process: str, child: int) -> Any:
        with self.store.engine.connect() as conn:
            count = len(conn.execute(select(case_table.c.id)).all())
        try:
            (case_id,) = self.service.open_case(
                one_child_form(child, self.today),
                on=self.today,
                at=RECORDED_AT,
                actor=Actor("opener", OPENERS[process]),
                process=process,
            )
        except CMEError:  # e.g. the form's ground is a 2006 one and the 2024 grounds apply
            STATS["refusals"] += 1
            with self.store.engine.connect() as conn:
                assert len(conn.execute(select(case_table.c.id)).all()) == count
            return multiple()
        assert self._seq(case_id) == 1
        return case_id

    @rule(days=st.integers(0, 20))
    def time_passes(self, days: int) -> None:
        self.today = min(LAST_DAY, self.today + dt.timedelta(days=days))

    @rule(case_id=cases, data=st.data())
    def fire(self, case_id: str, data: st.DataObject) -> None:
        case = self.service.get(case_id)
        definition = self.service.process_for(case).definition
        allowed = [
            t
            for t in definition.triggers
            if t.id in self.service.process_for(case).allowed_triggers(case.state)
        ]
        # Half the time a step the state allows (so cases move on), else any step at all.
        trig = data.draw(
            st.sampled_from(allowed or definition.triggers) | st.sampled_from(definition.triggers),
            label="trigger",
        )
        roles = trig.roles or list(definition.roles)
        role = data.draw(st.sampled_from([*roles, *roles, "cme_officer"]), label="role")
        result = self._attempt(
            case_id,
            lambda: self.service.fire(
                case_id, trig.id, on=self.today, at=RECORDED_AT, actor=Actor("someone", role)
            ),
        )
        if case.terminal:
            assert result is None, f"closed case {case_id} accepted {trig.id}"
        if result is not None:
            assert (case.state, trig.id, result.case.state) in set(edges(definition)), (
                f"{case.state} --{trig.id}--> {result.case.state} is not in the YAML"
            )

    @rule(case_id=cases)
    def closed_case_refuses_every_step(self, case_id: str) -> None:
        case = self.service.get(case_id)
        if not case.terminal:
            return
        definition = self.service.process_for(case).definition
        for trig in definition.triggers:
            role = (trig.roles or ["cme_officer"])[0]
            try:
                self.service.fire(
                    case_id, trig.id, on=self.today, at=RECORDED_AT, actor=Actor("someone", role)
                )
            except TransitionNotAllowed:
                continue
            except CMEError:
                continue
            raise AssertionError(f"closed case {case_id} accepted {trig.id}")
        assert self._seq(case_id) == case.seq

    @rule(case_id=cases, data=st.data())
    def set_fact(self, case_id: str, data: st.DataObject) -> None:
        case = self.service.get(case_id)
        definition = self.service.process_for(case).definition
        if not definition.facts:
            return
        name = data.draw(st.sampled_from(sorted(definition.facts)), label="fact")
        fact = definition.facts[name]
        value = data.draw(fact_values(fact.type, fact.values), label="value")
        role = data.draw(st.sampled_from(sorted(definition.roles)), label="role")
        self._attempt(
            case_id,
            lambda: self.service.set_fact(
                case_id, name, value, on=self.today, at=RECORDED_AT, actor=Actor("someone", role)
            ),
        )

    @rule(case_id=cases, data=st.data())
    def record_check(self, case_id: str, data: st.DataObject) -> None:
        case = self.service.get(case_id)
        definition = self.service.process_for(case).definition
        checks = sorted(definition.checks())
        if not checks:
            return
        check = data.draw(st.sampled_from(checks), label="check")
        role = data.draw(st.sampled_from(sorted(definition.roles)), label="role")
        self._attempt(
            case_id,
            lambda: self.service.record_check(
                case_id,
                check,
                on=self.today,
                at=RECORDED_AT,
                actor=Actor("someone", role),
                outcome="done",
            ),
        )

    @rule(case_id=cases, text=st.sampled_from(["Called, no answer", "", "Visited: empty flat"]))
    def add_note(self, case_id: str, text: str) -> None:
        self._attempt(
            case_id,
            lambda: self.service.add_note(
                case_id, text, on=self.today, at=RECORDED_AT, actor=Actor("sona", "cme_officer")
            ),
        )

    @rule(days=st.integers(5, 15))
    def days_pass_and_the_scheduler_sweeps(self, days: int) -> None:
        self.time_passes(days)
        self.sweep(0)

    @rule(back=st.integers(0, 3))
    def sweep(self, back: int) -> None:
        until = max(self.swept_until, self.today - dt.timedelta(days=back))
        result = sweep(self.service, until=until, at=RECORDED_AT)
        STATS["timer_events"] += result.total
        self.swept_until = until
        with self.store.engine.connect() as conn:
            left = conn.execute(
                select(timer_table.c.key).where(
                    timer_table.c.status == "pending", timer_table.c.due_date <= until
                )
            ).all()
        assert left == [], f"the sweep left due timers pending: {left}"

    @precondition(lambda self: self.today >= MIGRATED_FROM)
    @rule(process=st.sampled_from(sorted(OPENERS)))
    def migrate_to_the_next_version(self, process: str) -> None:
        from engine.cases.migration import plan_migration, run_migration

        if process in self.migrated:
            return
        self.migrated.add(process)
        to = registry().get(process)
        plan = plan_migration(
            self.service,
            process,
            from_version=MIGRATED_FROM_VERSION[process],
            to=to,
            mapping={},
            on=self.today,
            actor=POLICY_OWNER,
        )
        before = {m.case.id: self._seq(m.case.id) for m in plan.moves}
        result = run_migration(self.service, plan, at=RECORDED_AT, actor=POLICY_OWNER)
        moved = {r.case.id for r in result.migrated}
        for case_id, seq in before.items():
            assert self._seq(case_id) == seq + (case_id in moved)
            if case_id in moved:
                assert self.service.get(case_id).process_version == to.definition.version
        STATS["events"] += len(moved)

    # -- after every step -------------------------------------------------------------------

    @invariant()
    def history_verifies(self) -> None:
        verify_all(self.store)

    @invariant()
    def fired_timers_were_due(self) -> None:
        with self.store.engine.connect() as conn:
            early = conn.execute(
                select(timer_table.c.key, timer_table.c.due_date).where(
                    timer_table.c.status.in_(("fired", "lapsed")),
                    timer_table.c.due_date > self.swept_until,
                )
            ).all()
        # Only a sweep closes a timer as fired or lapsed (a step taken by hand cancels it), and
        # no sweep has yet run up to these timers' due dates.
        assert early == [], f"timers acted before their due date: {early}"


CaseWork.TestCase.settings = PROFILE
TestCaseWork = CaseWork.TestCase


@pytest.fixture(scope="module", autouse=True)
def _counts() -> Iterator[None]:
    """Print what the run covered (`pytest -s`): the figures SECURITY.md reports."""
    yield
    print(f"\nstateful run: {STATS}")
