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


LONGEST_WORD = 34
"""A text column is given at least its longest word, up to this many characters (the longest id
an officer might find inside a sentence, e.g. an escalation naming its check)."""


SHORT_WORD = 12
"""When even the longest words do not fit, words up to this long are still kept whole."""


def show(con: Console, t: Table) -> None:
    """Print `t` on `con` with its width shared out (`balance`)."""
    balance(t, con.width)
    con.print(t)


def balance(t: Table, width: int) -> None:
    """Share `width` among the text columns of a filled table so that none is squeezed below its
    longest word (up to `LONGEST_WORD`), the rest in proportion to what each would take
    beyond that. Rich alone narrows the widest columns first, which folds the ids inside a long
    message while short columns keep their room. Leaves the table alone if it fits as it is; if
    even the longest words do not fit, each column gets its share by its longest word (words
    then fold, never cut).
    """
    texts = [c for c in t.columns if not c.no_wrap and c.width is None]
    if not texts:
        return
    overhead = t._extra_width + sum(t._get_padding_width(i) for i in range(len(t.columns)))
    fixed = sum(_natural(c) for c in t.columns if c.no_wrap or c.width is not None)
    room = width - overhead - fixed
    natural = [_natural(c) for c in texts]
    if sum(natural) <= room:
        return
    floors = [min(n, _longest_word(c)) for n, c in zip(natural, texts, strict=True)]
    spare = room - sum(floors)
    if spare < 0:
        # Not even the longest words fit: short words (up to 12) stay whole, and the columns
        # with longer ones share what is left by their longest word.
        short = sum(f for f in floors if f <= SHORT_WORD)
        long_ = sum(f for f in floors if f > SHORT_WORD)
        left = room - short
        if not long_ or left < 8:
            return
        for column, floor in zip(texts, floors, strict=True):
            column.width = floor if floor <= SHORT_WORD else max(8, left * floor // long_)
        return
    wants = [n - f for n, f in zip(natural, floors, strict=True)]
    total = sum(wants) or 1
    for column, floor, want in zip(texts, floors, wants, strict=True):
        column.width = floor + spare * want // total


def _plain(value: object) -> str:
    plain = getattr(value, "plain", None)
    return plain if isinstance(plain, str) else str(value)


def _cells(column: Any) -> list[str]:
    return [_plain(column.header), *(_plain(c) for c in column._cells)]


def _natural(column: Any) -> int:
    return max((len(line) for text in _cells(column) for line in text.splitlines()), default=1)


def _longest_word(column: Any) -> int:
    longest = max((len(word) for text in _cells(column) for word in text.split()), default=1)
    return min(longest, LONGEST_WORD)


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
