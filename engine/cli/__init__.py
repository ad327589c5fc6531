"""The `cme` command: one click group, a lazily imported sub-module per audience.

Sub-commands are imported only when named, so `cme --help`, `cme process …` and
`cme calendar …` never import SQLAlchemy. Errors from the engine are mapped to messages and
exit codes in one place (`engine.cli.common.run`).
"""

from __future__ import annotations

import gc
import importlib
from typing import Any

import click

# name -> (module, attribute, one-line help). The help is here so `cme --help` imports nothing.
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "process": ("engine.cli.process", "process", "Validate, lint, show and diagram processes."),
    "calendar": ("engine.cli.calendar", "calendar", "School days, day counts and school age."),
    "case": ("engine.cli.case", "case", "Open cases, record checks and facts, advance."),
    "due": ("engine.cli.case", "due", "What each officer must do on a date."),
    "tick": ("engine.cli.timers", "tick", "Fire every timer due up to a date, once, by hand."),
    "scheduler": ("engine.cli.timers", "scheduler", "Run the school-day sweep on a schedule."),
    "audit": ("engine.cli.audit", "audit", "Replay, verify, checkpoint and export histories."),
    "report": ("engine.cli.report", "report", "The CME register, RAG, MASH and returns reports."),
    "import": ("engine.cli.imports", "import_", "Import forms, roll returns and extracts."),
    "outbox": ("engine.cli.outbox", "outbox", "Letters and emails waiting to go, and retries."),
    "demo": ("engine.cli.demo", "demo", "A term of realistic cases run through the processes."),
    "admin": ("engine.cli.admin", "admin", "Roles, retention, legal hold, keys, backups."),
    "init": ("engine.cli.init", "init", "Make a new deployment: config, keys, database."),
    "doctor": ("engine.cli.doctor", "doctor", "Health checks; exit 0/1/2 for monitoring."),
    "serve": ("engine.cli.serve", "serve", "The web service for the CME team, in a browser."),
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when they are run or their help is asked.

    `lazy` maps a command name to (module, attribute, one-line help); commands added the usual
    way (`@group.command()`) sit beside them, so one group can span several modules.
    """

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = _COMMANDS if lazy is None else lazy

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 (click's signature)
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002 (click's signature)
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        spec = self.lazy.get(cmd_name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        command: click.Command = getattr(module, spec[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(map(len, self.list_commands(ctx)))
        rows = [
            (
                name,
                (
                    self.commands.get(name) or click.Command(name, help=self.lazy[name][2])
                ).get_short_help_str(limit),
            )
            for name in self.list_commands(ctx)
            if name in self.lazy or not self.commands[name].hidden
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The deployment's cme.toml (default: CME_CONFIG, beside the database, ./).",
)
@click.version_option(package_name="cme-engine")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Children Missing Education case-work engine.

    Example: cme --config /srv/cme/cme.toml case list
    """
    if config_path is not None:
        # engine.cli.wiring.CONFIG_META; the meta dict is shared with every sub-command.
        ctx.meta["cme.config"] = config_path


GC_FIRST_GENERATION = 20_000
"""Allocations between young-generation collections while `cme` runs (Python's default: 700)."""


def main(argv: Any = None) -> None:
    """Console-script entry point."""
    # A command loads ~70,000 long-lived objects (SQLAlchemy, pydantic, the engine) as it starts.
    # At Python's default threshold the cyclic collector scans them again and again while they
    # load, and once more as the interpreter exits: together about a fifth of `cme case show`'s
    # cold start (benchmarks/cold_start.py). A higher threshold still collects what long runs
    # (scheduler, demo, verify) leave behind; freezing at the end leaves the survivors unscanned.
    gc.set_threshold(GC_FIRST_GENERATION, 20, 20)
    try:
        cli.main(args=argv, prog_name="cme")
    finally:
        gc.freeze()
