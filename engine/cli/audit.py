"""`cme audit …`: what an auditor runs: replay, verify, checkpoint, export, and the access log.

Thin over `engine.audit`; reads the clock (the recorded time of each read) and the signing key
file here, at the edge. Integrity failures exit with code 4, so scripts can tell them apart.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click

from engine.cli import LazyGroup
from engine.cli.common import (
    DATE,
    actor_options,
    db_option,
    echo_document,
    handle_errors,
    json_option,
    print_json,
    safe_text,
)

KEY_ENV = "CME_AUDIT_KEY"
DEFAULT_JOBS = min(4, os.cpu_count() or 1)
INTEGRITY_EXIT = 4


# The trust commands (engine/cli/trust.py) are imported only when named.
@click.group(
    cls=LazyGroup,
    lazy={
        "verify": (
            "engine.cli.trust",
            "verify",
            "Check every chain, and replay against each case row.",
        ),
        "clear": ("engine.cli.trust", "clear", "Clear the integrity mark verify put on a case."),
        "checkpoint": (
            "engine.cli.trust",
            "checkpoint",
            "Verify, then sign a checkpoint of every chain head.",
        ),
        "keygen": ("engine.cli.trust", "keygen", "Create an Ed25519 signing key for checkpoints."),
    },
)
def audit() -> None:
    """Replay case histories, verify nothing was altered, sign checkpoints, export bundles.

    \b
    Example:
      cme audit verify --all --role auditor
    """  # noqa: D301 (click's \b keeps the example unwrapped)


@audit.command()
@click.argument("case_id")
@click.option(
    "--as-of",
    "as_of",
    type=DATE,
    default=None,
    help="Show the case as it stood at the end of this day (YYYY-MM-DD).",
)
@db_option
@actor_options
@json_option
@handle_errors
def replay(
    case_id: str,
    as_of: dt.date | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Rebuild a case from its events and print its timeline; exit 4 if it does not match.

    Each event: effective date, school day, recorded time, who and in which role, the state
    before and after, what was recorded, the rule and its source, the definition version and
    hash. The read is recorded in the access log.

    \b
    Example:
      cme audit replay CME-000001 --as-of 2024-11-04 --role auditor
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.audit import case_as_of, replay_case
    from engine.cli import wiring

    svc = wiring.service(db_url)
    who = wiring.actor(actor, role)
    if as_of is not None:
        view = case_as_of(svc, case_id, as_of, actor=who, at=wiring.now())
        if as_json:
            print_json(view.as_dict())
        else:
            _print_as_of(view)
        return
    result = replay_case(svc, case_id, actor=who, at=wiring.now())
    if as_json:
        print_json(
            {
                "case_id": result.case_id,
                "process_id": result.process_id,
                "ok": result.ok,
                "problems": result.problems(),
                "timeline": [t.as_dict() for t in result.timeline],
                "replayed": _row(result.replayed.as_row()) if result.replayed else None,
            }
        )
    else:
        _print_timeline(result)
    if not result.ok:
        sys.exit(INTEGRITY_EXIT)


@audit.command()
@click.argument("case_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "html"]),
    default="json",
    show_default=True,
    help="A JSON bundle, or one self-contained HTML page.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file (default: standard output).",
)
@db_option
@actor_options
@handle_errors
def export(
    case_id: str, fmt: str, output: str | None, db_url: str | None, actor: str | None, role: str
) -> None:
    """A case's whole history for an auditor, with the definitions it ran under and its hashes.

    The bundle holds the child's personal data: keep it as securely as the case record.

    \b
    Example:
      cme audit export CME-000001 --format html -o CME-000001.html --role auditor
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.audit import export_bundle, render_html
    from engine.audit.export import bundle_json
    from engine.cli import wiring

    bundle = export_bundle(
        wiring.service(db_url), case_id, actor=wiring.actor(actor, role), at=wiring.now(), fmt=fmt
    )
    text = render_html(bundle) if fmt == "html" else bundle_json(bundle)
    if output is None:
        echo_document(text)
    else:
        from engine.cli.output import write_output

        write_output(output, text, personal=True)  # the bundle is the record itself: 0600
        click.echo(
            f"wrote {output} ({len(bundle['events'])} events, final hash "
            f"{bundle['chain']['final_hash']}); it holds personal data",
            err=True,
        )
    if not bundle["chain"]["verified"]:
        click.echo("INTEGRITY FAILURE: " + "; ".join(bundle["chain"]["problems"]), err=True)
        sys.exit(INTEGRITY_EXIT)


@audit.command("access-log")
@click.option("--case", "case_id", default=None, help="Only reads of this case.")
@db_option
@actor_options
@json_option
@handle_errors
def access_log(
    case_id: str | None, db_url: str | None, actor: str | None, role: str, as_json: bool
) -> None:
    """Who read which case, when, and how.

    \b
    Example:
      cme audit access-log --case CME-000001 --role auditor
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.audit import access_entries, authorise
    from engine.cli import wiring

    svc = wiring.service(db_url)
    authorise(wiring.actor(actor, role), "read the access log", table=svc.roles)
    rows = access_entries(svc.store, case_id=case_id)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(
            f"{_at(r['at'])}  {r['case_id'] or '(no one case)'}  {safe_text(r['actor'])} "
            f"({r['role']})  {safe_text(r['action'])}"
        )
    if not rows:
        click.echo("no reads recorded" + (f" for {case_id}" if case_id else ""))


# --- printing ------------------------------------------------------------------------------------


def _read_text(path: str) -> str:
    from engine.errors import InputError

    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _at(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "personal"}


def _print_timeline(result: Any) -> None:
    # One block per event rather than a table: rules and sources are long, and a table
    # folded into 80 columns is unreadable.
    click.echo(f"{result.case_id}: {result.process_id}, {len(result.timeline)} event(s)")
    for t in result.timeline:
        day = f" (Day {t.school_day})" if t.school_day is not None else ""
        click.echo(f"\n#{t.seq}  {t.effective_date.isoformat()}{day}  {safe_text(t.summary)}")
        click.echo(f"    by {safe_text(t.actor)} ({t.role}), recorded {_at(t.recorded_at)}")
        if t.state_before != t.state_after:
            click.echo(f"    state: {t.state_before or '(new case)'} → {t.state_after}")
        else:
            click.echo(f"    state: {t.state_after} (unchanged)")
        if t.recorded.get("outcome"):
            click.echo(f"    found: {safe_text(t.recorded['outcome'])}")
        for what, words in t.said.items():  # a step's note, a reason (personal: read_case only)
            click.echo(f"    {what}: {safe_text(words)}")
        if t.rule:
            click.echo(f"    rule: {t.rule}")
        if t.source:
            click.echo(f"    source: {t.source}")
        click.echo(
            f"    definition: {result.process_id} version {t.process_version}, sha256 "
            f"{(t.content_hash or 'not stored')[:16]}; event hash {t.hash[:16]}"
        )
    click.echo("")
    if result.ok:
        last = result.timeline[-1].hash if result.timeline else ""
        click.echo(f"replay reproduces the stored case exactly; chain verified; final hash {last}")
    else:
        for problem in result.problems():
            click.echo(f"INTEGRITY FAILURE: {problem}", err=True)


def _print_as_of(view: Any) -> None:
    click.echo(
        f"{view.case_id} at the end of {view.on.isoformat()}: {view.case.state} "
        f"({view.state_title})"
        + (f", Day {view.day}" if view.day is not None else "")
        + f"; {view.events} event(s) by then; process version "
        f"{view.case.process_version}" + ("; closed" if view.case.terminal else "")
    )
    if view.outstanding_checks:
        click.echo("Outstanding checks:")
        for c in view.outstanding_checks:
            click.echo(
                f"  {c['id']}"
                + (f" ({c['days']})" if c["days"] else "")
                + f": {c['wording']}"
                + ("" if c["required"] else " (optional)")
            )
    if view.timers:
        click.echo("Timers:")
        for t in view.timers:
            state = "DUE" if t["due"] else "pending"
            click.echo(
                f"  {t['due_date'].isoformat()} {state}: {t['timer']}: {t['action']} "
                f"({t['explanation']})"
            )
