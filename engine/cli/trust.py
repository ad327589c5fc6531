"""`cme audit verify | clear | checkpoint | keygen`: the trust an auditor places in the store.

Verify every chain (and the ledger of case openings) against the pinned checkpoint key, clear an
integrity mark after examining a case, and make and sign checkpoints. Imported only when one of
these is named (`cme audit` lists them lazily beside replay, export and the access log).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from engine.cli.audit import DEFAULT_JOBS, INTEGRITY_EXIT, KEY_ENV, _read_text
from engine.cli.common import actor_options, db_option, handle_errors, json_option, print_json


@click.command()
@click.option("--case", "case_id", default=None, help="Verify one case.")
@click.option("--all", "all_cases", is_flag=True, help="Verify every case.")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(),
    default=None,
    help="Also prove nothing recorded before this signed checkpoint was changed (a "
    "file, or a folder: its newest). Default: the deployment's checkpoints "
    "folder, if it holds one.",
)
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(dir_okay=False),
    default=None,
    help="Trust only checkpoints signed with this key (a .pub file from keygen). "
    "Default: keys.checkpoint_public_key pinned in cme.toml.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=DEFAULT_JOBS,
    show_default=True,
    help="Processes verifying ranges of cases in parallel (with --all).",
)
@db_option
@actor_options
@json_option
@handle_errors
def verify(
    case_id: str | None,
    all_cases: bool,
    checkpoint_path: str | None,
    public_key: str | None,
    jobs: int,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Check every event's hash chain and that replay equals each stored case row.

    Also checks the ledger of case openings (a whole case deleted is caught) and, against the
    last checkpoint, every signed head, counting the events recorded since. Exits 4 and names
    the first broken event when anything was altered, deleted or reordered; each case found
    broken is marked and takes no new changes until an auditor clears it (`cme audit clear`).

    \b
    Example:
      cme audit verify --all --checkpoint /secure/2024-11-01.checkpoint.json --role auditor
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.audit.checkpoint import load_checkpoint
    from engine.audit.verification import verify_and_mark
    from engine.cli import wiring
    from engine.errors import InputError

    if (case_id is None) == (not all_cases):
        raise InputError("say what to verify: --case ID or --all")
    who = wiring.actor(actor, role)
    svc = wiring.service(db_url)
    found = _checkpoint_file(checkpoint_path, db_url)
    checkpoint = load_checkpoint(found) if found else None
    trusted = _trusted_key(public_key, db_url) if checkpoint is not None else None
    verified = verify_and_mark(
        svc.store,
        who,
        roles=svc.roles,
        clock=wiring.now,
        case_id=case_id,
        checkpoint=checkpoint,
        checkpoint_file=found,
        trusted_key=trusted,
        jobs=jobs,
    )
    report, marked, seconds = verified.report, verified.marked, verified.seconds
    rate = report.events / seconds if seconds > 0 else 0.0
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "cases": report.cases,
                "events": report.events,
                "ledger_entries": report.ledger_entries,
                "seconds": round(seconds, 3),
                "events_per_second": round(rate),
                "problem_count": report.problem_count,
                "problems": [
                    {"case_id": p.case_id or None, "seq": p.seq, "what": p.what}
                    for p in report.problems
                ],
                "marked": marked,
                "checkpoint": None
                if checkpoint is None
                else {
                    "file": str(found),
                    "created_at": checkpoint.created_at,
                    "key_id": checkpoint.key_id,
                    "root": checkpoint.root,
                    "heads_checked": report.anchors_checked,
                    "events_after": report.unsigned_events,
                    "cases_after": report.unsigned_cases,
                    "oldest_after": report.unsigned_since,
                },
            }
        )
    else:
        if checkpoint is not None:
            click.echo(
                f"checkpoint {found} of {checkpoint.created_at.isoformat()} signed by "
                f"the pinned key {checkpoint.key_id}: signature good; "
                f"{report.anchors_checked} of {len(checkpoint.heads)} signed heads "
                "checked"
            )
        click.echo(
            f"{report.cases} case(s), {report.events} event(s) in {seconds:.2f} s "
            f"({rate:,.0f} events/s)"
        )
        if checkpoint is not None:
            click.echo(_after_line(report))
        else:
            click.echo(
                "no checkpoint: no event is covered by a signature (sign one with "
                "`cme audit checkpoint`)"
            )
        if report.ok:
            click.echo(
                "verified: every hash chain holds, replay reproduces every case row and "
                "every case opened is still there"
            )
        else:
            first = report.problems[0]
            click.echo(
                f"INTEGRITY FAILURE: {report.problem_count} problem(s); first: {first}", err=True
            )
            for problem in report.problems[1:20]:
                click.echo(f"  {problem}", err=True)
            if marked:
                click.echo(
                    f"marked {len(marked)} case(s) ({', '.join(marked[:10])}"
                    f"{', …' if len(marked) > 10 else ''}): they take no new changes "
                    "until an auditor clears them with `cme audit clear CASE --reason "
                    "TEXT`",
                    err=True,
                )
    if not report.ok:
        sys.exit(INTEGRITY_EXIT)


@click.command()
@click.argument("case_id")
@click.option("--reason", required=True, help="Why the mark is cleared (kept with the mark).")
@db_option
@actor_options
@json_option
@handle_errors
def clear(
    case_id: str, reason: str, db_url: str | None, actor: str | None, role: str, as_json: bool
) -> None:
    """Clear the integrity mark verify put on a case, so it takes changes again; audited.

    Run it once the broken history has been examined (`cme audit replay CASE`). What verify
    found stays on record, with who cleared it, when and why; the clearing is also in the
    access log. The same problem is not marked again; a new one is.

    \b
    Example:
      cme audit clear CME-000007 --reason "restored from backup 2026-12-02" --role auditor
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.audit.marks import clear as clear_mark
    from engine.cli import wiring

    who = wiring.actor(actor, role)
    svc = wiring.service(db_url)
    marks = clear_mark(
        svc.store, case_id, actor=who, reason=reason, at=wiring.now(), roles=svc.roles
    )
    if as_json:
        print_json(
            {
                "case_id": case_id,
                "cleared": [
                    {"seq": m.seq, "problem": m.problem, "found_at": m.found_at} for m in marks
                ],
            }
        )
        return
    for m in marks:
        click.echo(f"cleared: {m.problem}" + (f" (event {m.seq})" if m.seq else ""))
    click.echo(f"{case_id} takes changes again; the marks stay on record with your reason")


@click.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the private key (keep it off the database server).",
)
@handle_errors
def keygen(out: str) -> None:
    """Create an Ed25519 signing key for checkpoints (and OUT.pub with its public key).

    \b
    Example:
      cme audit keygen --out /secure/cme-audit.key
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.audit.checkpoint import (
        generate_private_key,
        key_id,
        load_private_key,
        public_key_text,
    )
    from engine.errors import InputError

    path = Path(out)
    if path.exists():
        raise InputError(f"{out} exists; a signing key is never overwritten (choose another path)")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputError(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(generate_private_key())
    public = public_key_text(load_private_key(path))
    Path(f"{out}.pub").write_text(public + "\n", encoding="utf-8")
    click.echo(f"wrote {out} (private, mode 600) and {out}.pub; key id {key_id(public)}")


@click.command()
@click.option(
    "--key",
    "key_path",
    envvar=KEY_ENV,
    default=None,
    type=click.Path(dir_okay=False),
    help=f"The Ed25519 private key file (or {KEY_ENV}; default: "
    "keys.checkpoint_signing_key_file in cme.toml).",
)
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Where to write the checkpoint (default: the deployment's checkpoints "
    "folder); keep a copy outside the database.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=DEFAULT_JOBS,
    show_default=True,
    help="Processes verifying ranges of cases in parallel before signing.",
)
@db_option
@actor_options
@json_option
@handle_errors
def checkpoint(
    key_path: str | None,
    out: str | None,
    jobs: int,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Verify the whole log, then write a signed checkpoint of every case's chain head.

    \b
    Example:
      cme audit checkpoint --key /secure/cme-audit.key --out /secure/2024-11-01.json
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.audit import authorise, load_private_key, make_checkpoint, record_access
    from engine.cli import wiring

    who = wiring.actor(actor, role)
    svc = wiring.service(db_url)
    authorise(who, "checkpoint", table=svc.roles)
    from engine.audit.checkpoint import checkpoint_name, record_signed
    from engine.deployment.checkpoints import checkpoint_folder
    from engine.errors import InputError

    config = wiring.config(db_url)
    key_file = key_path or config.keys.checkpoint_signing_key_file
    if key_file is None:
        raise InputError(
            f"which key signs the checkpoint? Give --key FILE, set {KEY_ENV}, or set "
            "keys.checkpoint_signing_key_file in cme.toml"
        )
    key = load_private_key(key_file)
    store = svc.store
    at = wiring.now()
    if out is None:
        folder = checkpoint_folder(wiring.database(db_url), config)
        if folder is None:
            raise InputError("where should the checkpoint go? Give --out FILE")
        folder.mkdir(parents=True, exist_ok=True)
        out = str(folder / checkpoint_name(at))
    signed, report = make_checkpoint(store, key, at=at, jobs=jobs)
    Path(out).write_text(signed.to_json(), encoding="utf-8")
    record_signed(store, signed, Path(out), started_at=at)
    with store.engine.begin() as conn:
        record_access(conn, who, case_id=None, action="checkpoint", at=at)
    if as_json:
        print_json(
            {
                "file": out,
                "created_at": signed.created_at,
                "cases": signed.case_count,
                "events": signed.event_count,
                "root": signed.root,
                "key_id": signed.key_id,
            }
        )
    else:
        click.echo(
            f"wrote {out}: {signed.case_count} case(s), {signed.event_count} event(s), "
            f"Merkle root {signed.root}, key {signed.key_id}"
        )


def _checkpoint_file(given: str | None, db_url: str | None) -> Path | None:
    """The checkpoint to verify against: the one given (a folder: its newest), else the newest
    in the deployment's checkpoints folder, else None.
    """
    from engine.audit.checkpoint import latest_checkpoint
    from engine.cli import wiring
    from engine.deployment.checkpoints import checkpoint_folder

    if given is not None:
        return latest_checkpoint(given)
    folder = checkpoint_folder(wiring.database(db_url), wiring.config(db_url))
    if folder is None or not any(folder.glob("checkpoint-*.json")):
        return None
    return latest_checkpoint(folder)


def _trusted_key(given: str | None, db_url: str | None) -> str:
    """The public key a checkpoint must be signed with: --public-key, else the pinned one."""
    from engine.cli import wiring
    from engine.errors import InputError

    pinned = wiring.config(db_url).keys.checkpoint_public_key
    if given is not None:
        named = _read_text(given)
        if pinned is not None and named != pinned:
            from engine.audit.checkpoint import key_id

            # Else anyone could "verify" their own re-signed checkpoint by naming their key.
            raise InputError(
                f"--public-key {given} is key {key_id(named)}, but cme.toml pins "
                f"{key_id(pinned)} (keys.checkpoint_public_key): only the pinned key is "
                "trusted; leave --public-key out, or change the pin"
            )
        return named
    if pinned is None:
        raise InputError(
            "no public key is pinned to check the checkpoint's signature against: set "
            "keys.checkpoint_public_key in cme.toml (the .pub file of `cme audit keygen`) or "
            "pass --public-key FILE; a checkpoint's own key proves nothing, anyone can sign one"
        )
    return pinned


def _after_line(report: Any) -> str:
    if not report.unsigned_events:
        return "every event is covered by the checkpoint"
    since = (
        f", the oldest recorded at {report.unsigned_since[:19]} UTC"
        if (report.unsigned_since)
        else ""
    )
    return (
        f"{report.unsigned_events} event(s) in {report.unsigned_cases} case(s) recorded after "
        f"the checkpoint, not yet covered by a signature{since}"
    )
