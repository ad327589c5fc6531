"""`cme admin …`: what a records manager runs: the role table, retention (purge), legal hold,
and the master key (making one, rotating to a new one).

Thin over `engine.protection.access`, `engine.protection.retention`, `engine.cases.purge`,
`engine.protection.masterkeys` and `engine.protection.rotation`; every change to a case is an
event in its history, every key rotation a row in the access log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from engine.cli import LazyGroup
from engine.cli.common import DATE, actor_options, db_option, handle_errors, json_option, print_json


def _on_option(func: Any) -> Any:
    return click.option(
        "--on",
        "on",
        type=DATE,
        default="today",
        show_default=True,
        help="The date it takes effect (YYYY-MM-DD).",
    )(func)


def _rules_option(func: Any) -> Any:
    return click.option(
        "--rules",
        "rules_path",
        type=click.Path(dir_okay=False),
        default=None,
        envvar="CME_RETENTION_FILE",
        help="Retention rules file (default: the shipped processes/retention.yaml).",
    )(func)


# Backups (engine/cli/backup.py) are imported only when named, as top-level commands are.
@click.group(
    cls=LazyGroup,
    lazy={
        "backup": ("engine.cli.backup", "backup", "Back up the SQLite database (WAL included)."),
        "backup-check": (
            "engine.cli.backup",
            "backup_check",
            "Verify a backup; say what it holds.",
        ),
        "user": (
            "engine.cli.users",
            "user",
            "The web service's accounts: add, list, disable, enable, password.",
        ),
    },
)
def admin() -> None:
    """Roles, retention and legal hold (records manager); master keys and backups (operator).

    Example: cme admin retention list --role records_manager
    """


@admin.command("roles")
@json_option
@handle_errors
def roles_cmd(as_json: bool) -> None:
    """Show the role table: each role and what it may do (CME_ROLES_FILE, else the shipped one).

    Example: cme admin roles
    """
    from engine.cli import wiring

    table = wiring.roles()
    if as_json:
        print_json({rid: r.model_dump(mode="json") for rid, r in table.roles.items()})
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Roles ({table.source})")
    for col in ("role", "title", "may"):
        t.add_column(col)
    for rid, r in table.roles.items():
        may = ", ".join(str(p) for p in r.permissions) + (" (internal)" if r.internal else "")
        t.add_row(rid, r.title, may)
    Console().print(t)


@admin.group("retention")
def retention() -> None:
    """List and apply the retention rules (processes/retention.yaml).

    Example: cme admin retention apply --dry-run --role records_manager
    """


@retention.command("list")
@_on_option
@_rules_option
@db_option
@actor_options
@json_option
@handle_errors
def retention_list(
    on: dt.date,
    rules_path: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Closed cases whose retention period has run out on --on (held cases marked).

    Shows case numbers and dates only, never personal data.

    Example: cme admin retention list --on 2031-09-01 --role records_manager
    """
    from engine.cases.purge import due_for_purge
    from engine.cli import wiring
    from engine.protection.retention import load_retention

    svc = wiring.service(db_url)
    policy = _policy(load_retention(rules_path), svc)
    due = due_for_purge(svc, policy, on=on, actor=wiring.actor(actor, role))
    if as_json:
        print_json([c.as_dict() for c in due])
        return
    if not due:
        click.echo(f"no closed case is due for purge on {on.isoformat()}")
        return
    for c in due:
        held = "  ON LEGAL HOLD: will not be purged" if c.legal_hold else ""
        click.echo(
            f"{c.case_id}  {c.process_id}  closed {c.closed_on.isoformat()}  "
            f"kept until {c.purge_after.isoformat()} ({c.rule}){held}"
        )


@retention.command("apply")
@_on_option
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
@_rules_option
@db_option
@actor_options
@json_option
@handle_errors
def retention_apply(
    on: dt.date,
    dry_run: bool,
    rules_path: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Purge the personal data of every due case not on legal hold (an audited purge).

    Each purge records a `purge` event (who, when, which rule) and destroys the case's key: the
    child's details become unreadable, the history stays and still verifies.

    Example: cme admin retention apply --dry-run --role records_manager
    """
    from engine.cases.purge import apply_retention
    from engine.cli import wiring
    from engine.protection.retention import load_retention

    svc = wiring.service(db_url)
    policy = _policy(load_retention(rules_path), svc)
    report = apply_retention(
        svc, policy, on=on, at=wiring.now(), actor=wiring.actor(actor, role), dry_run=dry_run
    )
    if as_json:
        print_json(report.as_dict())
        return
    verb = "would purge" if dry_run else "purged"
    for c in report.purged:
        click.echo(f"{verb} {c.case_id} (closed {c.closed_on.isoformat()}, rule {c.rule})")
    for c in report.held:
        click.echo(f"kept {c.case_id}: on legal hold")
    click.echo(
        f"{len(report.purged)} {verb}, {len(report.held)} on legal hold"
        + (" (dry run: nothing changed)" if dry_run else "")
    )


@admin.command("hold")
@click.argument("case_id")
@click.option("--reason", required=True, help="Why (litigation, an inquiry …); kept in history.")
@_on_option
@db_option
@actor_options
@json_option
@handle_errors
def hold_cmd(
    case_id: str,
    reason: str,
    on: dt.date,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Put a case on legal hold: no retention purge will touch it until it is released.

    Example: cme admin hold CME-000001 --reason "subject access request" --role records_manager
    """
    from engine.cases.purge import place_hold
    from engine.cli import wiring

    result = place_hold(
        wiring.service(db_url),
        case_id,
        reason=reason,
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
    )
    _report(result, "on legal hold", as_json)


@admin.command("release")
@click.argument("case_id")
@click.option("--reason", required=True, help="Why the hold ends; kept in history.")
@_on_option
@db_option
@actor_options
@json_option
@handle_errors
def release_cmd(
    case_id: str,
    reason: str,
    on: dt.date,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Release a legal hold; the case's retention rule applies again.

    Example: cme admin release CME-000001 --reason "request closed" --role records_manager
    """
    from engine.cases.purge import release_hold
    from engine.cli import wiring

    result = release_hold(
        wiring.service(db_url),
        case_id,
        reason=reason,
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
    )
    _report(result, "released from legal hold", as_json)


@admin.group("key")
def key() -> None:
    """Make a master key, or re-wrap every case key under a new one.

    Example: cme admin key new /etc/cme/keys/master.key
    """


@key.command("new")
@click.argument("path", type=click.Path(dir_okay=False))
@handle_errors
def key_new(path: str) -> None:
    """Make a master key file at PATH (mode 600; never overwrites a file).

    Keep it outside the data folder and its backups, readable only by the service user, and
    name it in cme.toml (keys.master_key_file) or CME_MASTER_KEY_FILE.

    Example: cme admin key new /etc/cme/keys/master.key
    """
    from pathlib import Path

    from engine.protection.crypto import MasterKey
    from engine.protection.masterkeys import write_master_key_file

    master = MasterKey.generate()
    write_master_key_file(Path(path), master)
    click.echo(f"wrote {path} (mode 600); master key id {master.id}")


@key.command("rotate")
@click.option(
    "--new-key",
    "new_key",
    required=True,
    type=click.Path(dir_okay=False),
    help="The new master key file (made with `cme admin key new`).",
)
@click.option(
    "--old-key",
    "old_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Another master key some case keys may still be wrapped by; repeat.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Case keys re-wrapped per transaction.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The deployment's cme.toml (default: CME_CONFIG, beside the database, ./).",
)
@db_option
@actor_options
@json_option
@handle_errors
def key_rotate(
    new_key: str,
    old_keys: tuple[str, ...],
    batch_size: int,
    config_path: str | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Re-wrap every case key under the master key in --new-key; audited, resumable.

    The key in use now (and any previous keys in cme.toml, or given with --old-key) opens each
    case key; each batch is one transaction, so a rotation stopped at any point is finished by
    running it again. Afterwards set keys.master_key_file (or CME_MASTER_KEY_FILE) to the new
    key; keep the old one until backups made under it have aged out.

    Example: cme admin key rotate --new-key /etc/cme/keys/master-2027.key --role records_manager
    """
    from pathlib import Path

    from engine.cli import wiring
    from engine.deployment.config import database_url, deployment_config
    from engine.deployment.keys import case_keys
    from engine.protection.masterkeys import read_master_key_file
    from engine.protection.rotation import rotate_master_key
    from engine.store.database import open_store

    config = deployment_config(config_path, db_url=db_url) if config_path else wiring.config(db_url)
    url = database_url(db_url, config)
    store = open_store(url)
    keys, _ = case_keys(config, db_url=url, store=store)
    new = read_master_key_file(Path(new_key), what="--new-key")
    old = [
        *keys.ring.values(),
        *(read_master_key_file(Path(p), what="--old-key") for p in old_keys),
    ]
    report = rotate_master_key(
        store,
        old=old,
        new=new,
        actor=wiring.actor(actor, role),
        at=wiring.now(),
        roles=wiring.roles(),
        batch_size=batch_size,
    )
    if as_json:
        print_json(report.as_dict())
        return
    click.echo(
        f"re-wrapped {report.rewrapped} case keys from "
        f"{', '.join(report.from_ids) or '(none left)'} to {report.to_id} in "
        f"{report.batches} batches"
    )
    click.echo(
        f"now set keys.master_key_file (or CME_MASTER_KEY_FILE) to {new_key}; keep the "
        "old key until backups made under it have aged out"
    )


def _policy(policy: Any, svc: Any) -> Any:
    """Refuse rules naming a process that is not loaded: a typo would purge nothing, silently."""
    from engine.errors import DefinitionError

    issues = policy.check_processes(svc.registry.ids())
    if issues:
        raise DefinitionError(issues)
    return policy


def _report(result: Any, what: str, as_json: bool) -> None:
    case = result.case
    if as_json:
        print_json(
            {
                "case_id": case.id,
                "legal_hold": case.legal_hold,
                "seq": case.seq,
                "event": {
                    "seq": result.event.seq,
                    "kind": str(result.event.kind),
                    "hash": result.event.hash,
                },
            }
        )
    else:
        click.echo(f"{case.id}: {what} (event {case.seq})")
