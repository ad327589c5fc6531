"""The email directory a policy owner edits: loading with placed errors; resolving recipients."""

from __future__ import annotations

import pytest

from adapters.notify.recipients import load_recipients
from engine.effects.ports import DeliveryFailed
from engine.errors import DefinitionError


def _context(**facts):
    return {
        "case": {"id": "CME-000001", "assigned_officer": "sona"},
        "notifier": {"email": "attendance@school.example"},
        "facts": facts,
    }


def test_shipped_directory_resolves_roles_parties_and_the_case() -> None:
    book = load_recipients()
    assert book.addresses("mash", _context()) == ["mash@camden.example"]
    assert book.addresses("cme_officer", _context()) == ["sona.ruparell@camden.example"]
    assert book.addresses("notifier", _context()) == ["attendance@school.example"]
    assert book.addresses("destination_la", _context(destination_la="islington")) == [
        "cme@islington.example"
    ]


@pytest.mark.parametrize(
    ("recipient", "context", "message"),
    [
        (
            "destination_la",
            _context(destination_la="Atlantis"),
            "no CME Officer address for the local authority 'Atlantis'",
        ),
        ("destination_la", _context(), "records no destination_la"),
        ("connexions", _context(), "no email address for 'connexions'"),
        ("notifier", {"notifier": {"email": None}}, "the case has no email address for notifier"),
    ],
)
def test_unknown_recipients_fail_the_delivery_with_a_reason(recipient, context, message) -> None:
    with pytest.raises(DeliveryFailed, match=message):
        load_recipients().addresses(recipient, context)


def test_a_bad_directory_names_each_problem_with_its_line(tmp_path) -> None:
    path = tmp_path / "recipients.yaml"
    path.write_text(
        "kind: recipients\nversion: 1\naddresses:\n  mash: not-an-address\n"
        "officers:\n  sona: [a@b.example]\nemails: {}\n"
    )
    with pytest.raises(DefinitionError) as err:
        load_recipients(path)
    text = str(err.value)
    assert "invalid for 3 reasons" in text
    assert f"{path}:4:9: addresses.mash.0: Value error, 'not-an-address' is not an email" in text
    assert f"{path}:6:9:" in text
    assert f"{path}:7:9: unknown key 'emails'" in text
