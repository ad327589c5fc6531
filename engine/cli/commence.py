"""`cme process list|commence`: where each version stands, and giving a pending version its date.

Part of the `cme process` group (listed in `engine.cli.process`). Thin over
`engine.cases.version_status` and `engine.cases.commencement`; the registry is the shipped
processes and any --file versions, the database adds every version published from anywhere.
"""

from __future__ import annotations

import datetime as dt

import click

from engine.cli.common import DATE, db_option, handle_errors, json_option, print_json
from engine.cli.versions import _file_option, _owner_options, _version_service


@click.command("list")
@click.argument("name", required=False)
@click.option(
    "--on",
    "on",
    type=DATE,
    default="today",
    show_default=True,
    help="The date to say what is in force on (YYYY-MM-DD).",
)
@_file_option
@db_option
@json_option
@handle_errors
def list_(
    name: str | None, on: dt.date, files: tuple[str, ...], db_url: str | None, as_json: bool
) -> None:
    """Every version of each process, shipped or stored: in force, pending, superseded or future.

    A pending version (no effective_from yet) applies to no case until a policy owner gives its
    date with `cme process commence`.

    \b
    Example:
      cme process list untraceable_cme --on 2024-11-04
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.version_status import version_statuses

    statuses = version_statuses(_version_service(db_url, files), on, name)
    if as_json:
        print_json({"on": on, "versions": [s.as_dict() for s in statuses]})
        return
    for s in statuses:
        click.echo(f"{s.process_id} version {s.version}: {s.status}, {_dates(s)}")


def _dates(s: object) -> str:
    from engine.cases.version_status import PENDING, VersionStatus

    assert isinstance(s, VersionStatus)
    if s.status == PENDING:
        return f"no date yet ({s.commencement}); give it with `cme process commence`"
    text = f"from {s.effective_from}"
    if s.applies_from != s.effective_from:
        text += f" (cases opened from {s.applies_from})"
    if s.commenced is not None:
        text += (
            f"; date given by {s.commenced.actor} ({s.commenced.role}) on "
            f"{s.commenced.recorded_at:%Y-%m-%d}"
        )
    where = [w for w, held in (("shipped", s.shipped), ("stored", s.stored)) if held]
    return text + f"; {' and '.join(where)}"


@click.command()
@click.argument("name")
@click.argument("version", type=int)
@click.option(
    "--on",
    "on",
    type=DATE,
    required=True,
    help="The date the version comes into force (YYYY-MM-DD).",
)
@_owner_options("Your role (or CME_ROLE); giving a date needs load_process.")
@json_option
@handle_errors
def commence(
    name: str,
    version: int,
    on: dt.date,
    files: tuple[str, ...],
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Give a pending version (one with no effective_from) the date it comes into force.

    Recorded with who gave it and when; from that date new cases open under it (and, if it
    says applies.migrate_open_cases, the daily run migrates open cases). The version is
    published first if the database does not hold it yet. A date once given stands.

    \b
    Example:
      cme process commence removal_grounds 5 --on 2025-09-01 --file removal_grounds_2025.yaml
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.commencement import commence_version
    from engine.cli import wiring

    svc = _version_service(db_url, files)
    done = commence_version(
        svc, name, version, on=on, at=wiring.now(), actor=wiring.actor(actor, role)
    )
    if as_json:
        print_json(done.__dict__)
        return
    click.echo(
        f"{name} version {version} is in force from {on.isoformat()} "
        f"(date given by {done.actor}, {done.role}); new cases opened from then take it"
    )


__all__ = ["commence", "list_"]
