"""Opening cases: a case per child on a notification form, siblings linked, each child's facts
typed before anything is written; one child, one open case (a child with an open case already is
refused, linked to it, or opened anyway with a reason: `engine/cases/duplicates.py`), and a
further notification recorded on the child's open case. `CaseService.open_case` delegates here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, cast

from engine.cases import decide, free_text, process_roles
from engine.cases.commanding import situation, write
from engine.cases.decide import POLICY, Command, Draft
from engine.cases.events import EventKind, Opened, Personal
from engine.cases.unit_of_work import UnitOfWork
from engine.errors import CMEError, InputError
from engine.protection.access import Actor, Permission, require
from engine.time.calendars import DEFAULT_CALENDAR
from engine.time.deadlines import refuse_unplaceable_case
from engine.time.school_calendars import case_calendar

if TYPE_CHECKING:
    from engine.cases.notification import Child, NotificationForm
    from engine.cases.service import CaseService
    from engine.language.definition import ProcessDefinition

log = logging.getLogger(__name__)


def open_case(
    service: CaseService,
    form: NotificationForm,
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
    process: str,
    calendar: str | None,
    assigned_officer: str | None,
    link: str | Collection[str] | None,
    override_reason: str | None,
) -> list[str]:
    """Open a case per child on the form through `service` (see `CaseService.open_case`)."""
    from engine.cases.case_index import search_key, tokens_of, write_tokens
    from engine.cases.duplicates import ChildDecision, decide_children
    from engine.cases.notification import (
        case_facts,
        check_form_dates,
        check_school_age,
        personal_data,
    )

    if override_reason is not None:
        override_reason = decide.require_text(
            override_reason, "say why this is a different child: --reason is required"
        )
        free_text.check_free_text(override_reason, what="reason")

    require(actor, POLICY[Command.open].permission or Permission.change_case, table=service.roles)
    decide.not_future(on, at)
    check_form_dates(form, on=on)
    compiled = service.catalog.in_force(process, on)
    definition = compiled.definition
    if definition.compulsory_school_age_only:
        check_school_age(form, on=on)
    # A role of the process, which may record every fact the form gives (`recorded_by`).
    given = {name for child in form.children for name in case_facts(form, child, on=on)}
    decide.refuse(process_roles.open_refusals(definition, actor, given))
    base = service.reader.calendar_for_new_case(
        calendar or definition.clock.calendar or DEFAULT_CALENDAR
    )
    base.is_school_day(on)  # a date outside the calendar is refused before anything is written
    # A process the school runs counts the child's school's days (its INSET days overlaid).
    cals = [case_calendar(definition, base, child.school) for child in form.children]
    for cal in {c.name: c for c in cals}.values():
        cal.is_school_day(on)
        # A first step the calendar cannot place is refused now, naming the missing year.
        refuse_unplaceable_case(definition, opened_on=on, calendar=cal)
    # Every child's facts are typed before anything is written, so a bad one writes nothing.
    form_facts = [_form_facts(definition, form, child, on=on) for child in form.children]
    initial = definition.states[definition.initial]
    ids: list[str] = []
    with service.work.begin() as uow:
        # One child, one open case: decided before anything is written.
        key = search_key(uow.conn, service.keys, at=at)
        links = {link} if isinstance(link, str) else set(link or ())
        if definition.one_open_case_per_child or links:
            decisions = decide_children(
                uow.conn,
                service.keys,
                key,
                form.children,
                link=links,
                override_reason=override_reason,
                process=definition.id,
            )
        else:
            decisions = [ChildDecision() for _ in form.children]
        uow.publish(compiled, at)
        for cal in {c.name: c for c in cals}.values():
            uow.publish_calendar(cal, at)
        opening = [i for i, d in enumerate(decisions) if d.link is None]
        numbers = uow.next_case_numbers(len(opening)) if opening else []
        group = numbers[0] if len(numbers) > 1 else None
        for number, i in zip(numbers, opening, strict=True):
            child, (facts, personal_facts), cal = form.children[i], form_facts[i], cals[i]
            personal = personal_data(form, child)
            if personal_facts:
                personal["facts"] = personal_facts
            draft = Draft(
                EventKind.opened,
                Opened(
                    state=definition.initial,
                    calendar=cal.name,
                    sibling_group=group,
                    siblings=[n for n in numbers if n != number],
                    assigned_officer=assigned_officer or actor.name,
                    facts=facts,
                    stops_clock=initial.stops_clock,
                    actions=decide.actions_data(initial.on_enter),
                    personal=cast("Personal", personal),
                    duplicate_of=decisions[i].duplicate_of,
                    override_reason=decisions[i].override_reason,
                    tracks_stages=True,
                ),
                f"open case: {initial.ref.section}",
                actions=tuple(initial.on_enter),
            )
            uow.open(number, definition, cal, draft, actor=actor, on=on, at=at)
            # Found by the blind index from now on, in the transaction that wrote it.
            write_tokens(uow.conn, key, number, tokens_of(personal), new=True)
        opened = iter(numbers)
        for child, decision in zip(form.children, decisions, strict=True):
            if decision.link is None:
                ids.append(next(opened))
                continue
            linked = _link_notification(
                service, uow, decision.link.case_id, form, child, decision.link.how, actor, on, at
            )
            write_tokens(uow.conn, key, decision.link.case_id, tokens_of(linked))
            ids.append(decision.link.case_id)
    log.info("opened %s under %s v%s", ", ".join(ids), definition.id, definition.version)
    return ids


def _link_notification(
    service: CaseService,
    uow: UnitOfWork,
    case_id: str,
    form: NotificationForm,
    child: Child,
    how: str,
    actor: Actor,
    on: dt.date,
    at: dt.datetime,
) -> dict[str, Any]:
    """Record a notification on the child's open case (no new case, no first letter);
    returns the personal data recorded, for the index.
    """
    from engine.cases.events import NotificationLinked
    from engine.cases.notification import personal_data

    case = uow.load_for_update(case_id, None)
    sit = situation(service, uow, case, service.process_for(case), actor, on, at)
    decide.refuse(decide.refusals(sit, Command.note, "link a notification to it"))
    personal: dict[str, Any] = {"linked_notification": personal_data(form, child)}
    draft = Draft(
        EventKind.notification_linked,
        NotificationLinked(
            form_date=form.date.isoformat(), how=how, personal=cast("Personal", personal)
        ),
        "one child, one case: a further notification about the child is linked to the "
        "child's open case",
        touch_timers=False,
    )
    write(uow, sit, draft)
    return personal


def _form_facts(
    definition: ProcessDefinition, form: NotificationForm, child: Child, *, on: dt.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The form's facts this process declares, typed, split into plain and personal."""
    from engine.cases.notification import case_facts
    from engine.language.facts import coerce_fact

    plain: dict[str, Any] = {}
    personal: dict[str, Any] = {}
    for name, raw in case_facts(form, child, on=on).items():
        fact = definition.facts.get(name)
        if fact is None:
            continue
        try:
            value = coerce_fact(name, raw, definition.facts, on=on)
        except CMEError as exc:
            raise InputError(
                f"the notification's {name} for {child.full_name} does not fit process "
                f"{definition.id}: {exc}"
            ) from None
        (personal if fact.personal else plain)[name] = value
    return plain, personal
