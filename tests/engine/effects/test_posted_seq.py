"""Marking a letter posted from a page rendered at an earlier event: refused as a concurrent
update, writing nothing (the web's case page passes the seq its form carried)."""

from __future__ import annotations

import pytest

from engine.cases.service import CaseService
from engine.effects.posted import mark_posted
from engine.errors import ConcurrentUpdate
from tests.conftest import RECORDED_AT
from tests.engine.effects.test_outbox import OFFICER
from tests.engine.effects.test_posted import POSTED, filed

__all__ = ["filed"]  # the fixture, used by name


def test_a_stale_expected_seq_is_refused_and_a_current_one_records(
    service: CaseService, filed: tuple[str, int]
) -> None:
    case_id, document_id = filed
    seq = service.get(case_id).seq
    service.add_note(case_id, "rang again", on=POSTED, at=RECORDED_AT, actor=OFFICER)
    with pytest.raises(ConcurrentUpdate):
        mark_posted(
            service, document_id, check="first_formal_letter_sent", on=POSTED, at=RECORDED_AT,
            actor=OFFICER, expected_seq=seq,
        )  # fmt: skip
    assert "first_formal_letter_sent" not in service.get(case_id).checks
    done = mark_posted(
        service, document_id, check="first_formal_letter_sent", on=POSTED, at=RECORDED_AT,
        actor=OFFICER, expected_seq=seq + 1,
    )  # fmt: skip
    assert done.seq == seq + 2
