"""UPN validation: the GovTalk check letter, published examples and every kind of mistake."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.cases.upn import ALPHABET, check_letter, validate_upn
from engine.errors import InputError

VALID = ["H801200001001", "G80120000101A", "B801200005001", "A950000178301"]


@pytest.mark.parametrize("upn", VALID)
def test_published_valid_examples(upn: str) -> None:
    assert validate_upn(upn) == upn
    assert check_letter(upn[1:]) == upn[0]


def test_normalises_case_and_surrounding_space() -> None:
    assert validate_upn("  g80120000101a\n") == "G80120000101A"


def test_wrong_check_letter() -> None:
    with pytest.raises(InputError) as err:
        validate_upn("A801200005001")
    assert "check letter 'A'" in str(err.value)
    assert "give 'B'" in str(err.value)


def test_forbidden_letter_in_position_13() -> None:
    with pytest.raises(InputError) as err:
        validate_upn("G80120000101S")
    assert "character 13 is 'S'" in str(err.value)
    assert "I, O and S are excluded" in str(err.value)


@pytest.mark.parametrize("letter", ["I", "O", "S"])
def test_forbidden_check_letters(letter: str) -> None:
    with pytest.raises(InputError, match=f"character 1 is '{letter}', a letter never used"):
        validate_upn(f"{letter}801200005001")


@pytest.mark.parametrize(
    ("upn", "fragment"),
    [
        ("B80120000500", "has 12 characters; a UPN has exactly 13"),
        ("B8012000050011", "has 14 characters"),
        ("", "has 0 characters"),
        ("1801200005001", "character 1 is '1'; it must be a letter"),
        ("B80120A005001", "character 7 is 'A'; characters 2–12 must be digits"),
        ("B801200005-01", "character 11 is '-'"),
        ("B80120000500£", "character 13 is '£'; it must be a letter"),
        ("B8012 0005001", "character 6 is ' '"),
    ],
)
def test_malformed(upn: str, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        validate_upn(upn)
    assert fragment in str(err.value)


def test_reports_every_malformed_character_at_once() -> None:
    with pytest.raises(InputError) as err:
        validate_upn("OA0120000500S")
    message = str(err.value)
    assert "character 1 is 'O'" in message
    assert "character 2 is 'A'" in message
    assert "character 13 is 'S'" in message


def test_not_text() -> None:
    with pytest.raises(InputError, match="not int"):
        validate_upn(801200005001)  # type: ignore[arg-type]


def test_check_letter_needs_twelve_characters() -> None:
    with pytest.raises(InputError, match="got 13"):
        check_letter("B801200005001")
    with pytest.raises(InputError, match="character 13 is 'O'"):
        check_letter("80120000500O")


BODY = st.tuples(
    st.text(alphabet="0123456789", min_size=11, max_size=11),
    st.sampled_from("0123456789" + ALPHABET),
).map(lambda parts: parts[0] + parts[1])


@given(BODY)
def test_any_body_with_its_check_letter_is_valid(body: str) -> None:
    upn = check_letter(body) + body
    assert validate_upn(upn) == upn


@given(BODY, st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=9))
def test_a_single_mistyped_digit_is_always_caught(body: str, index: int, delta: int) -> None:
    # Weights 2..13 and digit changes 1..9 are all below the prime 23, so no change cancels out.
    wrong = body[:index] + str((int(body[index]) + delta) % 10) + body[index + 1 :]
    assert check_letter(wrong) != check_letter(body)
    with pytest.raises(InputError, match="check letter"):
        validate_upn(check_letter(body) + wrong)
