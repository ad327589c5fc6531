"""`cme case find` and `cme case assign`: finding any case, and giving a case to another officer.

Registered on the `cme case` group (engine/cli/case.py) and imported only when named.
"""

from __future__ import annotations

import datetime as dt

import click

from engine.cli.common import (
    DATE,
    actor_options,
    db_option,
    handle_errors,
    json_option,
    print_json,
    safe_text,
)


@click.command("find")
@click.argument("text")
@click.option("--officer", default=None, help="Only cases assigned to this officer.")
@db_option
@actor_options
@json_option
@handle_errors
def find_cmd(
    text: str,
    officer: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Find cases, open or closed, by any part of the child's name (case and accents do not
    matter; each part from its start, 3 letters or more), UPN, date of birth (2015-03-14 or
    14/03/2015), school or postcode.

    Example: cme case find "ana sil"
    """
    from engine.cases.finding import find_cases
    from engine.cli import wiring

    found = find_cases(
        wiring.reader(db_url),
        text,
        actor=wiring.actor(actor, role),
        at=wiring.now(),
        officer=officer,
    )
    if as_json:
        print_json(found)
        return
    cases = found["cases"]
    if not cases:
        click.echo(f"no case found by {found['query']}")
        return
    for c in cases:
        state = f"{c['state']} (closed)" if c["closed"] else c["state"]
        click.echo(
            f"{c['id']}  {safe_text(str(c['child'] or ''))}  born {c['date_of_birth'] or '?'}  "
            f"{state}  officer {c['assigned_officer'] or '-'}"
        )
    if found["more"]:
        click.echo(f"more than {len(cases)} cases match; give more of the name to narrow it")


@click.command("assign")
@click.argument("case_id")
@click.argument("officer")
@click.option(
    "--on", "on", type=DATE, default="today", show_default=True, help="The date it takes effect."
)
@db_option
@actor_options
@json_option
@handle_errors
def assign_cmd(
    case_id: str,
    officer: str,
    on: dt.date,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Give an open case to another officer (recorded on the case).

    Example: cme case assign CME-000012 priya
    """
    from engine.cli import wiring

    result = wiring.service(db_url).assign(
        case_id, officer, on=on, at=wiring.now(), actor=wiring.actor(actor, role)
    )
    case = result.case
    if as_json:
        print_json({"case_id": case.id, "assigned_officer": case.assigned_officer, "seq": case.seq})
    else:
        click.echo(f"{case.id}: assigned to {case.assigned_officer} (event {case.seq})")
