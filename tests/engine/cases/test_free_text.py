"""Free text's rule: a size cap stated in the refusal, control characters refused where they are."""

from __future__ import annotations

import pytest

from engine.cases.free_text import MAX_FREE_TEXT_CHARS, UnsafeText, check_free_text


def test_ordinary_text_with_newlines_and_tabs_is_accepted() -> None:
    text = "Visited 12 Acacia Road.\n\tNeighbour: family moved to Leeds — école Saint-Éloi."
    assert check_free_text(text, what="note") == text


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("no answer\x1b[2J", "ESC (U+001B) at line 1, column 10"),
        ("line one\nsafe \u202eevil", "RIGHT-TO-LEFT OVERRIDE (U+202E) at line 2, column 6"),
        ("a\x9bb", "U+009B"),
        ("over\rwrite", "carriage return (U+000D) at line 1, column 5"),
        ("x\x00", "NUL (U+0000)"),
        ("isolate \u2066x", "U+2066"),
    ],
)
def test_control_characters_are_refused_with_their_place(text: str, place: str) -> None:
    with pytest.raises(UnsafeText, match="outcome") as refused:
        check_free_text(text, what="outcome")
    assert place in str(refused.value)


def test_the_size_cap_is_stated_in_the_refusal() -> None:
    check_free_text("x" * MAX_FREE_TEXT_CHARS, what="note")
    with pytest.raises(UnsafeText) as refused:
        check_free_text("x" * (MAX_FREE_TEXT_CHARS + 1), what="note")
    assert f"{MAX_FREE_TEXT_CHARS:,}" in str(refused.value)
    assert f"{MAX_FREE_TEXT_CHARS + 1:,} characters" in str(refused.value)


def test_empty_text_is_refused() -> None:
    with pytest.raises(UnsafeText, match="empty"):
        check_free_text("  \n", what="reason")
