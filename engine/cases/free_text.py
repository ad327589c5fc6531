"""Free text an officer writes (notes, check outcomes, reasons): its size cap and the characters
it may not hold.

Owns the one rule every command applies before anything is written — at most
`MAX_FREE_TEXT_CHARS` characters, and no control characters (C0 and C1 except newline and tab,
DEL, ESC sequences) or bidirectional overrides, each refused with its place — and the
character class the CLI neutralises on output (`engine.cli.common.safe_text`). Text stored by
an earlier release is read as it is; only new input is checked. Does not own where text comes
from (the CLI reads files and standard input).
"""

from __future__ import annotations

import re
import unicodedata

from engine.errors import InputError

MAX_FREE_TEXT_CHARS = 20_000
"""The most characters one note, outcome or reason may hold (about eight printed pages)."""

UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
"""Characters that can move the cursor, recolour or rewrite a terminal, or reorder the text a
reader sees: C0 controls except tab and newline, DEL, C1 controls, and the bidirectional marks,
embeddings, overrides and isolates."""


class UnsafeText(InputError):
    """Free text refused: too long, or holding a character that could rewrite what a reader sees."""

    code = "unsafe_text"


def character_name(char: str) -> str:
    """A control character as people can read it, e.g. `ESC (U+001B)`."""
    names = {"\x1b": "ESC", "\r": "carriage return", "\x7f": "DEL", "\x00": "NUL"}
    name = names.get(char) or unicodedata.name(char, "") or "control character"
    return f"{name} (U+{ord(char):04X})"


def check_free_text(text: str, *, what: str) -> str:
    """Return `text` if it may be stored as `what` (e.g. "note", "outcome", "reason"); raise
    `UnsafeText` naming the cap, or the line and column of the first character refused.
    """
    if len(text) > MAX_FREE_TEXT_CHARS:
        raise UnsafeText(
            f"the {what} is {len(text):,} characters; one {what} may hold at most "
            f"{MAX_FREE_TEXT_CHARS:,}. Shorten it, or keep the long document elsewhere and "
            "refer to it"
        )
    found = UNSAFE_CHARACTERS.search(text)
    if found is not None:
        at = found.start()
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise UnsafeText(
            f"the {what} holds {character_name(found.group())} at line {line}, column {column} "
            f"(character {at + 1}); control characters and bidirectional overrides are not "
            "accepted: remove it (pasted text often carries them)"
        )
    if not text.strip():
        raise UnsafeText(f"the {what} is empty; say it in words")
    return text


def reason_with(flag_given: bool, reason: str | None, *, flag: str) -> str | None:
    """The reason that must come with `flag` (`--deliberate`, `--amend`): refused if the flag is
    given without one, or one is given without the flag; checked like any free text.
    """
    said = (reason or "").strip()
    if flag_given and not said:
        raise InputError(f"say why: {flag} needs a reason (--reason TEXT or --reason-file PATH)")
    if said and not flag_given:
        raise InputError(
            f"--reason goes with {flag}; to say why you took a step, give --note TEXT"
            if flag == "--deliberate"
            else f"--reason goes with {flag}"
        )
    return check_free_text(said, what="reason") if said else None


def given(**texts: str | None) -> dict[str, str]:
    """The personal part holding the free text a step was given, each checked (`note` is kept
    as `last_note`, a case's latest note; blank text is left out).
    """
    out: dict[str, str] = {}
    for what, text in texts.items():
        if text is not None and text.strip():
            out["last_note" if what == "note" else what] = check_free_text(text, what=what).strip()
    return out
