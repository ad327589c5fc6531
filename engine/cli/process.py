"""`cme process …`: what a policy owner runs on process YAML: validate, lint, show, diagram, schema.

Thin over `engine.language.loader`, `engine.language.lint` and `engine.language.diagram`; imports
no database code, so it
runs without one (a test pins that SQLAlchemy is never imported).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli.common import db_option, handle_errors, json_option, print_json
from engine.errors import DefinitionError, Issue, UnknownProcess, suggest
from engine.language.loader import (
    LoadedProcess,
    ProcessPath,
    display_path,
    duplicate_issues,
    expand_paths,
    load_process_file,
    process_files,
    schema_text,
    shipped_schema_text,
)

if TYPE_CHECKING:
    from rich.table import Table


@click.group()
def process() -> None:
    """Validate, lint, show and diagram process definitions (processes/*.yaml).

    \b
    Example:
      cme process validate && cme process show untraceable_cme
    """  # noqa: D301 (click's \b keeps the example unwrapped)


@process.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@handle_errors
def validate(paths: tuple[str, ...]) -> None:
    """Check process files: YAML, schema, references and guard expressions.

    With no PATH, checks every process shipped in processes/. Prints one line per good file
    and every problem as path:line:column: message; exits 1 if there is any problem.

    \b
    Example:
      cme process validate processes/untraceable_cme.yaml
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    loaded, issues = _load_all(paths)
    bad = {issue.path for issue in issues}
    for item in loaded:
        if item.path not in bad:
            click.echo(f"{item.path}: ok: {_summary(item)}")
    _fail_on(issues)


@process.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@handle_errors
def lint(paths: tuple[str, ...]) -> None:
    """Check the graph and timings: unreachable states, dead ends, timers that never fire …

    Validates first. Errors make the exit code 1; warnings are printed but do not.

    \b
    Example:
      cme process lint processes/untraceable_cme.yaml
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.language.lint import has_errors
    from engine.language.lint import lint as lint_process

    loaded, issues = _load_all(paths)
    _fail_on(issues)
    failed = False
    for item in loaded:
        found = lint_process(item)
        for issue in found:
            click.echo(str(issue), err=issue.severity == "error")
        errors = sum(1 for i in found if i.severity == "error")
        warnings = len(found) - errors
        if not found:
            click.echo(f"{item.path}: lint clean")
        else:
            click.echo(f"{item.path}: {_count(errors, 'error')}, {_count(warnings, 'warning')}")
        failed = failed or has_errors(found)
    if failed:
        sys.exit(1)


@process.command()
@click.argument("name")
@click.option("--version", "version", type=int, default=None, help="Version (default: latest).")
@json_option
@handle_errors
def show(name: str, version: int | None, as_json: bool) -> None:
    """A readable summary: states and day windows, checklists, timers, who may do what.

    NAME is a process id (shipped in processes/) or a path to a YAML file.

    \b
    Example:
      cme process show untraceable_cme --version 1
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    loaded = _resolve(name, version)
    if as_json:
        from engine.language.lint import edges

        print_json(
            {
                "path": loaded.path,
                "content_hash": loaded.content_hash,
                "definition": loaded.definition.model_dump(mode="json"),
                "transitions": [
                    {"source": s, "trigger": t, "dest": d} for s, t, d in edges(loaded.definition)
                ],
            }
        )
        return
    _print_summary(loaded)


@process.command()
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (Markdown, mermaid.live), Graphviz DOT, or SVG (needs Graphviz's dot).",
)
@click.option("--version", "version", type=int, default=None, help="Version (default: latest).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file."
)
@handle_errors
def diagram(name: str, fmt: str, version: int | None, output: str | None) -> None:
    """Draw the process as a flowchart: every state, step and timer.

    NAME is a process id (shipped in processes/) or a path to a YAML file.

    \b
    Example:
      cme process diagram untraceable_cme --format svg --output untraceable_cme.svg
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.language.diagram import to_dot, to_mermaid, to_svg

    loaded = _resolve(name, version)
    render = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}[fmt]
    _emit(render(loaded.definition), output)


@process.command()
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file."
)
@click.option(
    "--check", is_flag=True, help="Exit 1 if the shipped processes/schema file is out of date."
)
@handle_errors
def schema(output: str | None, check: bool) -> None:
    """Write the JSON Schema of process files, for editors (e.g. VS Code's YAML extension).

    Point the editor at processes/schema/process.schema.json, e.g. with a first line
    `# yaml-language-server: $schema=schema/process.schema.json` in each process file.

    \b
    Example:
      cme process schema --output processes/schema/process.schema.json
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    text = schema_text()
    if check:
        if shipped_schema_text() != text:
            click.echo(
                "processes/schema/process.schema.json is out of date; run "
                "`cme process schema --output processes/schema/process.schema.json`",
                err=True,
            )
            sys.exit(1)
        click.echo("processes/schema/process.schema.json is up to date")
        return
    _emit(text, output)


# --- versions: diff, impact, publish, migrate (issue 7) -------------------------------------------
# Their database and engine imports stay inside the functions: `cme process validate` and the
# other commands above must run without SQLAlchemy.


def _file_option(func: Any) -> Any:
    return click.option(
        "--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False),
        help="A process file holding a version (e.g. the edited one, not yet shipped).",
    )(func)


@process.command()
@click.argument("name")
@click.argument("old", type=int)
@click.argument("new", type=int)
@_file_option
@click.option("--db", "db_url", envvar="CME_DATABASE_URL", default=None,
              help="Also look for versions stored in this database.")
@json_option
@handle_errors
def diff(name: str, old: int, new: int, files: tuple[str, ...], db_url: str | None,
         as_json: bool) -> None:
    """What changed between two versions: states, days, checks, timers, guards, roles, facts.

    Versions are looked for in --file, then processes/, then the database.

    \b
    Example:
      cme process diff removal_grounds 1 2
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.versions import AREAS, diff_definitions

    before = _definition_version(name, old, files, db_url)
    after = _definition_version(name, new, files, db_url)
    changes = diff_definitions(before, after)
    if as_json:
        print_json({"process": name, "from": old, "to": new,
                    "changes": [{"area": c.area, "where": c.where, "what": c.what}
                                for c in changes]})
        return
    click.echo(f"{name}: version {old} → version {new}: {_count(len(changes), 'change')}")
    for area in AREAS:
        found = [c for c in changes if c.area == area]
        if found:
            click.echo(f"{area}:")
            for change in found:
                click.echo(f"  {change}")


@process.command()
@click.argument("name")
@click.argument("version", type=int)
@_file_option
@click.option("--map", "maps", multiple=True, metavar="OLD=NEW",
              help="Preview with this state mapping (as `migrate` would use it).")
@click.option("--on", "on", default="today", show_default=True,
              help="The date the version would take effect for running cases (YYYY-MM-DD).")
@db_option
@json_option
@handle_errors
def impact(name: str, version: int, files: tuple[str, ...], maps: tuple[str, ...], on: str,
           db_url: str | None, as_json: bool) -> None:
    """What a version would do to running cases, in plain words, before it is published.

    Counts open cases in states the version removes, deadlines that move (in school days),
    fact values it no longer accepts, and checklists and next steps that change.

    \b
    Example:
      cme process impact untraceable_cme 2 --file processes/untraceable_cme.yaml
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.versions import find_version, impact, parse_mapping
    from engine.cli.common import DATE

    svc = _version_service(db_url, files)
    result = impact(svc, find_version(svc, name, version), on=DATE.convert(on, None, None),
                    mapping=parse_mapping(maps))
    if as_json:
        print_json({
            "process": name, "version": version, "on": result.on,
            "running": {str(v): n for v, n in result.running.items()},
            "removed_states": result.removed,
            "deadlines": [d.__dict__ for d in result.deadlines],
            "due_at_once": result.due_at_once, "bad_facts": result.bad_facts,
            "checklists": dict(result.checklists), "steps": dict(result.steps),
            "summary": result.sentences(),
        })
        return
    for sentence in result.sentences():
        click.echo(sentence)


@process.command()
@click.argument("name")
@click.option("--version", "version", type=int, default=None,
              help="Version (default: the latest in processes/ or --file).")
@_file_option
@db_option
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@click.option("--role", envvar="CME_ROLE", default="policy_owner", show_default=True,
              help="Your role (or CME_ROLE).")
@handle_errors
def publish(name: str, version: int | None, files: tuple[str, ...], db_url: str | None,
            actor: str | None, role: str) -> None:
    """Store a process version in the database, so cases can run under it and be replayed.

    Refuses a changed file whose version number was not raised.

    \b
    Example:
      cme process publish removal_grounds --version 2
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.versions import publish_version
    from engine.cli import wiring

    svc = _version_service(db_url, files)
    compiled = svc.registry.get(name, version)
    new = publish_version(svc, compiled, at=wiring.now(), actor=wiring.actor(actor, role))
    d = compiled.definition
    click.echo(f"{'stored' if new else 'already stored, unchanged:'} {d.id} version "
               f"{d.version} (sha256 {compiled.content_hash[:12]}, in force from "
               f"{d.effective_from})")


@process.command()
@click.argument("name")
@click.option("--from", "from_version", type=int, required=True, help="Version cases run on.")
@click.option("--to", "to_version", type=int, required=True, help="Version to move them to.")
@click.option("--map", "maps", multiple=True, metavar="OLD=NEW",
              help="Move cases in state OLD to state NEW (repeat; states with the same name "
                   "map to themselves).")
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option("--on", "on", default="today", show_default=True,
              help="The date the migration takes effect (YYYY-MM-DD).")
@_file_option
@db_option
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@click.option("--role", envvar="CME_ROLE", default="policy_owner", show_default=True,
              help="Your role (or CME_ROLE).")
@json_option
@handle_errors
def migrate(name: str, from_version: int, to_version: int, maps: tuple[str, ...], dry_run: bool,
            on: str, files: tuple[str, ...], db_url: str | None, actor: str | None, role: str,
            as_json: bool) -> None:
    """Move running cases to another version with an explicit state mapping.

    Each case gets a migration event and its timers are recomputed under the new rules. Cases
    in states the new version lacks, with no --map, are listed and left alone.

    \b
    Example:
      cme process migrate untraceable_cme --from 1 --to 2 --dry-run \
        --map tracing_continues=closure_decision
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.cases.versions import find_version, parse_mapping, plan_migration, run_migration
    from engine.cli import wiring
    from engine.cli.common import DATE

    svc = _version_service(db_url, files)
    who = wiring.actor(actor, role)
    day = DATE.convert(on, None, None)
    plan = plan_migration(svc, name, from_version=from_version,
                          to=find_version(svc, name, to_version), mapping=parse_mapping(maps),
                          on=day, actor=who)
    result = None if dry_run else run_migration(svc, plan, at=wiring.now(), actor=who)
    if as_json:
        print_json({
            "dry_run": dry_run, "process": name, "from": from_version, "to": to_version,
            "on": day,
            "moves": [{"case_id": m.case.id, "from_state": m.case.state, "to_state": m.to_state,
                       "deadlines": [d.__dict__ for d in m.deadlines]} for m in plan.moves],
            "left_alone": [{"case_id": c, "state": s} for c, s in plan.unmapped],
            "migrated": [r.case.id for r in result.migrated] if result else [],
            "failed": [{"case_id": c, "error": e} for c, e in result.failed] if result else [],
        })
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
    return CaseService(open_store(db_url), registry)


def _definition_version(name: str, version: int, files: tuple[str, ...],
                        db_url: str | None) -> Any:
    """A version's definition from --file, processes/ or (if there is one) the database."""
    for path in files:
        loaded = load_process_file(path)
        if loaded.id == name and loaded.version == version:
            return loaded.definition
    try:
        return _resolve(name, version).definition
    except UnknownProcess:
        from engine.store.database import DEFAULT_SQLITE_PATH

        if db_url is None and not DEFAULT_SQLITE_PATH.exists():
            raise
    from engine.cases.versions import find_version

    return find_version(_version_service(db_url, files), name, version).definition


def _print_migration(plan: Any, result: Any, *, dry_run: bool) -> None:
    d = plan.to.definition
    click.echo(f"{d.id}: version {plan.from_version} → {d.version}, taking effect "
               f"{plan.on.isoformat()}" + (" (dry run: nothing written)" if dry_run else ""))
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
            click.echo(f"  {case_id}: {state} (version {d.version} has no such state; "
                       f"add --map {state}=NEW)")
    if dry_run or result is None:
        click.echo(f"{_count(len(plan.moves), 'case')} would move.")
        return
    click.echo(f"migrated {_count(len(result.migrated), 'case')}: one migration event each, "
               f"timers recomputed under version {d.version}")
    for case_id, error in result.failed:
        click.echo(f"  not migrated: {case_id}: {error}", err=True)


# --- helpers ---------------------------------------------------------------------------------


def _load_all(paths: tuple[str, ...]) -> tuple[list[LoadedProcess], list[Issue]]:
    files: list[ProcessPath] = list(process_files()) if not paths else expand_paths(paths)
    if not files:
        click.echo("no process files found", err=True)
    loaded: list[LoadedProcess] = []
    issues: list[Issue] = []
    for path in files:
        try:
            loaded.append(load_process_file(path))
        except DefinitionError as exc:
            issues.extend(exc.issues)
    issues.extend(duplicate_issues(loaded))
    return loaded, issues


def _fail_on(issues: list[Issue]) -> None:
    if issues:
        raise DefinitionError(issues)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(item: LoadedProcess) -> str:
    defn = item.definition
    timers = sum(len(s.timers) for s in defn.states.values())
    return (
        f"{defn.id} version {defn.version}, {_count(len(defn.states), 'state')}, "
        f"{_count(len(defn.triggers), 'trigger')}, {_count(len(defn.checks()), 'check')}, "
        f"{_count(timers, 'timer')}; sha256 {item.content_hash[:12]}"
    )


def _resolve(name: str, version: int | None) -> LoadedProcess:
    """A process by path, or by id among the shipped ones (latest version unless given)."""
    if name.endswith((".yaml", ".yml")) or os.sep in name or Path(name).is_file():
        loaded = load_process_file(name)
        if version is not None and loaded.version != version:
            raise UnknownProcess(f"{name} is version {loaded.version}, not {version}")
        return loaded
    found: list[LoadedProcess] = []
    issues: list[Issue] = []
    for path in process_files():
        try:
            found.append(load_process_file(path))
        except DefinitionError as exc:
            issues.extend(exc.issues)
    matching = sorted((p for p in found if p.id == name), key=lambda p: p.version)
    if version is not None:
        matching = [p for p in matching if p.version == version]
    if matching:
        return matching[-1]
    if issues:
        raise DefinitionError(issues)  # the one asked for may be among the broken files
    known = {p.id for p in found}
    if version is not None and name in known:
        versions = ", ".join(str(p.version) for p in found if p.id == name)
        raise UnknownProcess(f"process {name!r} has no version {version}; shipped: {versions}")
    raise UnknownProcess(
        f"no shipped process {name!r}"
        + suggest(name, known, what="processes")
        + "; or give a path to a YAML file"
    )


def _emit(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


def _print_summary(loaded: LoadedProcess) -> None:
    from rich.console import Console

    from engine.language.diagram import timer_when

    defn = loaded.definition
    console = Console(highlight=False)
    applies = defn.applies.cases_opened_from or defn.effective_from
    console.print(f"[bold]{defn.title}[/bold]  ({defn.id}, version {defn.version})")
    console.print(
        f"In force from {defn.effective_from}; applies to cases opened from {applies}. "
        f"Source: {defn.source.document or ''} {defn.source.section}".rstrip()
    )
    console.print(
        f"Clock: {defn.clock.unit.value.replace('_', ' ')}; Day 1 is {defn.clock.day_one}. "
        f"File: {display_path(loaded.path)} (sha256 {loaded.content_hash[:12]})"
    )

    roles = _table("Roles", "role", "title")
    for role_id, role in defn.roles.items():
        roles.add_row(role_id, role.title)
    console.print(roles)

    if defn.facts:
        facts = _table("Facts guards may read", "fact", "type", "meaning")
        for fact_id, fact in defn.facts.items():
            kind = fact.type.value + (f" ({', '.join(fact.values)})" if fact.values else "")
            facts.add_row(fact_id, kind, fact.description)
        console.print(facts)

    states = _table("States", "state", "days", "checklist", "timers", lines=True)
    for state_id, state in defn.states.items():
        name = f"[bold]{state_id}[/bold]\n{state.title}"
        if state_id == defn.initial:
            name += "\n(initial)"
        if state.terminal:
            name += "\n(terminal)"
        checklist = "\n".join(
            f"{'•' if c.required else '◦'} {c.id}" + (f" ({c.days})" if c.days else "")
            for c in state.checklist
        )
        timers = "\n".join(
            f"{timer_when(t)}: "
            + (f"fire {t.fire}" if t.fire else f"escalate to {_escalation(t.escalate)}")
            for t in state.timers
        )
        states.add_row(name, str(state.days or ""), checklist, timers)
    console.print(states)

    steps = _table("Who may do what", "trigger", "from → to", "who", "needs first", lines=True)
    for trig in defn.triggers:
        source = "any open state" if trig.source == "*" else ", ".join(trig.source)
        who = ", ".join(trig.roles) or "timer only"
        if trig.roles and trig.by_timer:
            who += ", or a timer"
        needs = [f"check {c}" for c in trig.requires_checks]
        needs += [f"fact {f}" for f in trig.requires_facts]
        needs += [g.says for g in trig.guards]
        steps.add_row(
            f"[bold]{trig.id}[/bold]\n{trig.title}",
            f"{source} → {trig.dest or '(stays in its state)'}",
            who,
            "\n".join(needs),
        )
    console.print(steps)
    if defn.questions:
        console.print("[bold]Questions for the policy owner[/bold]")
        for question in defn.questions:
            console.print(f"  • {question}")


def _table(title: str, *columns: str, lines: bool = False) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=lines)
    for column in columns:
        # fold, never truncate: an id cut to "notification_recei…" is useless to type back
        table.add_column(column, overflow="fold")
    return table


def _escalation(escalate: Any) -> str:
    return str(escalate.to_role) if escalate is not None else "?"
