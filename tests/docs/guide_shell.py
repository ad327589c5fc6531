"""Running a guide's recipes as written: the ```sh blocks of a section, line by line.

A line is one of `cp SOURCE TARGET` (SOURCE from the repository), `export NAME=VALUE` or
`cme …` (through click's runner, in a temporary folder, on a temporary database, at a fixed
time); anything else fails the test, so a guide cannot name a command its test does not run.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli, wiring

REPO = Path(__file__).parents[2]
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
"""When the commands are recorded: a fixed time, after every date the recipes use."""


def section(text: str, heading: str) -> str:
    """The text under `heading` (e.g. "## From an edit to running cases"), up to the next
    heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1 :]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, flags=re.M)
    return rest[: stop.start()] if stop else rest


def commands(text: str) -> list[list[str]]:
    """The lines of each ```sh block, in order."""
    return [
        [line for line in block.splitlines() if line.strip()]
        for block in re.findall(r"^```sh\n(.*?)^```$", text, flags=re.M | re.S)
    ]


class GuideShell:
    """Runs a guide's lines in `folder`, on the database `folder/cme.db`."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder = folder
        self.env = {"CME_DATABASE_URL": f"sqlite:///{folder / 'cme.db'}", "CME_ACTOR": ""}
        self.out: dict[str, str] = {}
        """What each `cme` line printed, by the line as written."""
        monkeypatch.chdir(folder)
        monkeypatch.setattr(wiring, "now", lambda: NOW)

    def run(self, line: str) -> str:
        words = shlex.split(line, comments=True)
        if words[0] == "cp":
            shutil.copyfile(REPO / words[1], self.folder / words[2])
            return ""
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            self.env[name] = value
            return ""
        assert words[0] == "cme", f"the guide runs {words[0]!r}, which its test does not know"
        result = CliRunner().invoke(cli, words[1:], env=self.env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        self.out[line] = result.stdout
        return result.stdout

    def cme(self, *args: str) -> str:
        """A command of the test's own (opening cases, reading one), not one of the guide's."""
        return self.run(shlex.join(["cme", *args]))


def write_form(path: Path, *, on: dt.date, children: list[tuple[str, str]]) -> Path:
    """A notification form for children (name, date of birth), invented, dated `on`."""
    rows = "\n".join(
        f"  - {{full_name: {name}, date_of_birth: {born}, school: Kentish Town Primary School}}"
        for name, born in children
    )
    path.write_text(
        f"form: cme_notification\ndate: {on.isoformat()}\n"
        "notifier: {name: Jo Adeyemi, school_or_service: Kentish Town Primary School}\n"
        'parent_carer: {names: Rosa Costa, contact_numbers: ["07700 900456"]}\n'
        f"children:\n{rows}\n",
        encoding="utf-8",
    )
    return path
