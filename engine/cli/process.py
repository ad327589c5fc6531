"""`cme process …`: what a policy owner runs on process YAML: validate, lint, show, diagram, schema.

Thin over `engine.language.loader`, `engine.language.lint` and `engine.language.diagram`; imports
no database code, so it runs without one (a test pins that SQLAlchemy is never imported). The
group's version commands (diff, impact, publish, migrate) are in `engine.cli.versions`.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli import LazyGroup
from engine.cli.common import handle_errors, json_option, print_json
from engine.errors import DefinitionError, Issue, UnknownProcess, suggest
from engine.language.json_schema import schema_text, shipped_schema_text
from engine.language.loader import (
    LoadedProcess,
    ProcessPath,
    display_path,
    duplicate_issues,
    expand_paths,
    load_process_file,
    process_files,
)

if TYPE_CHECKING:
    from rich.table import Table


# Comparing, publishing and migrating versions live in engine/cli/versions.py (they need the
# database); listed here so `cme process --help` names them without importing that module.
_VERSION_COMMANDS = {
    "diff": (
        "engine.cli.versions",
        "diff",
        "What changed between two versions: states, days, checks, timers, guards, roles, facts.",
    ),
    "impact": (
        "engine.cli.versions",
        "impact",
        "What a version would do to running cases, in plain words, before it is published.",
    ),
    "publish": (
        "engine.cli.versions",
        "publish",
        "Store a process version in the database, so cases can run under it and be replayed.",
    ),
    "migrate": (
        "engine.cli.versions",
        "migrate",
        "Move running cases to another version with an explicit state mapping.",
    ),
    "list": (
        "engine.cli.commence",
        "list_",
        "Every version of each process, shipped or stored: in force, pending, superseded or "
        "future.",
    ),
    "commence": (
        "engine.cli.commence",
        "commence",
        "Give a pending version (one with no effective_from) the date it comes into force.",
    ),
}


def _stored_db_option(func: Any) -> Any:
    return click.option(
        "--db",
        "db_url",
        envvar="CME_DATABASE_URL",
        default=None,
        help="Also look for versions stored in this database (e.g. published from a file "
        "outside processes/).",
    )(func)


@click.group(cls=LazyGroup, lazy=_VERSION_COMMANDS)
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
    newest: dict[str, int] = {}
    for item in loaded:
        newest[item.id] = max(newest.get(item.id, 0), item.version)
    for item in loaded:
        found = lint_process(item)
        if item.version < newest[item.id]:
            # An earlier version kept unchanged (its text is pinned by cases and by its hash):
            # it cannot be marked, so it is not asked to say its rules' basis.
            found = [i for i in found if i.code != "unmarked_basis"]
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
@_stored_db_option
@json_option
@handle_errors
def show(name: str, version: int | None, db_url: str | None, as_json: bool) -> None:
    """A readable summary: states and day windows, checklists, timers, who may do what.

    NAME is a process id (shipped in processes/, or any version stored in the database) or a
    path to a YAML file.

    \b
    Example:
      cme process show untraceable_cme --version 1
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    loaded = _resolve(name, version, db_url)
    commenced = None
    if loaded.definition.pending and loaded.path.startswith("stored:"):
        from engine.cli.stored import stored_effective_from

        commenced = stored_effective_from(loaded.id, loaded.version, db_url)
    if as_json:
        from engine.language.lint import edges

        print_json(
            {
                "path": loaded.path,
                "content_hash": loaded.content_hash,
                "definition": loaded.definition.model_dump(mode="json"),
                "in_force_from": loaded.definition.effective_from or commenced,
                "transitions": [
                    {"source": s, "trigger": t, "dest": d} for s, t, d in edges(loaded.definition)
                ],
                "switched_off": _switched_off(loaded),
            }
        )
        return
    _print_summary(loaded, commenced)


@process.command()
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (Markdown, mermaid.live), Graphviz DOT, or SVG (drawn without Graphviz).",
)
@click.option("--version", "version", type=int, default=None, help="Version (default: latest).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file."
)
@click.option(
    "--changes-from",
    "changes_from",
    default=None,
    metavar="VERSION|FILE",
    help="Mark what changed since this version (a number, or a process file): new in green, "
    "changed in orange, and list what was removed.",
)
@click.option(
    "--graphviz",
    is_flag=True,
    help="Draw the SVG with Graphviz's `dot` program (must be installed) instead.",
)
@_stored_db_option
@handle_errors
def diagram(
    name: str,
    fmt: str,
    version: int | None,
    output: str | None,
    changes_from: str | None,
    graphviz: bool,
    db_url: str | None,
) -> None:
    """Draw the process as a flowchart: every state, step and timer.

    NAME is a process id (shipped in processes/, or any version stored in the database) or a
    path to a YAML file. SVG is drawn without Graphviz. `--changes-from 1` marks what changed
    since version 1 (looked for in processes/, then the database; or give its file).

    \b
    Example:
      cme process diagram untraceable_cme --format svg --output untraceable_cme.svg
    """  # noqa: D301 (click's \b keeps the example unwrapped)
    from engine.language.diagram import to_dot, to_mermaid, to_svg

    loaded = _resolve(name, version, db_url)
    changes = None
    if changes_from is not None:
        from engine.language.diagram_changes import diagram_changes

        if changes_from.isdigit():
            before = _resolve(loaded.id, int(changes_from), db_url).definition
        else:
            before = load_process_file(changes_from).definition
        changes = diagram_changes(before, loaded.definition)
    if fmt == "svg":
        text = to_svg(loaded.definition, changes, graphviz=graphviz)
    else:
        text = {"mermaid": to_mermaid, "dot": to_dot}[fmt](loaded.definition, changes)
    _emit(text, output)


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


def _resolve(name: str, version: int | None, db_url: str | None = None) -> LoadedProcess:
    """A process by path, or by id among the shipped ones (latest version unless given), else
    among the versions the database holds (published from a file outside processes/).
    """
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
    # Not shipped: a version published from a file elsewhere is read from the database.
    from engine.cli.stored import stored_process, stored_versions

    held = stored_versions(name, db_url)
    wanted = version if version is not None else (held[-1] if held else None)
    stored = None if wanted is None else stored_process(name, wanted, db_url)
    if stored is not None:
        return stored
    if issues:
        raise DefinitionError(issues)  # the one asked for may be among the broken files
    known = {p.id for p in found}
    if version is not None and (name in known or held):
        shipped = sorted(p.version for p in found if p.id == name)
        every = ", ".join(map(str, sorted({*shipped, *held}))) or "none"
        raise UnknownProcess(
            f"process {name!r} has no version {version} in processes/ or in the database; "
            f"known versions: {every} (shipped: {', '.join(map(str, shipped)) or 'none'}; "
            f"stored: {', '.join(map(str, held)) or 'none'})",
            process=name,
            version=version,
        )
    raise UnknownProcess(
        f"no shipped or stored process {name!r}"
        + suggest(name, known, what="processes")
        + "; or give a path to a YAML file"
    )


def _emit(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from engine.cli.output import write_output

    write_output(output, text, personal=False)
    click.echo(f"wrote {output}", err=True)


def _print_summary(loaded: LoadedProcess, commenced: dt.date | None = None) -> None:  # noqa: C901 (one line per part of a process summary)
    from rich.console import Console
    from rich.markup import escape

    from engine.language.diagram import timer_when

    defn = loaded.definition
    console = Console(highlight=False)
    applies = defn.applies_from(commenced)
    console.print(f"[bold]{defn.title}[/bold]  ({defn.id}, version {defn.version})")
    when = (
        f"Pending: in force once a policy owner gives the date ({defn.commencement})"
        if applies is None
        else f"In force from {defn.effective_from or commenced}; applies to cases opened from "
        f"{applies}"
    )
    console.print(
        f"{when}. Source: {defn.source.document or ''} {defn.source.section}".rstrip(),
        soft_wrap=True,
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
            meaning = fact.description
            if fact.derived is not None:
                # Counted by the engine, never typed: say from which dates.
                from engine.language.derived import how_counted

                kind += ", counted"
                meaning += f" Counted by the engine: {how_counted(fact.derived)}."
            facts.add_row(fact_id, kind, meaning)
        console.print(facts)

    states = _table("States", "state", "days", "checklist", "timers", lines=True)
    for state_id, state in defn.states.items():
        name = f"[bold]{state_id}[/bold]\n{state.title}"
        if state_id == defn.initial:
            name += "\n(initial)"
        if state.terminal:
            name += "\n(terminal)"
        name += f"\n({_basis(defn, state.ref)})"
        checklist = "\n".join(
            f"{'•' if c.required else '◦'} {c.id}"
            + (f" ({c.days})" if c.days else "")
            + f" — {_basis(defn, c.source, c.la_choice, state.ref)}"
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
        needs += [
            f"{escape(g.says)} ({_basis(defn, g.source, g.la_choice, trig.ref)})"
            for g in trig.guards
        ]
        needs += [
            f"does: {escape(a.wording)} ({_basis(defn, a.source, a.la_choice, trig.ref)})"
            for a in trig.actions
            if a.la_choice is not None
        ]
        steps.add_row(
            f"[bold]{trig.id}[/bold]\n{trig.title}\n({_basis(defn, trig.ref)})",
            f"{source} → {trig.dest or '(stays in its state)'}",
            who,
            "\n".join(needs),
        )
    console.print(steps)
    _print_choices(console, loaded)
    if defn.questions:
        console.print("[bold]Questions for the policy owner[/bold]")
        for question in defn.questions:
            console.print(f"  • {question}")


def _basis(defn: Any, source: Any, la_choice: str | None = None, within: Any = None) -> str:
    """A rule's basis in words, escaped for rich: `law: …`, `policy: …`, `LA choice: …`."""
    from rich.markup import escape

    from engine.language.basis import basis_of, basis_words

    return str(escape(basis_words(basis_of(defn, source, la_choice=la_choice, within=within))))


def _print_choices(console: Any, loaded: LoadedProcess) -> None:
    """The LA's own choices: each switch, and what it governs; a switched-off one's rules are
    listed as dropped (the running definition no longer has them).
    """
    from rich.markup import escape

    from engine.language.la_choices import governed

    written = loaded.as_written
    if not written.la_choices:
        return
    rules = governed(written)
    table = _table("LA choices (beyond the policy and the law)", "choice", "switch", "governs")
    for key, choice in written.la_choices.items():
        about = f"[bold]{key}[/bold]\n{escape(choice.says)}"
        if choice.why:
            about += f"\nWhy: {escape(choice.why)}"
        switch = "on" if choice.applies else "switched off"
        mark = "" if choice.applies else "(switched off, dropped) "
        table.add_row(about, switch, "\n".join(f"{mark}{escape(r)}" for r in rules.get(key, [])))
    console.print(table)
    console.print(
        f"Switch a choice off with `applies: false` under la_choices in "
        f"processes/{written.id}.yaml (and raise the version)."
    )


def _switched_off(loaded: LoadedProcess) -> dict[str, list[str]]:
    """The switched-off LA choices and the rules each drops, for `--json`."""
    from engine.language.la_choices import governed, switched_off

    rules = governed(loaded.as_written)
    return {key: rules.get(key, []) for key in sorted(switched_off(loaded.as_written))}


def _table(title: str, *columns: str, lines: bool = False) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=lines)
    for column in columns:
        # fold, never truncate: an id cut to "notification_recei…" is useless to type back
        table.add_column(column, overflow="fold")
    return table


def _escalation(escalate: Any) -> str:
    return str(escalate.to_role) if escalate is not None else "?"
