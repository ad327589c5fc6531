"""The policy owner's pages: processes and their versions (in force, pending, old), each with its
diagram and text, a diff of two versions, a version's impact on running cases before it is
published, and the school calendars as year calendars; over the same engine calls as
`cme process list | show | diagram | diff | impact` and `cme calendar list | show`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from engine.cases.case_impact import name_children
from engine.cases.impact import impact
from engine.cases.migration import find_version, parse_mapping
from engine.cases.version_status import version_statuses
from engine.errors import InputError
from engine.language.basis import basis_of, basis_words
from engine.language.definition import ProcessDefinition
from engine.language.diagram import timer_when, to_svg
from engine.language.diagram_changes import diagram_changes
from engine.language.diff import AREAS, diff_definitions
from engine.language.la_choices import governed
from engine.protection.access import Permission
from engine.time.calendar_file import school_year_of
from engine.time.calendars import available_calendars
from engine.web.accounts import WebUser
from engine.web.context import actor_of, engine_of, requires
from engine.web.pages import render
from engine.web.params import date_param
from engine.web.year_calendar import KINDS, year_months

router = APIRouter()

Owner = Annotated[WebUser, Depends(requires(Permission.load_process))]


@router.get("/processes")
def processes(request: Request, _user: Owner, on: str | None = None) -> Response:
    """Every version of every process and where it stands on a date, as `cme process list`."""
    engine = engine_of(request)
    day = date_param(on, "on", engine.today())
    statuses = version_statuses(engine.service, day)
    grouped: dict[str, list[Any]] = {}
    for s in statuses:
        grouped.setdefault(s.process_id, []).append(s)
    return render(
        request, "policy/processes.html", {"title": "Processes", "grouped": grouped, "on": day}
    )


def _inline_svg(svg: str, label_id: str) -> Markup:
    """The drawing's SVG document as an inline, labelled image (its text alternative follows)."""
    body = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)
    body = body.replace(
        "<svg ", f'<svg role="img" aria-labelledby="{label_id}" focusable="false" ', 1
    )
    return Markup(body)


def _basis(definition: ProcessDefinition, source: Any, choice: str | None, within: Any) -> str:
    return basis_words(basis_of(definition, source, la_choice=choice, within=within))


def _rules(definition: ProcessDefinition) -> list[dict[str, Any]]:
    """Each step as a rule: from, to, who, what it needs (each condition with its basis)."""
    out = []
    for trig in definition.triggers:
        needs = [f"check {c}" for c in trig.requires_checks]
        needs += [f"fact {f}" for f in trig.requires_facts]
        needs += [
            f"{g.says} ({_basis(definition, g.source, g.la_choice, trig.ref)})" for g in trig.guards
        ]
        if trig.requires_reason:
            needs.append("a reason")
        out.append(
            {
                "id": trig.id,
                "title": trig.title,
                "from": "any open stage" if trig.source == "*" else ", ".join(trig.source),
                "to": trig.dest or "(stays in its stage)",
                "who": ", ".join(trig.roles) or "timer only",
                "by_timer": trig.by_timer,
                "needs": needs,
                "does": [a.wording for a in trig.actions],
                "basis": basis_words(basis_of(definition, trig.ref)),
            }
        )
    return out


def _stages(definition: ProcessDefinition) -> list[dict[str, Any]]:
    """Each stage with its days, checklist (each check's basis) and timers."""
    out = []
    for state_id, state in definition.states.items():
        out.append(
            {
                "id": state_id,
                "title": state.title,
                "days": str(state.days) if state.days else "",
                "initial": state_id == definition.initial,
                "terminal": state.terminal,
                "basis": basis_words(basis_of(definition, state.ref)),
                "checks": [
                    {
                        "id": c.id,
                        "wording": c.wording,
                        "days": str(c.days) if c.days else "",
                        "required": c.required,
                        "waived_by": c.waived_by,
                        "basis": _basis(definition, c.source, c.la_choice, state.ref),
                    }
                    for c in state.checklist
                ],
                "timers": [
                    f"{timer_when(t)}: "
                    + (
                        f"fire {t.fire}"
                        if t.fire
                        else f"escalate to {t.escalate.to_role if t.escalate else '?'}"
                    )
                    for t in state.timers
                ],
            }
        )
    return out


@router.get("/processes/{process_id}/diff")
def diff(
    request: Request,
    process_id: str,
    _user: Owner,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Response:
    """What changed between two versions, as `cme process diff NAME FROM TO`."""
    engine = engine_of(request)
    versions = sorted(
        {s.version for s in version_statuses(engine.service, engine.today(), process_id)}
    )
    old = _version(from_, "from", versions[-2] if len(versions) > 1 else versions[0])
    new = _version(to, "to", versions[-1])
    # The service's registry (loaded once) or the stored text: as `cme process diff` finds them,
    # without reading every process file again on each request.
    before = find_version(engine.service, process_id, old).definition
    after = find_version(engine.service, process_id, new).definition
    changes = diff_definitions(before, after)
    grouped = [(area, [c for c in changes if c.area == area]) for area in AREAS]
    return render(
        request,
        "policy/diff.html",
        {
            "title": f"{process_id}: version {old} to {new}",
            "process_id": process_id,
            "versions": versions,
            "old": old,
            "new": new,
            "count": len(changes),
            "grouped": [(a, cs) for a, cs in grouped if cs],
        },
    )


def _version(value: str | None, field: str, default: int) -> int:
    if value is None or not value.strip():
        return default
    if not value.strip().isdigit():
        raise InputError(f"{field} must be a version number, not {value!r}")
    return int(value)


def _choices(written: ProcessDefinition) -> list[dict[str, Any]]:
    """The LA's own choices (beyond the policy and the law): each switch and the rules it
    governs, as `cme process show` lists them.
    """
    rules = governed(written)
    return [
        {
            "key": key,
            "says": choice.says,
            "why": choice.why,
            "applies": choice.applies,
            "rules": rules.get(key, []),
        }
        for key, choice in written.la_choices.items()
    ]


@router.get("/processes/{process_id}/{version}")
def process_version(
    request: Request,
    process_id: str,
    version: int,
    _user: Owner,
    changes_from: str | None = None,
) -> Response:
    """One version: where it stands, its diagram (SVG with a text alternative; with
    `changes_from`, what changed since that version marked), its stages and rules with each
    rule's basis, its LA choices and its YAML, as `cme process show` and `diagram`.
    """
    engine = engine_of(request)
    compiled = find_version(engine.service, process_id, version)
    definition = compiled.definition
    changes = None
    if changes_from:
        before = find_version(engine.service, process_id, _version(changes_from, "changes_from", 0))
        changes = diagram_changes(before.definition, definition)
    status = next(
        (
            s
            for s in version_statuses(engine.service, engine.today(), process_id)
            if s.version == version
        ),
        None,
    )
    return render(
        request,
        "policy/version.html",
        {
            "title": f"{definition.title}, version {version}",
            "definition": definition,
            "status": status,
            "content_hash": compiled.content_hash,
            "svg": _inline_svg(to_svg(definition, changes), "diagram-title"),
            "changes_from": changes_from if changes is not None else None,
            "changes_key": changes.key() if changes is not None else [],
            "choices": _choices(compiled.loaded.as_written),
            "stages": _stages(definition),
            "rules": _rules(definition),
            "text": compiled.loaded.text,
        },
    )


@router.get("/processes/{process_id}/{version}/impact")
def version_impact(
    request: Request,
    process_id: str,
    version: int,
    user: Owner,
    on: str | None = None,
    map: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """What the version would do to running cases, before it is published, as
    `cme process impact NAME VERSION --on DATE [--map OLD=NEW]`.
    """
    engine = engine_of(request)
    day = date_param(on, "on", engine.today())
    service = engine.service
    result = impact(
        service,
        find_version(service, process_id, version),
        on=day,
        mapping=parse_mapping(m for m in (map or []) if m.strip()),
    )
    if engine.roles.allows(user.role, Permission.read_case):
        # A role that may read cases sees the children's names (each read logged), as the CLI.
        name_children(service, result.cases, actor=actor_of(user), at=engine.now())
    return render(
        request,
        "policy/impact.html",
        {
            "title": f"Impact of {process_id} version {version}",
            "process_id": process_id,
            "version": version,
            "on": day,
            "maps": [m for m in (map or []) if m.strip()],
            "sentences": result.sentences(),
            "cases": [(c, c.lines(version)) for c in result.cases],
        },
    )


# --- calendars ----------------------------------------------------------------------------------


@router.get("/calendars")
def calendars(request: Request, _user: Owner) -> Response:
    """The calendars this database counts days on, with versions and school years."""
    engine = engine_of(request)
    rows = []
    for name in available_calendars():
        cal = engine.reader.calendar_in_force(name)
        rows.append({"name": name, "version": cal.version, "years": cal.school_years()})
    return render(request, "policy/calendars.html", {"title": "Calendars", "rows": rows})


@router.get("/calendars/{name}")
def calendar(request: Request, name: str, _user: Owner, year: str | None = None) -> Response:
    """A school year as a year calendar: terms, half terms, holidays, bank holidays, INSET and
    closure days, one table per month, as `cme calendar show --year`.
    """
    engine = engine_of(request)
    cal = engine.reader.calendar_in_force(name)
    years = cal.school_years()
    wanted = year or (
        school_year_of(engine.today()) if school_year_of(engine.today()) in years else years[-1]
    )
    summary, months = year_months(cal, wanted)
    return render(
        request,
        "policy/calendar.html",
        {
            "title": f"Calendar {name}, {wanted}",
            "cal": cal,
            "years": years,
            "summary": summary,
            "months": months,
            "kinds": KINDS,
        },
    )
