"""The decision step: from a case, its pinned process version, who acts and when, to the event to
append, or a refusal carrying every reason.

Pure: nothing here reads or writes the database. What a decision needs from outside (the
calendar, the check list, the case's personal facts) comes in a `Situation`; the commands
(`engine/cases/service.py`) and timer firing build one, and the unit of work
(`engine/cases/unit_of_work.py`) writes the `Draft` this returns. What differs between commands
(the permission each needs, whether a closed case may take it, whether its date must not run
backwards) is the one table `POLICY`, with the refusals it states, in `engine/cases/policy.py`
(re-exported here). Which roles act in a process and who may record each
check and fact is `engine/cases/process_roles.py`; a failing condition in words is
`engine/cases/condition_words.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from engine.cases import condition_words, repeats
from engine.cases.events import (
    Action,
    CaseEvent,
    CheckRecorded,
    EventBody,
    EventKind,
    FactChanged,
    LetterFiled,
    Note,
    Personal,
    StepTaken,
    TimerFired,
    check_body,
)

# Re-exported: the commands and the other decisions import these from here.
from engine.cases.policy import POLICY as POLICY
from engine.cases.policy import WRITE_PERMISSION as WRITE_PERMISSION
from engine.cases.policy import Command as Command
from engine.cases.policy import Policy as Policy
from engine.cases.policy import not_future as not_future
from engine.cases.policy import refusals as refusals
from engine.cases.policy import refuse as refuse
from engine.cases.policy import require_text as require_text
from engine.cases.process_roles import SCHEDULER as SCHEDULER  # commands act as the scheduler
from engine.cases.process_roles import SCHEDULER_ACTOR as SCHEDULER_ACTOR
from engine.cases.process_roles import recorder_refusals
from engine.cases.projection import CaseState
from engine.errors import (
    BackdatingRefused,
    CommandRefused,
    GuardFailed,
    MissingChecks,
    RoleNotPermitted,
    TransitionNotAllowed,
    UnknownCheck,
    UnknownFact,
)
from engine.protection.access import Actor

if TYPE_CHECKING:
    from engine.language.definition import (
        ActionDefinition,
        CheckDefinition,
        ProcessDefinition,
        TriggerDefinition,
    )
    from engine.language.machine import CompiledProcess
    from engine.time.calendar import SchoolCalendar


_SHOWN_NAMES = frozenset({"case_day", "state_day"})
"""Reserved guard names whose value a refusal shows next to the facts."""


@dataclass(frozen=True)
class Draft:
    """An event a command decided to append, before it is numbered, sealed and written: its
    kind's model (`engine/cases/events.py`), whose personal part is still open.

    `actions` are queued in the outbox once it is written; `touch_timers` re-arms the case's
    timers if the event changes its stage.
    """

    kind: EventKind
    body: EventBody
    rule: str | None
    actions: tuple[ActionDefinition, ...] = ()
    touch_timers: bool = True


@dataclass(frozen=True)
class Situation:
    """What a decision reads: the case, the process version it is pinned to, who acts, the
    date it takes effect (`on`) and the time it is recorded (`at`), its calendar and checks.

    `reveal` opens the case's sealed personal data; it is called only when a condition reads a
    personal fact.
    """

    case: CaseState
    compiled: CompiledProcess
    actor: Actor
    on: dt.date
    at: dt.datetime
    calendar: SchoolCalendar
    checks: Mapping[str, CheckDefinition]
    reveal: Callable[[CaseState], CaseState] = field(default=lambda case: case)
    history: Callable[[], Sequence[CaseEvent]] = field(default=lambda: ())
    """The case's events, read when a decision needs them (a repeat, an amendment)."""

    @property
    def definition(self) -> ProcessDefinition:
        """The process version's definition."""
        return self.compiled.definition


def step_of(
    definition: ProcessDefinition, step: str, facts: Mapping[str, Any] | None = None
) -> TriggerDefinition:
    """The step (trigger) `step` of the process; UnknownStep if it has none, whose "did you
    mean" never names a step for another ground than the one in `facts` (`grounds.py`).
    """
    trig = definition.trigger(step)
    if trig is None:
        from engine.cases.grounds import unknown_step

        raise unknown_step(definition, step, facts)
    return trig


# -- facts and guard values ---------------------------------------------------------------------


def facts_read(
    sit: Situation, names: Collection[str] | None = None, case: CaseState | None = None
) -> dict[str, Any]:
    """Every fact conditions read, with the derived ones among `names` (or all) counted on
    `sit.on` (`engine/cases/derived.py`); sealed personal facts are opened only if the process
    has any (and, when `names` lists every name the conditions read, only if one of them or a
    date a count among them reads is personal).
    """
    from engine.cases.derived import with_counts
    from engine.language.derived import with_sources

    case = case or sit.case
    defs = sit.definition.facts
    # A derived fact read is counted from recorded dates, which may be personal (a birth date).
    wanted = None if names is None else with_sources(names, defs)
    if not any(f.personal and (wanted is None or n in wanted) for n, f in defs.items()):
        facts = case.all_facts()
    else:
        facts = sit.reveal(case).all_facts()
    return with_counts(
        sit.definition, facts, sit.calendar, on=sit.on, opened_on=case.opened_on, names=names
    )


def guard_values(
    sit: Situation, facts: Mapping[str, Any], case: CaseState | None = None
) -> dict[str, Any]:
    """The values conditions read on `sit.on`: facts, checks done and the day counts."""
    from engine.language.expressions import guard_context

    case = case or sit.case
    cal = sit.calendar
    return guard_context(
        facts=facts,
        fact_defs=sit.definition.facts,
        checks_done=case.satisfied_checks(),
        all_checks=sit.checks.keys(),
        case_day=cal.day_number(case.opened_on, sit.on, skip=case.paused_ranges()),
        state_day=cal.day_number(case.state_entered_on, sit.on),
        effective_date=sit.on,
        opened_on=case.opened_on,
    )


# -- steps ------------------------------------------------------------------------------------


def take_step(
    sit: Situation,
    trig: TriggerDefinition,
    *,
    command: Command = Command.step,
    kind: EventKind = EventKind.trigger,
    extra: Mapping[str, Any] | None = None,
    personal: Personal | None = None,
    deliberate: bool = False,
) -> Draft:
    """The event a step appends, or every reason it may not be taken now: the roles of the
    step, a closed case, the case's stage, the date, a repeat not said to be `deliberate`,
    required checks and facts, and guards.
    """
    definition, case, compiled = sit.definition, sit.case, sit.compiled
    reasons: list[CommandRefused] = []
    if command is Command.step and (
        not trig.by_timer if sit.actor.role == SCHEDULER else sit.actor.role not in trig.roles
    ):
        reasons.append(
            RoleNotPermitted(
                role=sit.actor.role,
                doing=f"take step {trig.id}",
                process=definition.id,
                step=trig.id,
                step_title=trig.title,
                allowed={r: definition.roles[r].title for r in trig.roles if r in definition.roles},
                role_title=_title(definition, sit.actor.role),
            )
        )
    policy = refusals(sit, command, trig.id)
    reasons += [r for r in policy if not isinstance(r, BackdatingRefused)]
    if case.terminal:
        # Closed: no step can be taken, so what this one would need is beside the point.
        refuse(reasons + [r for r in policy if isinstance(r, BackdatingRefused)])
    if case.state not in definition.source_states(trig):
        reasons.append(
            TransitionNotAllowed(
                case_id=case.id,
                step=trig.id,
                stage=case.state,
                stage_title=definition.states[case.state].title,
                allowed=compiled.allowed_triggers(case.state),
            )
        )
    reasons += [r for r in policy if isinstance(r, BackdatingRefused)]
    # An officer's step; a timer's fires once by its key.
    repeat = repeats.repeat_refusal(sit, trig, deliberate=deliberate or command is not Command.step)
    if repeat is not None:
        reasons.append(repeat)
    # A step for another ground than the recorded one: say so, not what that ground needs.
    _refuse_other_ground(sit, trig, reasons)
    # A waived check satisfies a step as a recorded one does.
    satisfied = case.satisfied_checks()
    missing = [c for c in trig.requires_checks if c not in satisfied]
    if missing:
        from engine.language.basis import check_basis

        reasons.append(
            MissingChecks(
                step=trig.id,
                missing={c: sit.checks[c].wording for c in missing},
                bases={
                    c: b.refusal_words(definition.id)
                    for c in missing
                    if (b := check_basis(definition, c)) is not None
                },
            )
        )
    # Only the facts this step reads: sealed personal ones are opened only if it reads one.
    guards = compiled.guards(trig.id)
    read = {*trig.requires_facts, *(n for c in guards for n in c.names)}
    facts = facts_read(sit, read)
    unset = [f for f in trig.requires_facts if facts.get(f) is None]
    if unset:
        reasons.append(
            GuardFailed(
                step=trig.id,
                failed=[f"{f} recorded" for f in unset],
                facts={f: None for f in unset},
                unset=unset,
                described={
                    f: definition.facts[f].description for f in unset if f in definition.facts
                },
            )
        )
    # A guard reading a fact not recorded yet (or a count of one) fails for that reason, said
    # once above.
    judged = [c for c in guards if not unset or not _reads(sit, c.names) & set(unset)]
    if judged:
        context = guard_values(sit, facts)
        failing = [c for c in judged if not c.evaluate(context)]
        if failing:
            # Name the values each failing condition read: facts (with the dates a count is
            # counted from), and the day counts.
            read = _reads(sit, {v for c in failing for v in c.names})
            names = sorted(v for v in read if v in _SHOWN_NAMES or v in facts)
            reasons.append(
                GuardFailed(
                    step=trig.id,
                    failed=[c.says for c in failing],
                    # Each rule's basis: policy, law, or an LA choice and where to switch it off.
                    bases=[
                        c.basis.refusal_words(definition.id) if c.basis is not None else None
                        for c in failing
                    ],
                    facts={n: facts.get(n, context.get(n)) for n in names},
                    read=condition_words.read_words(
                        failing,
                        facts,
                        definition.facts,
                        context,
                        sit.on,
                        case.opened_on,
                        waived=case.waived,
                    ),
                )
            )
    refuse(reasons)
    new_state = compiled.fire(_Model(case.state), trig.id)
    dest = definition.states[new_state]
    # An interrupt (a step without `dest`, e.g. a MASH referral) is recorded, but the case does
    # not re-enter its stage: its day count, pauses, armed timers and the stage's on-enter
    # letters stand.
    actions = (*trig.actions,) if trig.dest is None else (*trig.actions, *dest.on_enter)
    model = TimerFired if kind is EventKind.timer_fired else StepTaken
    body = model(
        trigger=trig.id,
        from_state=case.state,
        to_state=new_state,
        terminal=dest.terminal,
        stops_clock=dest.stops_clock,
        actions=actions_data(actions),
        stays=True if trig.dest is None else None,
        clears=clears_on_entering(definition, trig, new_state),
        deliberate=True if deliberate else None,
        personal=personal,
        **(extra or {}),
    )
    rule = f"{trig.id}: {trig.ref.section}"
    if trig.legal_basis:
        rule += f"; {trig.legal_basis}"
    return Draft(kind, body, rule, actions=actions)


def _refuse_other_ground(
    sit: Situation, trig: TriggerDefinition, reasons: list[CommandRefused]
) -> None:
    """Refuse, with `reasons`, a step for another ground than the one recorded on the case."""
    from engine.cases.grounds import wrong_ground

    other_ground = wrong_ground(sit.definition, trig, sit.case.facts, sit.case.state)
    if other_ground is not None:
        refuse([*reasons, other_ground])


def _reads(sit: Situation, names: Collection[str]) -> set[str]:
    """`names` with the recorded dates each derived fact among them is counted from."""
    from engine.language.derived import with_sources

    return with_sources(names, sit.definition.facts)


def clears_on_entering(
    definition: ProcessDefinition, trig: TriggerDefinition, new_state: str
) -> list[str] | None:
    """The stages whose checks entering `new_state` clears (its `clears_checks_of`; a terminal
    stage clears all, which the case row's `terminal` already says), or None.
    """
    if trig.dest is None:
        return None
    return list(definition.states[new_state].clears_checks_of) or None


def _title(definition: ProcessDefinition, role: str) -> str | None:
    """The title of `role` in the process, if it is one of its roles."""
    found = definition.roles.get(role)
    return found.title if found is not None else None


class _Model:
    """The stand-in `transitions` fires on: a case's state, never attached to the machine."""

    def __init__(self, state: str) -> None:
        self.state = state


def actions_data(actions: Collection[ActionDefinition]) -> list[Action]:
    """Actions as the event records them."""
    return [
        cast("Action", a.model_dump(mode="json", exclude_none=True, exclude={"source"}))
        for a in actions
    ]


# -- checks, facts, notes, letters ------------------------------------------------------------


def record_check(
    sit: Situation, check_id: str, outcome: str, *, amend: bool = False, reason: str = ""
) -> Draft:
    """The event recording a check and what it found; recording it again is refused unless it
    is an amendment (`amend`, with a `reason`), which keeps the earlier outcome.
    """
    reasons = refusals(sit, Command.check, f"record check {check_id}")
    check = sit.checks.get(check_id)
    if check is None:
        reasons.insert(
            1 if reasons and isinstance(reasons[0], RoleNotPermitted) else 0,
            UnknownCheck(name=check_id, known=sit.checks, process=sit.definition.id),
        )
    else:
        reasons[:0] = recorder_refusals(sit.definition, sit.actor, checks=[check], refused=reasons)
        again = repeats.recording_refusal(sit, check, amend=amend)
        if again is not None:
            reasons.append(again)
    refuse(reasons)
    assert check is not None
    body = CheckRecorded(
        check=check_id,
        wording=check.wording,
        personal={"check_outcomes": {check_id: outcome.strip()}},
    )
    if amend:
        body = repeats.amended(sit, body, reason=reason)
    return Draft(
        EventKind.check_recorded,
        body,
        f"check {check_id}: {check.source.section if check.source else ''}".strip(),
    )


def set_fact(sit: Situation, name: str, value: Any) -> Draft:
    """The event recording a fact, typed as the process declares it."""
    from engine.language.facts import coerce_fact

    definition = sit.definition
    reasons = refusals(sit, Command.fact, f"set fact {name}")
    if name not in definition.facts:
        reasons.insert(
            1 if reasons and isinstance(reasons[0], RoleNotPermitted) else 0,
            UnknownFact(name=name, known=definition.facts, process=definition.id),
        )
    else:
        reasons[:0] = recorder_refusals(definition, sit.actor, facts=[name], refused=reasons)
    refuse(reasons)
    typed = coerce_fact(name, value, definition.facts, on=sit.on)
    fact = definition.facts[name]
    rule = f"fact {name}: {fact.source.section if fact.source else definition.id}"
    if fact.personal:
        # Declared personal: the value (and the value it replaces) stay with the personal data,
        # which can be encrypted per case; the plain part names the fact.
        return Draft(
            EventKind.fact_changed,
            FactChanged(personal_fact=name, personal={"facts": {name: typed}}),
            rule,
        )
    return Draft(
        EventKind.fact_changed,
        FactChanged(facts={name: typed}, previous=sit.case.facts.get(name)),
        rule,
    )


def add_note(sit: Situation, text: str) -> Draft:
    """The event recording a note (kept with the personal data)."""
    refuse(refusals(sit, Command.note, "add a note"))
    return Draft(EventKind.note, Note(personal={"last_note": text.strip()}), None)


def file_letter(
    sit: Situation, *, template: str, template_version: str, document_id: int, outbox_id: int | None
) -> Draft:
    """The event recording a letter rendered and filed, with its template version."""
    refuse(refusals(sit, Command.letter, "file a letter"))
    return Draft(
        EventKind.letter_filed,
        LetterFiled(
            template=template,
            template_version=template_version,
            document_id=document_id,
            outbox_id=outbox_id,
        ),
        f"letter {template}",
    )


def records_event(
    sit: Situation, command: Command, kind: EventKind, data: dict[str, Any], rule: str | None
) -> Draft:
    """An event the engine or records management writes (admin, migration, system): the
    case's timers are left alone (a migration re-arms them as it writes).
    """
    refuse(refusals(sit, command, "migrate it" if command is Command.migrate else str(kind)))
    # Written rarely and by the engine: checked against the kind's model in full.
    return Draft(kind, check_body(kind, {"data": data}), rule, touch_timers=False)
