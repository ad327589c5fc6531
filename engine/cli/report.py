"""`cme report …`: the CME register, live RAG, weekly MASH file, roll returns and escalations.

Each report is dated (`--on`, default today) and the same for a past date whenever it is run; it
prints as a table or writes CSV, JSON or XLSX (`--format`, `--output`). CSV and XLSX cells that a
spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from engine.cli.common import DATE, actor_options, db_option, handle_errors

if TYPE_CHECKING:
    from engine.reports.tables import Report

FORMATS = ("table", "csv", "json", "xlsx")
F = TypeVar("F", bound=Callable[..., Any])


def _common(default_format: str = "table") -> Callable[[F], F]:
    def wrap(func: F) -> F:
        func = handle_errors(func)
        func = actor_options(func)
        func = db_option(func)
        func = click.option(
            "--output",
            "-o",
            type=click.Path(dir_okay=False),
            default=None,
            help="Write to this file (needed for xlsx); default: terminal.",
        )(func)
        func = click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default=default_format,
            show_default=True,
            help="How to write the report.",
        )(func)
        return click.option(
            "--on",
            "on",
            type=DATE,
            default="today",
            show_default=True,
            help="The date the report is for (YYYY-MM-DD).",
        )(func)

    return wrap


def _since_option(func: Any) -> Any:
    return click.option(
        "--since",
        type=DATE,
        default=None,
        help="Start of the period (default: 6 days before --on, a week).",
    )(func)


@click.group()
def report() -> None:
    """The officer's reports: register, RAG, MASH, returns and escalations.

    Example: cme report register --on 2024-11-04 --format csv -o register.csv
    """


@report.command("register")
@_common()
def register_cmd(
    on: dt.date, fmt: str, output: str | None, db_url: str | None, actor: str | None, role: str
) -> None:
    """The CME register: every open case with child, stage, school day and what is outstanding.

    Example: cme report register --on 2024-11-04
    """
    from engine.cli import wiring
    from engine.reports.register import register_report

    _emit(
        register_report(
            wiring.service(db_url), on=on, actor=wiring.actor(actor, role), at=wiring.now()
        ),
        fmt,
        output,
    )


@report.command("rag")
@click.option(
    "--rules",
    type=click.Path(dir_okay=False),
    default=None,
    help="RAG rules file (default: the shipped processes/rag.yaml).",
)
@_common()
def rag_cmd(
    rules: str | None,
    on: dt.date,
    fmt: str,
    output: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
) -> None:
    """The live RAG report: each open case's colour and why, from the RAG rules.

    Example: cme report rag --rules my-rag.yaml --on 2024-11-04
    """
    from engine.cli import wiring
    from engine.reports.rag import load_rag_for
    from engine.reports.rag_report import rag_report

    loaded = load_rag_for(wiring.registry(), rules)
    _emit(
        rag_report(
            wiring.service(db_url),
            on=on,
            rules=loaded,
            actor=wiring.actor(actor, role),
            at=wiring.now(),
        ),
        fmt,
        output,
    )


@report.command("mash")
@_common(default_format="csv")
def mash_cmd(
    on: dt.date, fmt: str, output: str | None, db_url: str | None, actor: str | None, role: str
) -> None:
    """The weekly CSV for MASH to cross-check: only the fields MASH needs to match a child.

    Example: cme report mash --on 2024-11-08 -o mash-2024-11-08.csv
    """
    from engine.cli import wiring
    from engine.reports.mash import mash_report

    _emit(
        mash_report(
            wiring.service(db_url), on=on, actor=wiring.actor(actor, role), at=wiring.now()
        ),
        fmt,
        output,
    )


@report.command("returns")
@_since_option
@_common()
def returns_cmd(
    since: dt.date | None,
    on: dt.date,
    fmt: str,
    output: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
) -> None:
    """Statutory on/off roll returns received in the period and overdue on --on (Appendix 2).

    Example: cme report returns --since 2024-11-04 --on 2024-11-08
    """
    from engine.cli import wiring
    from engine.reports.returns import returns_report

    _emit(
        returns_report(
            wiring.service(db_url),
            on=on,
            since=_since(since, on),
            actor=wiring.actor(actor, role),
            at=wiring.now(),
        ),
        fmt,
        output,
    )


@report.command("escalations")
@_since_option
@_common()
def escalations_cmd(
    since: dt.date | None,
    on: dt.date,
    fmt: str,
    output: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
) -> None:
    """Escalations raised in the period, and whether each is still not acted on.

    Example: cme report escalations --since 2024-11-04 --on 2024-11-08 --format json
    """
    from engine.cli import wiring
    from engine.reports.escalations import escalations_report

    _emit(
        escalations_report(
            wiring.service(db_url),
            on=on,
            since=_since(since, on),
            actor=wiring.actor(actor, role),
            at=wiring.now(),
        ),
        fmt,
        output,
    )


def _since(since: dt.date | None, on: dt.date) -> dt.date:
    from engine.errors import InputError

    start = since or on - dt.timedelta(days=6)
    if start > on:
        raise InputError(f"--since {start.isoformat()} is after --on {on.isoformat()}")
    return start


def _emit(rep: Report, fmt: str, output: str | None) -> None:
    """Write the report in `fmt` to `output` (a file) or the terminal."""
    import json

    from engine.cli.common import default_json
    from engine.errors import InputError
    from engine.reports.tables import csv_text, xlsx_bytes

    if fmt == "table":
        if output:
            raise InputError(
                "a table is for the terminal; use --format csv, json or xlsx with --output"
            )
        _table(rep)
        return
    if fmt == "xlsx":
        if not output:
            raise InputError("xlsx is a binary file: give --output FILE.xlsx")
        _write(Path(output), xlsx_bytes(rep))
        click.echo(f"wrote {len(rep.rows)} rows to {output}", err=True)
        return
    text = (
        csv_text(rep)
        if fmt == "csv"
        else json.dumps(
            rep.as_json(), indent=2, sort_keys=True, default=default_json, ensure_ascii=False
        )
        + "\n"
    )
    if output:
        _write(Path(output), text.encode("utf-8"))
        click.echo(f"wrote {len(rep.rows)} rows to {output}", err=True)
    else:
        from engine.cli.common import echo_document

        echo_document(text)


def _write(path: Path, data: bytes) -> None:
    from engine.cli.output import write_output

    # Reports list children (names, dates of birth, schools): readable by their owner only.
    write_output(path, data, personal=True)


UNBROKEN = frozenset(
    {"case_id", "state_id", "on", "date_of_birth", "change_date", "received_on", "overdue_since"}
)
"""Report columns never wrapped: ids an officer types back (case, stage) and dates."""


def _table(rep: Report) -> None:
    from rich.text import Text

    from engine.cli.common import safe_text
    from engine.cli.tables import console, id_column, show, table, text_column
    from engine.reports.tables import safe_cell

    colours = {"red": "bold red", "amber": "yellow", "green": "green"}
    t = table(f"{rep.title} — {rep.on.isoformat()}")
    # The terminal shows the columns people scan; files (--format) carry every column.
    columns = [c for c in rep.columns if c.table]
    for col in columns:
        if col.key in UNBROKEN:
            id_column(t, col.heading)
        else:
            text_column(t, col.heading)
    for row in rep.rows:
        cells = []
        for col in columns:
            value = row.get(col.key)
            text = "\n".join(value) if isinstance(value, list) else str(safe_cell(value))
            style = colours.get(str(value)) if col.key == "colour" else None
            # Text, not markup: a child's name may hold brackets.
            cells.append(Text(safe_text(text), style=style or ""))
        t.add_row(*cells)
    con = console()
    show(con, t)
    for note in rep.notes:
        con.print(note, markup=False)
