"""Letters and email templates: rendered with the family's details, versioned by their text."""

from __future__ import annotations

import datetime as dt
import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from adapters.letters.renderer import PdfLetterRenderer, render_text
from adapters.notify.compose import TemplateComposer
from engine.cases.service import Actor
from engine.effects.outbox import OutboxItem, message_context
from engine.errors import InputError
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
OPENED = dt.date(2024, 10, 21)
LETTERS = ("first_formal_cme_letter", "second_formal_cme_letter", "untraceable_closure_notifier")


def _item(template: str, kind: str = "letter") -> OutboxItem:
    return OutboxItem(
        id=1,
        case_id="x",
        event_seq=2,
        kind=kind,
        recipient="parent_carer",
        template=template,
        channel="first_class_post",
        wording="Send the letter.",
        status="pending",
        attempts=0,
        last_error=None,
        created_on=OPENED,
        sent_at=None,
    )


@pytest.fixture
def context(service, example_form):
    """The message context of the example's first child, on Day 5."""
    (case_id, _) = service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.set_fact(
        case_id, "destination_la", "Islington", on=OPENED, at=RECORDED_AT, actor=OFFICER
    )
    service.record_check(
        case_id, "mash_check", on=OPENED, at=RECORDED_AT, actor=OFFICER, outcome="not known to MASH"
    )
    case = service.revealed(service.get(case_id))
    return message_context(
        service, case, _item("first_formal_cme_letter"), on=dt.date(2024, 10, 25)
    )


@pytest.mark.parametrize("template", LETTERS)
def test_each_letter_renders_to_a_pdf_with_the_familys_details(template, context) -> None:
    renderer = PdfLetterRenderer()
    letter = renderer.render(template, context)
    assert letter.content.startswith(b"%PDF-")
    assert letter.media_type == "application/pdf"
    assert letter.filename.endswith(f"-{template}-2024-10-25.pdf")
    assert len(letter.template_version) == 64
    text = render_text(renderer.env, f"{template}.txt.j2", context)
    assert "Ana Silva" in text
    assert "25 October 2024" in text
    if template == "untraceable_closure_notifier":
        assert "Dear Jo Adeyemi" in text
        assert "- mash check: 2024-10-21" in text
    else:
        assert "Dear Maria Silva" in text
        assert "Flat 3, 12 Example Street, London" in text


def test_the_template_version_changes_with_the_template_or_its_letterhead(tmp_path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(Path(str(files("adapters.letters").joinpath("templates"))), folder)
    shipped = PdfLetterRenderer().render
    context = {
        "child": {
            "full_name": "A",
            "date_of_birth": "2015-01-01",
            "school": None,
            "previous_school": None,
        },
        "parent_carer": {"names": "B", "address": None, "postcode": None},
        "case": {"id": "CME-1", "opened_on": OPENED},
        "on": OPENED,
    }
    before = shipped("first_formal_cme_letter", context).template_version
    assert (
        PdfLetterRenderer(folder).render("first_formal_cme_letter", context).template_version
        == before
    )
    base = folder / "_letter_base.txt.j2"
    base.write_text(base.read_text().replace("5 Pancras Square", "5 Pancras Sq"))
    after = PdfLetterRenderer(folder).render("first_formal_cme_letter", context)
    assert after.template_version != before


def test_a_template_naming_something_the_case_lacks_is_a_clear_error(tmp_path, context) -> None:
    (tmp_path / "bad.txt.j2").write_text("Dear {{ child.nickname }}")
    with pytest.raises(InputError, match="bad.*does not have.*nickname"):
        PdfLetterRenderer(tmp_path).render("bad", context)
    with pytest.raises(InputError, match="no template 'missing.txt.j2'"):
        PdfLetterRenderer(tmp_path).render("missing", context)


def test_templates_cannot_reach_python(tmp_path, context) -> None:
    (tmp_path / "evil.txt.j2").write_text("{{ child.__class__.__mro__ }}")
    with pytest.raises(InputError):
        PdfLetterRenderer(tmp_path).render("evil", context)


def _action_templates(registry) -> set[tuple[str, str]]:
    out = set()
    for compiled in registry:
        d = compiled.definition
        actions = [a for t in d.triggers for a in t.actions]
        actions += [a for s in d.states.values() for a in s.on_enter]
        out |= {(a.kind, a.template or "generic") for a in actions}
    return out | {("notify", "escalation")}


def test_every_template_the_processes_name_exists_and_renders(registry, context) -> None:
    letters, emails = PdfLetterRenderer(), TemplateComposer()
    for kind, template in sorted(_action_templates(registry)):
        if kind == "letter":
            assert letters.has_template(template), template
            continue
        assert emails.has_template(template), template
        subject, body = emails.compose(template, context)
        assert subject
        assert context["case"]["id"] in body
