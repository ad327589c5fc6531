"""`cme case …` and `cme due`: what a CME officer uses every day."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.cli import LazyGroup
from engine.cli.case_views import print_written
from engine.cli.common import (
    DATE,
    actor_options,
    db_option,
    free_text,
    handle_errors,
    json_option,
    print_json,
    text_file_option,
)
from engine.cli.tables import wide_option


def _on_option(func: Any) -> Any:
    return click.option(
        "--on",
        "on",
        type=DATE,
        default="today",
        show_default=True,
        help="The date it takes effect (YYYY-MM-DD).",
    )(func)


def _expect_option(func: Any) -> Any:
    return click.option(
        "--expect-seq",
        type=int,
        default=None,
        help="Refuse if the case is no longer at this event number (someone else changed it).",
    )(func)


def _stack(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The decorators as if written one above another, the first on top."""

    def add(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return add


# The options each command ends with: the database, who acts, --json; one writing an event
# first takes --expect-seq.
_ANSWERS = _stack(db_option, actor_options, json_option, handle_errors)
_WRITES = _stack(_expect_option, _ANSWERS)


def _text_and_reason(
    name: str, text: str, flag: str, flag_help: str, why: str
) -> Callable[[Any], Any]:
    """`--NAME` (and `--NAME-file`), and the flag `--FLAG` with the --reason it needs."""
    return _stack(
        click.option(f"--{name}", default=None, help=text),
        text_file_option(name, name),
        click.option(f"--{flag}", is_flag=True, help=flag_help),
        click.option("--reason", default=None, help=why),
        text_file_option("reason", "reason"),
    )


@click.group(
    cls=LazyGroup,
    lazy={
        "find": ("engine.cli.find", "find_cmd", "Find a case by name, UPN, birth date, school."),
        "assign": ("engine.cli.find", "assign_cmd", "Give a case to another officer."),
        "waive": ("engine.cli.waive", "waive_cmd", "Waive a check, with a reason (line manager)."),
    },
)
def case() -> None:
    """Open cases from notifications, record checks, contacts and facts, and advance them.

    Example: cme case open --form notification.yaml --on 2024-10-21
    """


@case.command("form")
@click.option("--example", is_flag=True, help="Print a filled, valid form instead of a blank one.")
def form_cmd(example: bool) -> None:
    """Print a CME notification form (Appendix 6) as YAML to fill in.

    Example: cme case form > notification.yaml
    """
    from importlib.resources import files

    name = "notification_example.yaml" if example else "notification_blank.yaml"
    click.echo(files("processes").joinpath("forms", name).read_text(encoding="utf-8"), nl=False)


@case.command("open")
@click.option(
    "--form",
    "form_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The notification form, YAML or JSON.",
)
@_on_option
@click.option("--process", default="untraceable_cme", show_default=True)
@click.option(
    "--calendar",
    default=None,
    help="Calendar the case's clock uses (default: [calendars] default in cme.toml).",
)
@click.option(
    "--link",
    "link",
    multiple=True,
    metavar="CASE",
    help="The child already has this open case: record the notification on it, open none "
    "(once per child).",
)
@click.option(
    "--override-duplicate",
    is_flag=True,
    help="Open a case although the child seems to have one (a different child); needs --reason.",
)
@click.option("--reason", default=None, help="Why the child is not the open case's child.")
@text_file_option("reason", "reason")
@_ANSWERS
def open_cmd(
    form_path: str,
    on: dt.date,
    process: str,
    calendar: str | None,
    link: tuple[str, ...],
    override_duplicate: bool,
    reason: str | None,
    reason_file: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Open a case per child named on a notification form; Day 1 is --on.

    Example: cme case open --form notification.yaml --on 2024-10-21 --json
    """
    from engine.cases.notification import parse_form
    from engine.cli import wiring
    from engine.errors import InputError
    from engine.language.yamlsafe import load_yaml

    path = Path(form_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if path.suffix.lower() == ".json":
        from engine.language.yamlsafe import MAX_CHARS

        if len(text) > MAX_CHARS:
            raise InputError(
                f"{path}: {len(text):,} characters is too long for a notification "
                "form; is this the right file?"
            )
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})"
            ) from None
        except RecursionError:
            raise InputError(f"{path}: nested too deeply to be a notification form") from None
    else:
        data = load_yaml(text, str(path)).data
    form = parse_form(data, source=str(path))
    reason = free_text(reason, reason_file, option="reason")
    if override_duplicate and not (reason and reason.strip()):
        raise InputError("--override-duplicate needs --reason: say why this is a different child")
    if reason is not None and not override_duplicate:
        raise InputError("--reason goes with --override-duplicate (opening a case anyway)")
    svc = wiring.service(db_url)
    ids = svc.open_case(
        form,
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
        process=process,
        calendar=calendar or wiring.config(db_url).calendars.default,
        link=link,
        override_reason=reason if override_duplicate else None,
    )
    linked = [i for i in ids if i in link]
    if as_json:
        print_json({"case_ids": ids, "linked": linked} if link else {"case_ids": ids})
    else:
        for case_id in ids:
            note = ": the notification is linked to this open case (no new case)"
            click.echo(case_id + (note if case_id in linked else ""))


@case.command("show")
@click.argument("case_id")
@_on_option
@click.option(
    "--all", "show_all", is_flag=True, help="Show reminders that were not needed in the history."
)
@wide_option
@_ANSWERS
def show_cmd(
    case_id: str,
    on: dt.date,
    show_all: bool,
    wide: bool,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Where a case stands: state, Day N, checklist, next deadlines and history.

    Example: cme case show CME-000001
    """
    from engine.cases.views import case_summary
    from engine.cli import wiring

    summary = case_summary(
        wiring.reader(db_url), case_id, on=on, actor=wiring.actor(actor, role), at=wiring.now()
    )
    if as_json:
        print_json(summary)
        return
    from engine.cli.case_views import print_summary

    print_summary(summary, show_all=show_all, wide=wide)


@case.command("list")
@click.option("--state", default=None, help="Only cases in this state.")
@click.option("--overdue", is_flag=True, help="Only escalated, overdue cases.")
@click.option("--all", "include_closed", is_flag=True, help="Include closed cases.")
@click.option("--mine", is_flag=True, help="Only the cases assigned to you (--actor).")
@wide_option
@_ANSWERS
def list_cmd(
    state: str | None,
    overdue: bool,
    include_closed: bool,
    mine: bool,
    wide: bool,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """List open cases.

    Example: cme case list --overdue
    """
    from engine.cases.views import list_cases
    from engine.cli import wiring

    who = wiring.actor(actor, role)
    rows = list_cases(
        wiring.reader(db_url),
        state=state,
        overdue=overdue,
        include_closed=include_closed,
        actor=who,
        at=wiring.now(),
        officer=who.name if mine else None,
    )
    if as_json:
        print_json(rows)
        return
    from engine.cli.case_views import print_case_list

    print_case_list(rows, wide=wide)


@case.command("fire")
@click.argument("case_id")
@click.argument("trigger")
@_on_option
@_text_and_reason(
    "note",
    "Why, in a sentence (`-`: read standard input).",
    "deliberate",
    "Take a step that keeps the stage again the same day on purpose (needs --reason).",
    "Why it is deliberate (`-`: standard input).",
)
@_WRITES
def fire_cmd(
    case_id: str,
    trigger: str,
    on: dt.date,
    note: str | None,
    note_file: str | None,
    deliberate: bool,
    reason: str | None,
    reason_file: str | None,
    expect_seq: int | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Take a step (roles, guards and required checks are enforced). A step that keeps the stage
    (e.g. a MASH referral) taken again the same day is refused unless --deliberate --reason.

    Example: cme case fire CME-000001 refer_to_mash --note-file referral.txt
    """
    from engine.cli import wiring

    who = wiring.actor(actor, role)
    svc = wiring.service(db_url)
    result = svc.fire(
        case_id,
        trigger,
        on=on,
        at=wiring.now(),
        actor=who,
        expected_seq=expect_seq,
        note=free_text(note, note_file, option="note"),
        deliberate=deliberate,
        reason=free_text(reason, reason_file, option="reason"),
    )
    print_written(result, as_json)


@case.command("check")
@click.argument("case_id")
@click.argument("check")
@_on_option
@_text_and_reason(
    "outcome",
    "What the check found (`-`: standard input).",
    "amend",
    "Record a check already recorded again, keeping the earlier outcome (needs --reason).",
    "Why it is amended (`-`: standard input).",
)
@_WRITES
def check_cmd(
    case_id: str,
    check: str,
    on: dt.date,
    outcome: str | None,
    outcome_file: str | None,
    amend: bool,
    reason: str | None,
    reason_file: str | None,
    expect_seq: int | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Record a check: when it was made and what it found (--outcome or --outcome-file). A check
    already recorded is amended with --amend --reason, keeping both outcomes.

    Example: cme case check CME-000001 mash_check --on 2024-10-28 --outcome "not known"
    """
    from engine.cli import wiring

    who = wiring.actor(actor, role)
    said = free_text(outcome, outcome_file, option="outcome")
    svc = wiring.service(db_url)
    result = svc.record_check(
        case_id,
        check,
        on=on,
        at=wiring.now(),
        actor=who,
        outcome=said or "",
        expected_seq=expect_seq,
        amend=amend,
        reason=free_text(reason, reason_file, option="reason"),
    )
    print_written(result, as_json)


@case.command("fact")
@click.argument("case_id")
@click.argument("name")
@click.argument("value")
@_on_option
@_WRITES
def fact_cmd(
    case_id: str,
    name: str,
    value: str,
    on: dt.date,
    expect_seq: int | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Record a fact about the case (typed as the process declares it).

    Example: cme case fact CME-000001 crime_suspected false --on 2024-10-23
    """
    from engine.cli import wiring

    svc = wiring.service(db_url)
    result = svc.set_fact(
        case_id,
        name,
        value,
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
        expected_seq=expect_seq,
    )
    print_written(result, as_json)


@case.command("note")
@click.argument("case_id")
@click.argument("text", required=False)
@text_file_option("note", "note")
@_on_option
@_WRITES
def note_cmd(
    case_id: str,
    text: str | None,
    note_file: str | None,
    on: dt.date,
    expect_seq: int | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Add a note to the case's history: TEXT, `-` for standard input, or --note-file PATH.

    Example: cme case note CME-000001 "Neighbour says family moved to Leeds" --on 2024-10-30
    """
    from engine.cli import wiring

    who = wiring.actor(actor, role)
    said = free_text(text, note_file, option="note")
    svc = wiring.service(db_url)
    result = svc.add_note(
        case_id,
        said or "",
        on=on,
        at=wiring.now(),
        actor=who,
        expected_seq=expect_seq,
    )
    print_written(result, as_json)


@click.command("due")
@_on_option
@click.option("--officer", default=None, help="Only this officer's work.")
@wide_option
@_ANSWERS
def due(
    on: dt.date,
    officer: str | None,
    wide: bool,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """What each officer must do on a date: deadlines reached and checks in their window.

    Example: cme due --on 2024-11-04
    """
    from engine.cases.views import due_on
    from engine.cli import wiring

    items = due_on(
        wiring.reader(db_url),
        on=on,
        actor=wiring.actor(actor, role),
        at=wiring.now(),
        officer=officer or None,
    )
    if as_json:
        print_json(items)
        return
    from engine.cli.case_views import print_due

    print_due(items, on=on, wide=wide)
