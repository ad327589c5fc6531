"""Deliberate repeats only: a step that keeps the stage taken twice the same day, and a check
recorded twice.

A step without `dest` (a MASH referral, a letter) does its work each time it is taken, so a
second one the same day for the same case is refused unless the officer says it is deliberate,
with a reason. A check recorded again is an amendment: refused unless asked for, with a reason,
and then the earlier recording (when, by whom, what it found) is kept beside the new one.

Pure like `engine/cases/decide.py`, which calls it: the case's history comes lazily through the
`Situation` (read inside the command's transaction, after the case row is locked, so two
officers at once cannot both pass). Does not write anything.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.cases.events import CaseEvent, CheckRecorded, StepTaken
from engine.errors import CheckAlreadyRecorded, CommandRefused, RepeatRefused

if TYPE_CHECKING:
    from engine.cases.decide import Situation
    from engine.language.definition import CheckDefinition, TriggerDefinition


def repeat_refusal(
    sit: Situation, trig: TriggerDefinition, *, deliberate: bool
) -> RepeatRefused | None:
    """The refusal of a step that keeps the stage, already taken on the case on `sit.on`
    (by an officer or a timer), unless `deliberate`.
    """
    if trig.dest is not None or deliberate:
        return None
    earlier = next(
        (
            ev
            for ev in reversed(sit.history())
            if ev.effective_date == sit.on
            and isinstance(ev.body, StepTaken)
            and ev.body.trigger == trig.id
        ),
        None,
    )
    if earlier is None:
        return None
    return RepeatRefused(
        case_id=sit.case.id,
        step=trig.id,
        step_title=trig.title,
        on=sit.on,
        seq=earlier.seq,
        by=earlier.actor,
        role=earlier.role,
    )


def last_recording(sit: Situation, check_id: str) -> CaseEvent | None:
    """The event that last recorded the check, if the history has one."""
    return next(
        (
            ev
            for ev in reversed(sit.history())
            if isinstance(ev.body, CheckRecorded) and ev.body.check == check_id
        ),
        None,
    )


def recording_refusal(
    sit: Situation, check: CheckDefinition, *, amend: bool
) -> CommandRefused | None:
    """The refusal of recording a check already recorded without `amend` (naming when and by
    whom), or of amending one never recorded.
    """
    done = sit.case.checks.get(check.id)
    if done is None:
        if amend:
            return CommandRefused(
                f"check {check.id} ({check.wording}) has not been recorded on case "
                f"{sit.case.id}, so there is nothing to amend: record it without --amend"
            )
        return None
    if amend:
        return None
    import datetime as dt

    earlier = last_recording(sit, check.id)
    return CheckAlreadyRecorded(
        case_id=sit.case.id,
        check=check.id,
        wording=check.wording,
        on=dt.date.fromisoformat(done["on"]),
        by=earlier.actor if earlier else None,
        role=earlier.role if earlier else None,
        seq=earlier.seq if earlier else None,
    )


def amended(sit: Situation, body: CheckRecorded, *, reason: str) -> CheckRecorded:
    """`body` as an amendment of the check's recording: which recording it amends (`amends`),
    and, with the personal data, the reason and every earlier outcome kept.
    """
    check_id = body.check
    earlier = last_recording(sit, check_id)
    done = sit.case.checks[check_id]
    amends: dict[str, Any] = {"on": done["on"]}
    if earlier is not None:
        amends.update(seq=earlier.seq, by=earlier.actor, role=earlier.role)
    opened = sit.reveal(sit.case)
    outcomes: dict[str, list[str]] = {
        c: list(kept) for c, kept in (opened.personal.get("earlier_outcomes") or {}).items()
    }
    outcomes.setdefault(check_id, []).append(opened.check_outcome(check_id) or "")
    personal: dict[str, Any] = {
        **(body.personal or {}),
        "earlier_outcomes": outcomes,
        "reason": reason,
    }
    return replace(body, amends=amends, personal=personal)  # type: ignore[arg-type]
