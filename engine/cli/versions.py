"""`cme process diff|impact|publish|migrate`: versions of a process side by side, and moving
running cases between them.

Part of the `cme process` group (listed in `engine.cli.process`). Thin over
`engine.language.diff`, `engine.cases.impact` and `engine.cases.migration`; their database
imports stay inside the functions, so `cme process diff` of two files needs no database.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from engine.cli.common import db_option, handle_errors, json_option, print_json, safe_text
from engine.cli.process import _count, _resolve
from engine.language.loader import load_process_file


def _file_option(func: Any) -> Any:
    return click.option(
        "--file",
        "files",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        help="A process file holding a version (e.g. the edited one, not yet shipped).",
    )(func)


def _owner_options(role_help: str = "Your role (or CME_ROLE).") -> Callable[[Any], Any]:
    """--file, --db, and who acts (--actor, --role, a policy owner by default): the options of
    the commands that store or change process versions.
    """

    def add(func: Any) -> Any:
        func = click.option(
            "--role",
            envvar="CME_ROLE",
            default="policy_owner",
            show_default=True,
            help=role_help,
        )(func)
        func = click.option(
            "--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR)."
        )(func)
        return _file_option(db_option(func))

    return add


@click.command()
@click.argument("name")
@click.argument("old", type=int)
@click.argument("new", type=int)
@_file_option
@click.option(
    "--db",
    "db_url",
    envvar="CME_DATABASE_URL",
    default=None,
    help="Also look for versions stored in this database.",
)
@json_option
@handle_errors
def diff(
    name: str, old: int, new: int, files: tuple[str, ...], db_url: str | None, as_json: bool
) -> None:
    """What changed between two versions: states, days, checks, timers, guards, roles, facts.

    Versions are looked for in --file, then processes/, then the database.

    \b
    Example:
      cme process diff removal_grounds 3 4
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.language.diff import AREAS, diff_definitions

    before = _definition_version(name, old, files, db_url)
    after = _definition_version(name, new, files, db_url)
    changes = diff_definitions(before, after)
    if as_json:
        print_json(
            {
                "process": name,
                "from": old,
                "to": new,
                "changes": [{"area": c.area, "where": c.where, "what": c.what} for c in changes],
            }
        )
        return
    click.echo(f"{name}: version {old} → version {new}: {_count(len(changes), 'change')}")
    for area in AREAS:
        found = [c for c in changes if c.area == area]
        if found:
            click.echo(f"{area}:")
            for change in found:
                click.echo(f"  {change}")


@click.command()
@click.argument("name")
@click.argument("version", type=int)
@_file_option
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="OLD=NEW",
    help="Preview with this state mapping (as `migrate` would use it).",
)
@click.option(
    "--on",
    "on",
    default="today",
    show_default=True,
    help="The date the version would take effect for running cases (YYYY-MM-DD).",
)
@db_option
@click.option(
    "--actor",
    envvar="CME_ACTOR",
    default=None,
    help="Who you are (or CME_ACTOR); with a role that may read cases, children's names are "
    "shown beside their case ids (each read logged).",
)
@click.option(
    "--role",
    envvar="CME_ROLE",
    default="policy_owner",
    show_default=True,
    help="Your role (or CME_ROLE). A policy owner sees case ids only.",
)
@json_option
@handle_errors
def impact(
    name: str,
    version: int,
    files: tuple[str, ...],
    maps: tuple[str, ...],
    on: str,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """What a version would do to running cases, in plain words, before it is published.

    In sum: open cases in stages it removes or renames, deadlines that move (in school days),
    those it makes fall due at once, fact values it no longer accepts, checklists and next steps
    that change. Then case by case: each deadline old → new, each check window's dates on the
    case's calendar, checks added or removed, and the --map its stage needs.

    \b
    Example:
      cme process impact untraceable_cme 3 --file edited.yaml --on 2026-12-07
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.case_impact import name_children
    from engine.cases.impact import impact
    from engine.cases.migration import find_version, parse_mapping
    from engine.cli import wiring
    from engine.cli.common import DATE

    svc = _version_service(db_url, files)
    result = impact(
        svc,
        find_version(svc, name, version),
        on=DATE.convert(on, None, None),
        mapping=parse_mapping(maps),
    )
    if actor or role != "policy_owner":
        name_children(svc, result.cases, actor=wiring.actor(actor, role), at=wiring.now())
    if as_json:
        print_json(
            {
                "process": name,
                "version": version,
                "on": result.on,
                "running": {str(v): n for v, n in result.running.items()},
                "removed_states": result.removed,
                "renamed_states": result.renamed,
                "deadlines": [d.__dict__ for d in result.deadlines],
                "due_at_once": result.due_at_once,
                "already_past": result.already_past,
                "bad_facts": result.bad_facts,
                "checklists": dict(result.checklists),
                "steps": dict(result.steps),
                "cases": [c.as_json() for c in result.cases],
                "summary": result.sentences(),
            }
        )
        return
    for line in result.sentences() + result.case_lines():
        click.echo(safe_text(line))


@click.command()
@click.argument("name")
@click.option(
    "--version",
    "version",
    type=int,
    default=None,
    help="Version (default: the latest in processes/ or --file).",
)
@_owner_options()
@handle_errors
def publish(
    name: str,
    version: int | None,
    files: tuple[str, ...],
    db_url: str | None,
    actor: str | None,
    role: str,
) -> None:
    """Store a process version in the database, so cases can run under it and be replayed.

    Refuses a changed file whose version number was not raised.

    \b
    Example:
      cme process publish removal_grounds --version 4
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.migration import publish_version
    from engine.cli import wiring

    svc = _version_service(db_url, files)
    compiled = svc.registry.get(name, version)
    new = publish_version(svc, compiled, at=wiring.now(), actor=wiring.actor(actor, role))
    d = compiled.definition
    effective = svc.catalog.effective_date(d)
    when = (
        f"in force for new cases opened from {d.applies_from(effective)}"
        if effective is not None
        else f"pending ({d.commencement}): no case takes it until a policy owner gives its "
        f"date with `cme process commence {d.id} {d.version} --on DATE`"
    )
    click.echo(
        f"{'stored' if new else 'already stored, unchanged:'} {d.id} version "
        f"{d.version} (sha256 {compiled.content_hash[:12]}); {when}"
    )


@click.command()
@click.argument("name")
@click.option("--from", "from_version", type=int, required=True, help="Version cases run on.")
@click.option("--to", "to_version", type=int, required=True, help="Version to move them to.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="OLD=NEW",
    help="Move cases in state OLD to state NEW (repeat; states with the same name "
    "map to themselves).",
)
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option(
    "--on",
    "on",
    default="today",
    show_default=True,
    help="The date the migration takes effect (YYYY-MM-DD).",
)
@_owner_options()
@json_option
@handle_errors
def migrate(
    name: str,
    from_version: int,
    to_version: int,
    maps: tuple[str, ...],
    dry_run: bool,
    on: str,
    files: tuple[str, ...],
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Move running cases to another version with an explicit state mapping.

    Each case gets a migration event and its timers are recomputed under the new rules. Cases
    in states the new version lacks, with no --map, are listed and left alone.

    \b
    Example:
      cme process migrate untraceable_cme --from 1 --to 2 --dry-run \
        --map tracing_continues=closure_decision
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.migration import find_version, parse_mapping, plan_migration, run_migration
    from engine.cli import wiring
    from engine.cli.common import DATE

    svc = _version_service(db_url, files)
    who = wiring.actor(actor, role)
    day = DATE.convert(on, None, None)
    plan = plan_migration(
        svc,
        name,
        from_version=from_version,
        to=find_version(svc, name, to_version),
        mapping=parse_mapping(maps),
        on=day,
        actor=who,
    )
    result = None if dry_run else run_migration(svc, plan, at=wiring.now(), actor=who)
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "process": name,
                "from": from_version,
                "to": to_version,
                "on": day,
                "moves": [
                    {
                        "case_id": m.case.id,
                        "from_state": m.case.state,
                        "to_state": m.to_state,
                        "deadlines": [d.__dict__ for d in m.deadlines],
                    }
                    for m in plan.moves
                ],
                "left_alone": [{"case_id": c, "state": s} for c, s in plan.unmapped],
                "migrated": [r.case.id for r in result.migrated] if result else [],
                "failed": [{"case_id": c, "error": e} for c, e in result.failed] if result else [],
            }
        )
    else:
        _print_migration(plan, result, dry_run=dry_run)
    if result is not None and result.failed:
        sys.exit(1)


def _version_service(db_url: str | None, files: tuple[str, ...]) -> Any:
    """A case service whose registry holds the shipped processes and any --file versions."""
    from engine.cases.service import CaseService
    from engine.cli import wiring
    from engine.language.registry import ProcessRegistry
    from engine.store.database import open_store

    registry = ProcessRegistry(c.loaded for c in wiring.registry())
    for path in files:
        registry.add(load_process_file(path))
    # The deployment's database and master key (cme --config / CME_CONFIG / beside the database).
    store = open_store(wiring.database(db_url))
    return CaseService(store, registry, keys=wiring.keys(store.url, wiring.config(db_url).source))


def _definition_version(name: str, version: int, files: tuple[str, ...], db_url: str | None) -> Any:
    """A version's definition from --file, processes/ or (if there is one) the database."""
    for path in files:
        loaded = load_process_file(path)
        if loaded.id == name and loaded.version == version:
            return loaded.definition
    return _resolve(name, version, db_url).definition


def _print_migration(plan: Any, result: Any, *, dry_run: bool) -> None:
    d = plan.to.definition
    click.echo(
        f"{d.id}: version {plan.from_version} → {d.version}, taking effect "
        f"{plan.on.isoformat()}" + (" (dry run: nothing written)" if dry_run else "")
    )
    for move in plan.moves:
        how = "same name" if move.case.state == move.to_state else "mapped"
        line = f"  {move.case.id}: {move.case.state} → {move.to_state} ({how})"
        changes = [
            f"{m.timer_id} {m.old or 'none'} → {m.new or 'none'}"
            + (f" ({m.school_days:+d} school days)" if m.school_days else "")
            for m in move.deadlines
        ]
        click.echo(line + ("; deadlines: " + ", ".join(changes) if changes else ""))
    if plan.unmapped:
        click.echo(f"Left alone, no mapping for their state ({len(plan.unmapped)}):")
        for case_id, state in plan.unmapped:
            click.echo(
                f"  {case_id}: {state} (version {d.version} has no such state; "
                f"add --map {state}=NEW)"
            )
    if dry_run or result is None:
        click.echo(f"{_count(len(plan.moves), 'case')} would move.")
        return
    click.echo(
        f"migrated {_count(len(result.migrated), 'case')}: one migration event each, "
        f"timers recomputed under version {d.version}"
    )
    for case_id, error in result.failed:
        click.echo(f"  not migrated: {case_id}: {error}", err=True)
