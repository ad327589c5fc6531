"""Removal-ground walks shared by the 2006 and 2024 scenarios: a ground's facts and checks, and
the walk from the school's proposal through the notification and the confirmation it needs to
the removal from roll (or its refusal)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine.errors import GuardFailed
from engine.time.words import day_words
from tests.scenarios.helpers import OFFICER, PRIMARY_DOB, SCHOOL, Walk, notification


@dataclass(frozen=True)
class Timeline:
    """The dates of one removal: proposed (Day 1), confirmations received, removed."""

    proposed: dt.date
    confirmed: dt.date
    removed: dt.date
    calendar: str | None = None
    """None: the process's default calendar (the shipped london-2024-25)."""


@dataclass(frozen=True)
class Ground:
    """One removal ground: what makes it hold, and one way it fails."""

    ground: str
    """The ground as the notification form and the `ground` fact give it."""
    notify: str
    """The notification step the ground needs (section 4.3)."""
    remove: str
    """The removal step."""
    facts: dict[str, Any]
    """Facts under which every condition of the removal holds."""
    breaks: dict[str, Any] = field(default_factory=dict)
    """Facts that make the removal fail (recorded over `facts`)."""
    withhold: tuple[str, ...] = ()
    """Checks left unrecorded to make the removal fail."""
    fails: tuple[str, ...] = ()
    """The `says` of every condition that then fails."""
    before_notice: tuple[str, ...] = ()
    """Checks recorded before the notification (e.g. the Evidence of Checks form)."""
    confirmations: tuple[str, ...] = ()
    """Checks recorded while the notification awaits confirmation."""
    dob: dt.date = PRIMARY_DOB
    notice: tuple[str, str] = ("notify", "cme_officer")
    """(kind, recipient) of what the notification step queues."""

    def __str__(self) -> str:
        return self.ground


def written(value: Any) -> str:
    """A fact's value as a refusal writes it, as a person would: yes/no, `2 Dec 2024`, whole
    numbers, enum values in words (never `True`, `'2024-12-02'` or `'new_uk_address'`)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return day_words(value)
    return str(value).replace("_", " ")


def propose(service: Any, g: Ground, t: Timeline, *, facts: dict[str, Any] | None = None) -> Walk:
    """The school proposes the removal on `t.proposed`, records the facts and checks, and makes
    the notification the ground needs."""
    walk = Walk.open(
        service,
        notification(t.proposed, dob=g.dob, ground=g.ground),
        on=t.proposed,
        actor=SCHOOL,
        process="removal_grounds",
        calendar=t.calendar,
    )
    assert walk.case.facts["ground"] == g.ground
    walk.facts(g.facts if facts is None else facts, on=t.proposed, actor=SCHOOL)
    if g.before_notice:
        walk.check(*g.before_notice, on=t.proposed, actor=SCHOOL)
    walk.fire(g.notify, on=t.proposed, actor=SCHOOL)
    assert walk.state == "awaiting_confirmation"
    kind, recipient = walk.outbox()[-1][:2]
    assert (kind, recipient) == g.notice
    return walk


def confirm(walk: Walk, checks: tuple[str, ...], *, on: dt.date) -> None:
    """The confirmations arrive (the CME Officer records its own; the school records the rest)."""
    for check in checks:
        who = OFFICER if check == "cme_officer_confirmed_receipt" else SCHOOL
        walk.check(check, on=on, actor=who)


def walk_to_removal(service: Any, g: Ground, t: Timeline) -> Walk:
    """Walk the ground's removal through to the pupil's name being removed on `t.removed`."""
    walk = propose(service, g, t)
    confirm(walk, g.confirmations, on=t.confirmed)
    walk.facts({"off_roll_date": t.removed}, on=t.removed, actor=SCHOOL)
    walk.fire(g.remove, on=t.removed, actor=SCHOOL)
    return walk


def walk_to_refusal(service: Any, g: Ground, t: Timeline) -> tuple[Walk, GuardFailed]:
    """Walk the ground with its `breaks`/`withhold` applied; the removal must be refused."""
    walk = propose(service, g, t, facts={**g.facts, **g.breaks})
    confirm(walk, tuple(c for c in g.confirmations if c not in g.withhold), on=t.confirmed)
    walk.facts({"off_roll_date": t.removed}, on=t.removed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.remove, on=t.removed, actor=SCHOOL)
    assert walk.state == "awaiting_confirmation"
    assert not walk.case.terminal
    return walk, error
