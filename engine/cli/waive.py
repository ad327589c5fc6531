"""`cme case waive`: a check waived, with a reason, by a role the process lets waive it."""

from __future__ import annotations

import datetime as dt

import click

from engine.cli.case import _expect_option, _on_option
from engine.cli.case_views import print_written
from engine.cli.common import (
    actor_options,
    db_option,
    free_text,
    handle_errors,
    json_option,
    text_file_option,
)


@click.command("waive")
@click.argument("case_id")
@click.argument("check")
@click.option(
    "--reason", default=None, help="Why the check is waived (kept with the case; `-`: stdin)."
)
@text_file_option("reason", "reason")
@_on_option
@_expect_option
@db_option
@actor_options
@json_option
@handle_errors
def waive_cmd(
    case_id: str,
    check: str,
    reason: str | None,
    reason_file: str | None,
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
    from engine.errors import InputError

    said = free_text(reason, reason_file, option="reason")
    if not (said and said.strip()):
        raise InputError("say why the check is waived: --reason TEXT or --reason-file PATH")
    svc = wiring.service(db_url)
    result = svc.waive_check(
        case_id,
        check,
        reason=said,
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
        expected_seq=expect_seq,
    )
    print_written(result, as_json)
