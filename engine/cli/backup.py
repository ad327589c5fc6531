"""`cme admin backup` and `cme admin backup-check`: take a backup of the SQLite store; check one.

Thin over `engine.deployment.backup`. Registered as sub-commands of `cme admin`
(engine/cli/admin.py), imported only when named.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.common import db_option, handle_errors, json_option, print_json

if TYPE_CHECKING:
    from engine.deployment.backup import BackupReport


@click.command("backup")
@click.argument("dest", type=click.Path())
@db_option
@json_option
@handle_errors
def backup(dest: str, db_url: str | None, as_json: bool) -> None:
    """Copy the SQLite database, with what its write-ahead log holds, to a new file DEST.

    DEST may be a folder: the backup is then named cme-<UTC time>.db inside it. Uses SQLite's
    online backup API, so it is safe while the scheduler and officers work; never overwrites a
    file; the backup is readable by its owner only (mode 0600). Copying cme.db by hand is no
    backup: recent commits sit in cme.db-wal. On PostgreSQL it says how to use pg_dump.

    Example: cme admin backup /var/backups/cme/
    """
    from engine.cli import wiring
    from engine.deployment.backup import take_backup

    result = take_backup(_database(db_url), dest, at=wiring.now())
    if as_json:
        print_json(result.as_dict())
        return
    click.echo(
        f"backed up {result.cases} cases, {result.events} events to {result.path} "
        f"({result.size:,} bytes, sha256 {result.sha256})"
    )
    click.echo(f"check it with: cme admin backup-check {result.path}")


@click.command("backup-check")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes verifying ranges of cases in parallel.",
)
@json_option
@handle_errors
def backup_check(file: Path, jobs: int, as_json: bool) -> None:
    """Verify every case history in a backup and say what it holds, changing nothing.

    Works on a private copy: the backup is not upgraded or written. Reports cases by process and
    stage, events and the last one's recorded time, the schema step, process versions, calendars
    and the master key ids its case keys need. Exit 0 if everything verifies, 4 if a history does
    not, 1 if FILE is not a readable cme database.

    Example: cme admin backup-check /var/backups/cme/cme-20261203T020000Z.db
    """
    from engine.deployment.backup import check_backup, require_verified

    report = check_backup(file, jobs=jobs)
    if as_json:
        print_json(report.as_dict())
    else:
        _print(report)
    if not report.ok:
        require_verified(report)


def _database(db_url: str | None) -> str:
    """The database to back up: --db, else CME_DATABASE_URL, else the configuration's (`cme
    --config`, CME_CONFIG, …), else the development one; never created here.
    """
    from engine.cli import wiring
    from engine.deployment.config import DEFAULT_SQLITE

    return wiring.database(db_url) or f"sqlite:///{DEFAULT_SQLITE}"


def _print(report: BackupReport) -> None:
    echo = click.echo
    echo(f"backup {report.path}")
    echo(f"  sha256 {report.sha256}")
    echo(f"  schema step {report.schema_steps} (this cme knows {report.schema_steps_known})")
    closed = sum(r["cases"] for r in report.cases_by_state if r["closed"])
    echo(f"  cases {report.cases} ({report.cases - closed} open, {closed} closed)")
    for row in report.cases_by_state:
        echo(f"    {row['process']:<28} {row['state']:<32} {row['cases']:>7}")
    last = report.last_recorded_at or "none"
    echo(
        f"  events {report.events}; the last recorded at {last}"
        + (f" (effective {report.last_effective_date})" if report.last_effective_date else "")
    )
    echo(f"  ledger of case openings {report.ledger_entries} entries")
    echo(f"  timers pending {report.timers_pending}")
    echo(
        "  process versions "
        + (", ".join(f"{p['process']} v{p['version']}" for p in report.process_versions) or "none")
    )
    echo(
        "  calendars "
        + (", ".join(f"{c['name']} v{c['version']}" for c in report.calendars) or "none")
    )
    needed = ", ".join(
        f"{k['master_key_id']} ({k['case_keys']} case keys)" for k in report.master_keys
    )
    echo(
        f"  master keys needed {needed or 'none'}"
        + (
            f"; {report.purged_case_keys} case keys destroyed by purges"
            if report.purged_case_keys
            else ""
        )
    )
    for note in report.notes:
        echo(f"  note: {note}")
    if report.ok:
        echo(f"verified: every history of the {report.cases} cases is intact")
    else:
        echo(f"NOT VERIFIED: {report.problem_count} problem(s)")
        for problem in report.problems[:20]:
            echo(f"  {problem}")
