"""Tables for people: what every terminal table of `cme` shares, so it reads at 80–100 columns.

Owns the console (the terminal's width, from COLUMNS when it is not a terminal; `--wide` for a
wider one), the table style (light rules, no side borders: the width goes to the text), and the
two kinds of column: an *id* column for what an officer must type back (case, check, step and
document ids), which is never wrapped, cut or shortened with an ellipsis; and a *text* column,
which wraps at spaces and folds a word too long for it rather than cut it. Every cell goes
through `safe_text`, so nothing stored can drive the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from engine.cli.common import safe_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

WIDE = 160
"""Columns `--wide` prints to (or the terminal's width, if it is wider)."""


def wide_option(func: Any) -> Any:
    """Add `--wide` to a command that prints a table."""
    return click.option(
        "--wide",
        is_flag=True,
        help=f"Print tables {WIDE} columns wide (e.g. to a file), whatever the terminal's width.",
    )(func)


def console(*, wide: bool = False) -> Console:
    """The console tables print to: the terminal's width (COLUMNS when not a terminal)."""
    from rich.console import Console

    con = Console(highlight=False)
    if wide and con.width < WIDE:
        con = Console(highlight=False, width=WIDE)
    return con


def table(title: str | None = None) -> Table:
    """An empty table in the shared style: a rule under the headings, no side borders."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
    )


def id_column(t: Table, heading: str) -> None:
    """A column of ids an officer types back: never wrapped, never cut."""
    t.add_column(heading, no_wrap=True, overflow="fold", min_width=len(heading))


def text_column(t: Table, heading: str, *, ratio: int | None = None) -> None:
    """A column of words: wrapped at spaces; a word too long for it folds, never cut."""
    t.add_column(heading, overflow="fold", ratio=ratio)


def cell(value: object, style: str = "") -> Text:
    """A cell's text: stored text made safe, never read as markup."""
    from rich.text import Text

    return Text(safe_text(value), style=style)


def lines(*parts: tuple[object, str] | object) -> Text:
    """A cell of several lines, each `value` or `(value, style)`; empty values are left out."""
    from rich.text import Text

    out = Text()
    for part in parts:
        value, style = part if isinstance(part, tuple) else (part, "")
        if value is None or value == "":
            continue
        if out:
            out.append("\n")
        out.append(safe_text(value), style=style)
    return out


def joined(values: Iterable[object], sep: str = ", ") -> str:
    """Values as one line of text (made safe)."""
    return sep.join(safe_text(v) for v in values)
