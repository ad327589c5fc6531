"""A letter in a UPN's 12th character (DfE GovTalk v2.0): only character 13 may be a letter.

Characters 2–12 are digits; character 13 is a digit (permanent UPN) or a letter from the UPN
alphabet (temporary UPN). A letter one place earlier must be refused even when the check letter
is computed as if it were allowed, or a mistyped temporary UPN would pass as a valid one.
"""

from __future__ import annotations

import pytest

from engine.cases.upn import ALPHABET, check_letter, validate_upn
from engine.errors import InputError


def _lenient_check_letter(body: str) -> str:
    """The check letter a validator that lets a letter in anywhere would compute."""
    total = sum(
        (int(c) if c.isdigit() else ALPHABET.index(c)) * position
        for position, c in enumerate(body, start=2)
    )
    return ALPHABET[total % 23]


@pytest.mark.parametrize("letter", list(ALPHABET))
def test_a_temporary_upn_has_its_letter_in_character_13(letter: str) -> None:
    body = "80120000101" + letter
    upn = check_letter(body) + body
    assert validate_upn(upn) == upn
    assert validate_upn(upn.lower()) == upn


@pytest.mark.parametrize("letter", ["A", "G", "Z"])
def test_a_letter_in_character_12_is_refused_whatever_its_check_letter(letter: str) -> None:
    body = "8012000010" + letter + "1"
    upn = _lenient_check_letter(body) + body
    with pytest.raises(InputError) as err:
        validate_upn(upn)
    assert f"character 12 is {letter!r}; characters 2–12 must be digits" in str(err.value)
    with pytest.raises(InputError, match=f"character 12 is {letter!r}"):
        check_letter(body)


def test_letters_in_characters_12_and_13_name_only_character_12() -> None:
    body = "8012000010AA"
    with pytest.raises(InputError) as err:
        validate_upn(_lenient_check_letter(body) + body)
    message = str(err.value)
    assert "character 12 is 'A'" in message
    assert "character 13" not in message


@pytest.mark.parametrize("position", range(2, 13))
def test_a_letter_in_any_of_characters_2_to_12_is_refused(position: int) -> None:
    body = list("801200001011")
    body[position - 2] = "B"
    text = "".join(body)
    with pytest.raises(InputError, match=f"character {position} is 'B'; characters 2–12"):
        validate_upn(_lenient_check_letter(text) + text)


def test_the_published_temporary_example_and_its_neighbour() -> None:
    assert validate_upn("G80120000101A") == "G80120000101A"
    with pytest.raises(InputError, match="character 12 is 'A'"):
        validate_upn("G8012000010A1")
