"""`cme case waive`: a check waived, with a reason, by a role the process lets waive it."""

from __future__ import annotations

import datetime as dt

import click

from engine.cli.case import _expect_option, _on_option, _report
from engine.cli.common import actor_options, db_option, handle_errors, json_option


@click.command("waive")
@click.argument("case_id")
@click.argument("check")
@click.option("--reason", required=True, help="Why the check is waived (kept with the case).")
@_on_option
@_expect_option
@db_option
@actor_options
@json_option
@handle_errors
def waive_cmd(
    case_id: str,
    check: str,
    reason: str,
    on: dt.date,
    expect_seq: int | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Waive a check the case still owes, saying why: it then counts as done.

    Only the roles the process names in the check's `waived_by` may (in untraceable_cme, the
    line manager).

    Example: cme case waive CME-000001 second_home_visit --reason "no such address"
    --role line_manager
    """
    from engine.cli import wiring

    svc = wiring.service(db_url)
    result = svc.waive_check(
        case_id,
        check,
        reason=reason,
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
        expected_seq=expect_seq,
    )
    _report(result, as_json)
