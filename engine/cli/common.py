"""What every `cme` command shares: option types, JSON/table output, and the one error handler.

Imports nothing heavy at module level, so light commands stay light.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from engine.errors import CMEError, DefinitionError

F = TypeVar("F", bound=Callable[..., Any])


class ISODate(click.ParamType):  # type: ignore[type-arg]
    """A date written YYYY-MM-DD, or `today`."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:  # noqa: ARG002 (click's signature)
        if isinstance(value, dt.date):
            return value
        if value == "today":
            return dt.date.today()
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD (e.g. 2024-10-21)", param)


DATE = ISODate()


def json_option(func: F) -> F:
    """Add `--json` to a command."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def db_option(func: F) -> F:
    """Add `--db URL` (default: CME_DATABASE_URL, else SQLite in ./.cme/cme.db)."""
    return click.option(
        "--db",
        "db_url",
        envvar="CME_DATABASE_URL",
        default=None,
        help="Database URL (default: SQLite in .cme/cme.db; or set CME_DATABASE_URL).",
    )(func)


def actor_options(func: F) -> F:
    """Add `--actor` and `--role`, read from CME_ACTOR / CME_ROLE when not given."""
    func = click.option(
        "--role",
        envvar="CME_ROLE",
        default="cme_officer",
        show_default=True,
        help="Your role (or CME_ROLE).",
    )(func)
    return click.option(
        "--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR)."
    )(func)


def safe_text(value: object, *, markup: bool = False) -> str:
    r"""`value` as text safe to print on a terminal: every control character (C0/C1 except
    newline and tab, DEL, ESC), bidirectional override and isolate is shown as a visible escape
    (`\x1b`, `\u202e`), so nothing stored can recolour, move the cursor or reorder what a
    reader sees. None prints as "". With `markup=True` rich's markup (`[bold]`) is escaped too,
    for text given to a rich table or `Console.print`.

    Every renderer of stored text (case show, history, due, list, outbox, reports) uses this.
    """
    from engine.cases.free_text import UNSAFE_CHARACTERS

    text = "" if value is None else str(value)
    text = UNSAFE_CHARACTERS.sub(_visible_escape, text)
    if markup:
        from rich.markup import escape

        text = escape(text)
    return text


def _visible_escape(found: Any) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text_file_option(name: str, what: str) -> Callable[[F], F]:
    """Add `--NAME-file PATH` to a command: the `what` read from a file, or from standard input
    when PATH is `-` (for text too long or too awkward to quote on the command line).
    """

    def add(func: F) -> F:
        return click.option(
            f"--{name}-file",
            f"{name}_file",
            type=click.Path(dir_okay=False, allow_dash=True),
            default=None,
            help=f"Read the {what} from this file (`-`: standard input).",
        )(func)

    return add


_STDIN_READ = "cme.stdin_read"
"""Which free text a command read from standard input (it can be read once)."""


def free_text(value: str | None, file: str | None, *, option: str) -> str | None:
    """The free text a command was given: `--OPTION TEXT`, `--OPTION -` (standard input) or
    `--OPTION-file PATH` (`-`: standard input); None if neither. Both at once, an unreadable
    file, text that is not UTF-8 or longer than the engine's cap are refused (InputError); the
    engine checks the text itself (`engine.cases.free_text`) before anything is written.
    """
    from engine.cases.free_text import MAX_FREE_TEXT_CHARS
    from engine.errors import InputError

    if value is not None and file is not None:
        raise InputError(f"give --{option} or --{option}-file, not both")
    source = file if file is not None else ("-" if value == "-" else None)
    if source is None:
        return value
    # Four bytes per character at most in UTF-8: read no more than the cap can hold, plus one.
    limit = 4 * MAX_FREE_TEXT_CHARS + 1
    where = "standard input" if source == "-" else source
    if source == "-":
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            if ctx.meta.get(_STDIN_READ):
                raise InputError(
                    f"standard input was already read for the {ctx.meta[_STDIN_READ]}: give the "
                    f"{option} as text or with --{option}-file PATH"
                )
            ctx.meta[_STDIN_READ] = option
    try:
        if source == "-":
            data = sys.stdin.buffer.read(limit)
        else:
            with open(source, "rb") as handle:
                data = handle.read(limit)
    except OSError as exc:
        raise InputError(f"cannot read the {option} from {where}: {exc.strerror}") from None
    if len(data) >= limit:
        raise InputError(
            f"the {option} in {where} is longer than {MAX_FREE_TEXT_CHARS:,} characters, the "
            "most one may hold"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the {option} in {where} is not UTF-8 text (byte {exc.start + 1}); save it as UTF-8"
        ) from None
    # Windows line ends are line ends; a file's final newline is how files end, not part of
    # what was said.
    return text.replace("\r\n", "\n").removesuffix("\n")


def echo_document(text: str) -> None:
    """Print a document (CSV, a JSON bundle, HTML) on standard output: to a terminal through
    `safe_text`, so stored text cannot drive it (click strips only ANSI sequences, and only
    when it is not a terminal; C1 controls and bidirectional overrides pass it).
    """
    click.echo(safe_text(text) if sys.stdout.isatty() else text, nl=False)


def default_json(value: Any) -> Any:
    """JSON encoding for dates and other values the engine returns."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def print_json(value: Any) -> None:
    """Print `value` as stable, indented JSON."""
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=default_json))


def handle_errors(func: F) -> F:
    """Map engine errors to a message on stderr and the error's exit code; never a traceback.

    A command given `--json` prints the error as JSON instead (`CMEError.to_json`: a stable
    `error` code, the message and the error's facts), still on stderr, with the same exit code.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CMEError as exc:
            report_error(exc, as_json=bool(kwargs.get("as_json")) or _asked_for_json())
            sys.exit(exc.exit_code)
        except Exception as exc:
            translated = _damaged_database(exc)
            if translated is None:
                raise
            report_error(translated, as_json=bool(kwargs.get("as_json")) or _asked_for_json())
            sys.exit(translated.exit_code)

    return wrapper  # type: ignore[return-value]


def _damaged_database(exc: Exception) -> CMEError | None:
    """A damaged SQLite file met after it opened (a page the schema check did not read), in
    words; None for anything else, which stays a bug to see.
    """
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DatabaseError

    from engine.store.database import DatabaseUnusable

    said = str(getattr(exc, "orig", "") or "").strip()
    if not isinstance(exc, DatabaseError) or not ("malformed" in said or "not a database" in said):
        return None
    return DatabaseUnusable(
        f"the database is damaged ({said}); the command stopped and its transaction was rolled "
        'back. Restore the database from a backup (docs/deploy.md, "Backups and restores")'
    )


def report_error(exc: CMEError, *, as_json: bool) -> None:
    """Print an engine error on stderr: as JSON for scripts, else as text."""
    if as_json:
        click.echo(
            json.dumps(exc.to_json(), indent=2, sort_keys=True, default=default_json), err=True
        )
    elif isinstance(exc, DefinitionError):
        click.echo(safe_text(exc), err=True)
    else:
        # A refusal may quote stored text (a fact's value): shown, never obeyed.
        click.echo(f"error: {safe_text(exc)}", err=True)


def _asked_for_json() -> bool:
    """Whether the running command (or a group above it) was given `--json`."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False
