"""`cme demo`: a school term of realistic, invented CME notifications run through the processes.

The command and what it prints: progress through the term, how every case ended, the register
on the last day of term and one case's full history. The simulation itself (notifications,
the morning sweep, simulated officers) is `engine.demo.simulation`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli.common import handle_errors

if TYPE_CHECKING:
    from engine.demo.simulation import Simulation

DEFAULT_DB = Path(".cme") / "demo.db"


@click.command("demo")
@click.option("--fresh", is_flag=True, help="Delete the demo database first and start again.")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=str(DEFAULT_DB),
    show_default=True,
    help="SQLite file for the demo (created).",
)
@click.option(
    "--seed",
    type=int,
    default=2024,
    show_default=True,
    help="Random seed: the same seed gives the same term.",
)
@click.option(
    "--case",
    "show_case",
    default=None,
    help="Case whose history is printed at the end (default: one closed on Day 26).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Then make web accounts for the demo's people (password printed) and serve the "
    "demo's database with `cme serve` until Ctrl+C.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="With --serve."
)
@handle_errors
def demo(
    fresh: bool,
    db_path: str,
    seed: int,
    show_case: str | None,
    serve: bool,
    host: str,
    port: int,
) -> None:
    """Run a term of realistic, invented CME cases through the shipped processes.

    Opens about forty notifications across the autumn term 2024, moves time forward school day
    by school day with the sweep while simulated officers act, then prints the register and one
    case's full history. Takes a few seconds. With --serve, the web service then serves the
    demo's database on today's date.

    Example: cme demo --fresh --serve
    """
    from rich.console import Console

    from engine.cli import wiring
    from engine.demo.simulation import TERM_LAST, Simulation
    from engine.errors import InputError

    path = Path(db_path)
    if fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    elif path.exists():
        raise InputError(
            f"{path} already exists (a demo ran before); run `cme demo --fresh` to start again, "
            f"or give another file with --db"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    console = Console(highlight=False)
    sim = Simulation(wiring.service(url), seed=seed)
    _run(sim, console)
    _print_register(sim, console)
    _print_history(sim, console, show_case)
    console.print(
        f"\nLook further: cme case show CASE --on {TERM_LAST.isoformat()} --db {url}   ·   "
        f"cme due --on {TERM_LAST.isoformat()} --db {url}",
        soft_wrap=True,
    )
    if serve:
        from engine.cli.demo_serve import serve_demo

        sim.service.store.dispose()
        serve_demo(url, host=host, port=port, console=console)


def _run(sim: Simulation, console: Any) -> None:
    """Run the term with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    school_days = sim.school_days()
    console.print(
        f"A term of CME casework: {len(sim.arrivals)} notifications, "
        f"{school_days[0]:%a %d %b %Y} to {school_days[-1]:%a %d %b %Y} "
        f"({len(school_days)} school days), calendar {sim.calendar.name} "
        f"version {sim.calendar.version}, process {sim.definition.id} "
        f"version {sim.definition.version}",
        soft_wrap=True,
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("term", total=len(school_days), status="")

        def advance(day: dt.date) -> None:
            tally = sim.tally
            progress.update(
                task,
                advance=1,
                description=f"{day:%a %d %b}",
                status=(
                    f"{tally.opened} cases, {tally.steps} steps, "
                    f"{tally.fired} by timer, {tally.escalated} escalated"
                ),
            )

        sim.run(advance)


def _print_register(sim: Simulation, console: Any) -> None:
    """How every case ended, and the CME register on the last day of term."""
    from engine.cases.views import list_cases
    from engine.cli.report import _table
    from engine.demo.simulation import TERM_LAST
    from engine.reports.register import register_report

    rows = list_cases(sim.service, include_closed=True)
    ended: dict[str, int] = {}
    for row in rows:
        ended[row["state"]] = ended.get(row["state"], 0) + 1
    tally = sim.tally
    console.print(
        f"\nEnd of term {TERM_LAST:%d %b %Y}: {tally.opened} cases, "
        f"{tally.steps} officer steps, {tally.fired} steps taken by timers, "
        f"{tally.escalated} escalations, {tally.lapsed} reminders not needed",
        soft_wrap=True,
    )
    console.print(
        "Where every case stands: "
        + ", ".join(f"{state} {n}" for state, n in sorted(ended.items(), key=lambda x: -x[1])),
        soft_wrap=True,
    )
    overdue = sorted(row["id"] for row in rows if row["overdue"])
    console.print(f"Escalated and not yet acted on: {', '.join(overdue) or 'none'}", soft_wrap=True)
    console.print("\nThe register, as `cme report register` prints it:", soft_wrap=True)
    _table(register_report(sim.service, on=TERM_LAST, actor=sim.officers[0], at=_evening()))


def _print_history(sim: Simulation, console: Any, case_id: str | None) -> None:
    """One case's full history, as `cme case show` prints it."""
    from engine.cases.views import case_summary
    from engine.cli.case_views import print_summary
    from engine.demo.simulation import TERM_LAST

    case_id = case_id or sim.history_case()
    console.print(f"\nThe history of {case_id}, as `cme case show` prints it:")
    print_summary(
        case_summary(sim.service, case_id, on=TERM_LAST, actor=sim.officers[0], at=_evening())
    )


def _evening() -> dt.datetime:
    from engine.demo.simulation import TERM_LAST

    return dt.datetime.combine(TERM_LAST, dt.time(17, 0), tzinfo=dt.UTC)
