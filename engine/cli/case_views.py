"""How `cme case show`, `cme case list` and `cme due` print for people, at 80–100 columns (and
what a command writing an event prints, `print_written`).

Ids an officer types back (case, check and step ids) sit in columns that are never wrapped or
cut; wordings and reasons wrap beneath them. `cme due` groups each officer's work by case and
names every check by id and wording. A case's history is said in the policy's words, with the
reminders that were not needed folded away unless `--all` is given. Every stored text is printed
through `safe_text` (`engine.cli.tables.cell`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Any

import click

from engine.cli.common import print_json
from engine.cli.tables import cell, console, id_column, joined, lines, show, table, text_column

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


def print_written(result: Any, as_json: bool) -> None:
    """What a command that wrote an event prints: the case's stage and the event's number (or,
    with --json, the event's kind, rule and hash).
    """
    case = result.case
    if as_json:
        print_json(
            {
                "case_id": case.id,
                "state": case.state,
                "seq": case.seq,
                "event": {
                    "seq": result.event.seq,
                    "kind": str(result.event.kind),
                    "rule": result.event.rule,
                    "hash": result.event.hash,
                },
            }
        )
    else:
        click.echo(f"{case.id}: {case.state} (event {case.seq})")


def print_summary(s: Mapping[str, Any], *, show_all: bool = False, wide: bool = False) -> None:
    """`cme case show`: the case, its checklist, outstanding checks, deadlines, steps, history."""
    con = console(wide=wide)
    _heading(con, s)
    _checklist(con, s)
    _counted(con, s)
    _outstanding(con, s)
    _deadlines(con, s)
    _steps(con, s)
    _history(con, s["history"], show_all=show_all)


def _heading(con: Console, s: Mapping[str, Any]) -> None:
    child = s["child"]
    if s.get("personal_data", "shown") == "shown":
        about = f"born {child.get('date_of_birth')}, UPN {child.get('upn') or '—'}"
    else:  # withheld from this reader, or purged under the retention rules
        about = f"personal data {s['personal_data']}"
    con.print(lines((f"{s['id']}  {child.get('full_name') or ''}".rstrip(), "bold"), about))
    con.print(cell(f"{s['process']['title']} (version {s['process']['version']})"))
    con.print(cell(f"Stage {s['state']}: {s['state_title']}"))
    day = f"Day {s['day']}" if s["day"] is not None else "day unknown (outside calendar)"
    line = cell(f"Opened {s['opened_on']} · {day} on {s['on']} · officer {s['assigned_officer']}")
    if s["overdue"]:
        line.append(" · OVERDUE", style="bold red")
    con.print(line)


def _checklist(con: Console, s: Mapping[str, Any]) -> None:
    if not s["checklist"]:
        return
    t = table("Checklist")
    id_column(t, "check")
    text_column(t, "what", ratio=3)
    id_column(t, "window")
    text_column(t, "done", ratio=2)
    for c in s["checklist"]:
        if c["on"]:
            # An amended check shows what it found before too (oldest first, then now).
            earlier = (s.get("checks_recorded") or {}).get(c["id"], {}).get("earlier") or []
            done = lines(
                *(f"{e['on']} ({e.get('by') or '?'}): {e.get('outcome') or ''}" for e in earlier),
                f"{c['on']}: {c['outcome']}" if earlier else str(c["on"]),
                None if earlier else c["outcome"],
            )
        else:
            done = cell("outstanding" if c["required"] else "optional")
            if c["required"]:
                done.stylize("red")
        t.add_row(cell(c["id"]), cell(c["wording"]), cell(c["days"] or ""), done)
    con.print()
    show(con, t)


def _counted(con: Console, s: Mapping[str, Any]) -> None:
    """The facts the engine counts from the case's dates (derived facts): value and how."""
    counted = s.get("counted") or {}
    if not counted:
        return
    t = table("Counted by the engine")
    id_column(t, "fact")
    text_column(t, "value", ratio=1)
    text_column(t, "how it is counted", ratio=3)
    for name, c in counted.items():
        value = c.get("why") if c.get("value") is None else str(c["value"])
        t.add_row(cell(name), cell(value or ""), cell(c.get("how") or ""))
    con.print()
    show(con, t)


def _outstanding(con: Console, s: Mapping[str, Any]) -> None:
    # The checklist shows the current stage's; these are the ones carried from earlier stages.
    current = {c["id"] for c in s["checklist"]}
    rows = [c for c in s.get("outstanding_checks") or [] if c.get("id") not in current]
    if not rows:
        return
    t = table("Still outstanding from earlier stages")
    id_column(t, "check")
    text_column(t, "what", ratio=3)
    id_column(t, "due")
    text_column(t, "escalated", ratio=1)
    for c in rows:
        t.add_row(
            cell(c.get("id")),
            cell(c.get("wording")),
            cell(c.get("due") or ""),
            cell("yes" if c.get("escalated") else "", "bold red"),
        )
    con.print()
    show(con, t)


def _deadlines(con: Console, s: Mapping[str, Any]) -> None:
    pending = [tm for tm in s["timers"] if tm["status"] == "pending"]
    if not pending:
        return
    t = table("Next deadlines")
    id_column(t, "due")
    text_column(t, "what", ratio=2)
    text_column(t, "how it was computed", ratio=3)
    checks = {c["id"] for c in [*s["checklist"], *(s.get("outstanding_checks") or [])]}
    for tm in pending:
        t.add_row(cell(tm["due_date"]), _deadline_what(tm, checks), cell(tm["explanation"]))
    con.print()
    show(con, t)


def _deadline_what(timer: Mapping[str, Any], checks: set[str]) -> Text:
    """What a deadline does: a check's escalation names its check (its timer is
    `<check>_outstanding`); any other names its step, with the timer's id beneath.
    """
    timer_id = str(timer.get("timer") or "")
    check = timer_id.removesuffix("_outstanding")
    if check != timer_id and check in checks:
        return lines(f"{timer['action']} if {check} is still not done")
    return lines(timer["action"], (f"({timer_id})" if timer_id else "", "dim"))


def _steps(con: Console, s: Mapping[str, Any]) -> None:
    if not s["next_steps"]:
        return
    t = table("Steps from here")
    id_column(t, "step")
    text_column(t, "what", ratio=3)
    text_column(t, "who", ratio=1)
    for n in s["next_steps"]:
        t.add_row(cell(n["trigger"]), cell(n.get("title") or ""), cell(joined(n["roles"], ", ")))
    con.print()
    show(con, t)


def _history(con: Console, history: Sequence[Mapping[str, Any]], *, show_all: bool) -> None:
    shown = [e for e in history if show_all or not e.get("not_needed")]
    hidden = len(history) - len(shown)
    t = table("History")
    id_column(t, "#")
    id_column(t, "date")
    text_column(t, "by", ratio=1)
    text_column(t, "what happened", ratio=4)
    for e in shown:
        by = e["actor"] if e["actor"] == e["role"] else f"{e['actor']} ({e['role']})"
        t.add_row(
            cell(e["seq"]),
            cell(e["effective_date"]),
            cell(by),
            lines(
                e["summary"],
                f"note: {e['note']}" if e.get("note") else None,
                f"reason: {e['reason']}" if e.get("reason") else None,
                (_policy_reference(e["rule"]), "dim"),
            ),
        )
    con.print()
    show(con, t)
    if hidden:
        con.print(
            cell(
                f"{hidden} reminder{'s' if hidden != 1 else ''} not needed, hidden; "
                "--all shows them",
                "dim",
            )
        )


def _policy_reference(rule: str | None) -> str:
    """Where the policy says so: the rule without the step or timer id it begins with."""
    if not rule:
        return ""
    return rule.split(": ", 1)[1] if ": " in rule else ""


def print_case_list(rows: Sequence[Mapping[str, Any]], *, wide: bool = False) -> None:
    """`cme case list`: one row per case, its id never cut."""
    t = table()
    id_column(t, "case")
    text_column(t, "child", ratio=2)
    id_column(t, "stage (process)")
    id_column(t, "opened")
    text_column(t, "officer", ratio=1)
    id_column(t, "overdue")
    for r in rows:
        t.add_row(
            cell(r["id"]),
            cell(r["child"] or ""),
            lines(r["state"], (f"({r['process']})", "dim")),
            cell(r["opened_on"]),
            cell(r["assigned_officer"] or ""),
            cell("yes" if r["overdue"] else "", "bold red"),
        )
    show(console(wide=wide), t)


# -- cme due -----------------------------------------------------------------------------


def due_line(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """(check id, what, when) of one item of `due_on`: an outstanding check names its check by
    id and wording; a step or escalation due names what it does; `when` says whether it is in
    its window, overdue or escalated, and its due date.
    """
    check: Any = item.get("check") or item.get("check_id")
    wording = item.get("wording")
    if isinstance(check, Mapping):  # a check given whole: {id, wording, due, escalated}
        item = {**item, **check}
        check, wording = check.get("id"), check.get("wording")
    what = str(item.get("what") or "")
    if not check and item.get("kind") in ("check", "overdue check") and ": " in what:
        check, wording = what.split(": ", 1)
    due = _date(item.get("due") or item.get("due_date"))
    escalated = bool(item.get("escalated")) or item.get("kind") == "escalated"
    if escalated:
        when = f"escalated\nwas due {due}" if due else "escalated"
    elif item.get("kind") == "overdue check" or item.get("overdue"):
        when = f"overdue\nwas due {due}" if due else "overdue"
    elif item.get("kind") == "timer":
        when = f"step due {due}"
    elif "escalated" not in item and item.get("kind") == "check":
        when = "in its window"  # the first edition's item: its due date is the day asked about
    else:
        when = f"due {due}" if due else "in its window"
    return str(check or ""), str(wording or what), when


def _date(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def print_due(items: Sequence[Mapping[str, Any]], *, on: dt.date, wide: bool = False) -> None:
    """`cme due`: each officer's work, grouped by case (the case id on a line of its own, its
    items beneath), each check named by id and wording.
    """
    con = console(wide=wide)
    if not items:
        con.print(cell(f"Nothing due on {on.isoformat()}."))
        return

    def officer_of(i: Mapping[str, Any]) -> str:
        return str(i.get("officer") or "(no officer)")

    ordered = sorted(items, key=lambda i: (officer_of(i), str(i["case_id"])))
    for officer, theirs_ in groupby(ordered, key=officer_of):
        theirs = list(theirs_)
        cases = len({i["case_id"] for i in theirs})
        t = table(
            f"Due on {on.isoformat()} — {officer}: {_count(len(theirs), 'item')} on "
            f"{_count(cases, 'case')}"
        )
        id_column(t, "case / check")
        text_column(t, "what", ratio=3)
        id_column(t, "when")  # short lines: "escalated" over "was due 2024-11-15"
        for case_id, case_items_ in groupby(theirs, key=lambda i: str(i["case_id"])):
            case_items = list(case_items_)
            t.add_row(cell(case_id, "bold"), cell(_count(len(case_items), "item")), cell(""))
            for item in case_items:
                check, what, when = due_line(item)
                t.add_row(
                    cell(f"  {check}" if check else ""),
                    lines(what, (str(item.get("why") or "").removesuffix(" (escalated)"), "dim")),
                    cell(when, "bold red" if when.startswith(("escalated", "overdue")) else ""),
                )
            t.add_section()
        show(con, t)
        con.print()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
