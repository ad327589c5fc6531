"""What each command needs and allows (the one table `POLICY`), and the reasons a command is
refused before its own rules are read: the actor's process role, a closed case, a date that runs
backwards or lies in the future.

Pure, like `engine/cases/decide.py`, which re-exports these names: a decision reads its
`Situation` and raises every reason at once (`refuse`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.cases.events import EventKind
from engine.cases.process_roles import SCHEDULER, role_refusal
from engine.errors import BackdatingRefused, CaseClosed, CommandRefused, InputError, Refusal
from engine.protection.access import Permission
from engine.time.words import day_words

if TYPE_CHECKING:
    from engine.cases.decide import Situation


class Command(StrEnum):
    """The kinds of command; each has one row in `POLICY`."""

    open = "open"
    step = "step"
    timer_step = "timer_step"
    check = "check"
    waive = "waive"
    fact = "fact"
    note = "note"
    letter = "letter"
    admin = "admin"
    migrate = "migrate"
    system = "system"
    assign = "assign"


@dataclass(frozen=True)
class Policy:
    """What a command needs and allows.

    `permission`: what the actor's role must have in the role table, checked before the case is
    read (None: not checked then; the write itself still needs the event kind's permission).
    `doing`: the words of the process-role check ("record a check"); None: no process-role
    check (a step checks the roles of the step instead). `closed`: whether a closed case may
    take it. `forwards`: whether its date must be on or after the case's latest event (else it
    only must not be in the future).
    """

    permission: Permission | None
    doing: str | None
    closed: bool
    forwards: bool


POLICY: dict[Command, Policy] = {
    Command.open: Policy(Permission.change_case, "open a case", closed=True, forwards=False),
    Command.step: Policy(Permission.change_case, None, closed=False, forwards=True),
    # A timer's step takes effect on its due date even when the sweep runs late and an officer
    # has since recorded later events: the history says when it was due.
    Command.timer_step: Policy(None, None, closed=False, forwards=False),
    Command.check: Policy(Permission.change_case, "record a check", closed=False, forwards=True),
    Command.waive: Policy(Permission.change_case, "waive a check", closed=False, forwards=True),
    Command.fact: Policy(Permission.change_case, "record a fact", closed=False, forwards=True),
    Command.note: Policy(Permission.change_case, "add a note", closed=True, forwards=True),
    Command.letter: Policy(None, "file a letter", closed=True, forwards=True),
    Command.admin: Policy(Permission.admin, None, closed=True, forwards=True),
    Command.migrate: Policy(None, None, closed=False, forwards=True),
    Command.system: Policy(None, None, closed=True, forwards=False),
    Command.assign: Policy(Permission.change_case, "assign a case", closed=False, forwards=True),
}

WRITE_PERMISSION: dict[EventKind, Permission] = {
    EventKind.purge: Permission.admin,
    EventKind.legal_hold: Permission.admin,
    EventKind.migration: Permission.load_process,
}
"""What writing an event of a kind needs, where it is not `change_case` (the backstop)."""


# -- the reasons a command is refused, in the order the policy states them ------------------


def not_future(on: dt.date, at: dt.datetime) -> None:
    """Refuse (InputError) a date after the day it is recorded."""
    if on > at.date():
        raise InputError(
            f"{day_words(on)} is after the day this is recorded ({day_words(at.date())}): "
            "record a step on or after the day it happens"
        )


def require_text(text: str, message: str) -> str:
    """`text` stripped; InputError with `message` if it is blank."""
    if not text.strip():
        raise InputError(message)
    return text.strip()


def refusals(sit: Situation, command: Command, doing: str) -> list[CommandRefused]:
    """The reasons `command` may not be done on the case as `POLICY` says: the actor's process
    role, a closed case, a date earlier than the latest event. A date in the future is bad
    input, raised at once (InputError).
    """
    policy = POLICY[command]
    not_future(sit.on, sit.at)
    reasons: list[CommandRefused] = []
    if policy.doing is not None:
        role = role_refusal(sit.definition, sit.actor, policy.doing)
        if role is not None:
            reasons.append(role)
    case = sit.case
    if not policy.closed and case.terminal:
        reasons.append(
            CaseClosed(
                case.id,
                stage=case.state,
                closed_on=case.closed_on,
                doing=doing,
                closed_words=day_words(case.closed_on) if case.closed_on else None,
            )
        )
    if policy.forwards and sit.actor.role != SCHEDULER and sit.on < case.last_effective:
        reasons.append(
            BackdatingRefused(
                f"case {case.id}'s latest event took effect on {day_words(case.last_effective)}; "
                f"this cannot take effect earlier ({day_words(sit.on)}): history runs forwards",
                case_id=case.id,
                requested=sit.on,
                latest=case.last_effective,
            )
        )
    return reasons


def refuse(reasons: list[CommandRefused]) -> None:
    """Raise the reasons, if there are any: one as itself, several as one `Refusal`."""
    if reasons:
        raise Refusal.of(reasons)
