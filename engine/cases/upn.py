"""Unique Pupil Numbers: the GovTalk v2.0 check-letter algorithm and validation of a whole UPN.

Owns: the check letter and the shape of a UPN (permanent or temporary). Does not own: whether a
UPN belongs to a real pupil, or matching pupils across records.
"""

from __future__ import annotations

from engine.errors import InputError

# The UPN alphabet: A–Z without I, O and S, which are never used (easily misread as 1, 0 and 5).
ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"
FORBIDDEN = frozenset("IOS")
UPN_LENGTH = 13


def _letter_problem(char: str, position: int) -> str | None:
    """Why `char` cannot be the letter at `position` (1-based), or None if it can."""
    if char in FORBIDDEN:
        return (
            f"character {position} is {char!r}, a letter never used in UPNs "
            f"(I, O and S are excluded)"
        )
    if char not in ALPHABET:
        return f"character {position} is {char!r}; it must be a letter from {ALPHABET}"
    return None


def _body_problems(body: str) -> list[str]:
    """Everything wrong with characters 2–13 of a UPN (given here as a 12-character string)."""
    problems = []
    for offset, char in enumerate(body[:11]):
        if not char.isascii() or not char.isdigit():
            problems.append(f"character {offset + 2} is {char!r}; characters 2–12 must be digits")
    last = body[11:12]
    if last and not (last.isascii() and last.isdigit()):
        # A letter in position 13 marks a temporary UPN.
        problem = _letter_problem(last, 13)
        if problem is not None:
            problems.append(f"{problem} (or a digit)")
    return problems


def check_letter(upn12: str) -> str:
    """The check letter for characters 2–13 of a UPN (the 12 characters after the check letter)."""
    if len(upn12) != UPN_LENGTH - 1:
        raise InputError(
            f"the check letter is computed from 12 characters (UPN characters 2–13); "
            f"got {len(upn12)}: {upn12!r}"
        )
    problems = _body_problems(upn12)
    if problems:
        raise InputError(f"cannot compute a check letter for {upn12!r}: " + "; ".join(problems))
    total = 0
    for position, char in enumerate(upn12, start=2):
        value = int(char) if char.isdigit() else ALPHABET.index(char)
        total += value * position
    return ALPHABET[total % 23]


def validate_upn(upn: str) -> str:
    """The UPN upper-cased and stripped, or `InputError` saying exactly what is wrong with it."""
    if not isinstance(upn, str):
        raise InputError(f"a UPN is text of 13 characters, not {type(upn).__name__}")
    value = upn.strip().upper()
    if len(value) != UPN_LENGTH:
        raise InputError(
            f"UPN {value!r} has {len(value)} characters; a UPN has exactly {UPN_LENGTH} "
            f"(a check letter, then 12 characters)"
        )
    problems = []
    first = _letter_problem(value[0], 1)
    if first is not None:
        problems.append(f"{first} (the check letter)")
    problems.extend(_body_problems(value[1:]))
    if problems:
        raise InputError(f"UPN {value!r} is malformed: " + "; ".join(problems))
    expected = check_letter(value[1:])
    if value[0] != expected:
        raise InputError(
            f"UPN {value!r} has check letter {value[0]!r} but its other 12 characters give "
            f"{expected!r}; check for a mistyped character"
        )
    return value
