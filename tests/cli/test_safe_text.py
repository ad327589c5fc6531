"""The one function every renderer prints stored text through: nothing stored can drive the
terminal."""

from __future__ import annotations

import pytest

from engine.cli.common import safe_text


def test_escape_sequences_and_bidi_overrides_are_shown_not_obeyed() -> None:
    shown = safe_text("no answer\x1b[2J\x1b]0;pwned\x07 \u202egnp.exe\x9b")
    for raw in ("\x1b", "\u202e", "\x07", "\x9b"):
        assert raw not in shown
    assert shown == "no answer\\x1b[2J\\x1b]0;pwned\\x07 \\u202egnp.exe\\x9b"


def test_newlines_tabs_and_letters_are_kept() -> None:
    assert safe_text("Éloi\tLeeds\nline two") == "Éloi\tLeeds\nline two"


def test_none_is_empty_and_rich_markup_can_be_escaped() -> None:
    assert safe_text(None) == ""
    assert safe_text("[bold]x[/bold]", markup=True) == "\\[bold]x\\[/bold]"
    assert safe_text("[bold]x") == "[bold]x"


def test_a_document_printed_to_a_terminal_is_made_safe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from engine.cli.common import echo_document

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    echo_document("Ana\x1b[2J,\u202e2015\x9b\n")
    assert capsys.readouterr().out == "Ana\\x1b[2J,\\u202e2015\\x9b\n"
