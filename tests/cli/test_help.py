"""Every `cme` command and sub-command answers `--help`, and its help ends with an example."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click
from click.testing import CliRunner

from engine.cli import cli


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of `command` and of every command under it, groups before their members."""
    yield path
    if isinstance(command, click.Group):
        # get_command, not .commands: the LazyGroup imports its members only when asked.
        ctx = click.Context(command, info_name=path[-1] if path else "cme")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"cme {' '.join(path)} lists {name!r} but cannot load it"
            yield from walk(sub, (*path, name))


def description(help_text: str) -> list[str]:
    """The paragraphs of a help page between its Usage line and its Options section."""
    body = help_text.split("\nOptions:\n", 1)[0]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body)]
    return [p for p in paragraphs[1:] if p]  # [0] is the Usage line


def parse_problem(args: list[str]) -> str | None:
    """Why click would refuse the command line `cme ARGS` (run nothing), or None if it parses.

    Files an example names need not exist here, so a path that is not there is not a problem.
    """
    command: click.Command = cli
    parent, name = None, "cme"
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        ctx = click.Context(command, info_name=name, parent=parent)
        sub = command.get_command(ctx, args[0])
        if sub is None:
            return f"no command {args[0]!r}"
        parent, command, name, args = ctx, sub, args[0], args[1:]
    try:
        command.make_context(name, list(args), parent=parent)
    except click.BadParameter as error:
        if error.param is None or not isinstance(error.param.type, click.Path | click.File):
            return error.format_message()
    except click.UsageError as error:
        return error.format_message()
    return None


def test_every_command_help_ends_with_an_example_of_itself() -> None:
    runner = CliRunner()
    paths = list(walk(cli))
    # The walk reaches the lazily loaded groups and their members, nested groups included.
    assert {(), ("case",), ("case", "open"), ("process", "validate"), ("demo",)} <= set(paths)
    missing = []
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        name = " ".join(("cme", *path))
        assert result.exit_code == 0, f"{name} --help: {result.output}"
        paragraphs = description(result.output)
        last = paragraphs[-1] if paragraphs else ""
        if not (last.startswith("Example: ") and name in last):
            missing.append(f"{name}: {last!r}")
    assert not missing, "help not ending in 'Example: <the command> ...':\n" + "\n".join(missing)


def test_every_example_is_a_command_line_cme_accepts() -> None:
    runner = CliRunner()
    problems = []
    for path in walk(cli):
        example = description(runner.invoke(cli, [*path, "--help"]).output)[-1]
        # An example may chain commands (&&) or redirect their output (>, |): parse each command.
        for line in example.removeprefix("Example: ").split("&&"):
            words = shlex.split(re.split(r"[>|]", line)[0])
            problem = parse_problem(words[1:]) if words[:1] == ["cme"] else "does not start cme"
            if problem:
                problems.append(f"{line.strip()}: {problem}")
    assert not problems, "examples cme would refuse:\n" + "\n".join(problems)
