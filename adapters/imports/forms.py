"""Importing CME notification forms (Appendix 6) as YAML or JSON files: one case per child.

All the files of one import are checked first and opened in one transaction, or none is. The
ledger key of a form is the sha256 of its content (as data, so a re-saved or renamed copy of the
same form is still the same form): importing it again opens nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.imports.csvfile import decode, read_bytes
from engine.cases.imports import ImportResult, ImportRow, RowProblem, run_import
from engine.cases.notification import NotificationForm, check_school_age, parse_form
from engine.cases.projection import canonical_json
from engine.cases.service import Actor, CaseService
from engine.errors import CMEError, InputError
from engine.language.yamlsafe import MAX_CHARS, load_yaml

KIND = "form"


def read_form(path: str | Path) -> tuple[NotificationForm, str]:
    """A notification form from a YAML or JSON file, and the sha256 of the file."""
    data = read_bytes(path)
    text = decode(path, data)
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    if str(path).lower().endswith(".json"):
        if len(text) > MAX_CHARS:
            raise InputError(
                f"{path}: {len(text):,} characters is too long for a notification "
                "form; is this the right file?"
            )
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
        except RecursionError:
            raise InputError(f"{path}: nested too deeply to be a notification form") from None
    else:
        raw = load_yaml(text, str(path)).data
    return parse_form(raw, source=str(path)), hashlib.sha256(data).hexdigest()


def import_forms(
    service: CaseService,
    paths: Sequence[str | Path],
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
    process: str = "untraceable_cme",
) -> ImportResult:
    """Open a case per child on each form, Day 1 being `on`; all forms or none."""
    problems: list[RowProblem] = []
    rows: list[ImportRow] = []
    digest = hashlib.sha256()
    for path in paths:
        try:
            form, sha = read_form(path)
            check_school_age(form, on=on)
        except CMEError as exc:
            problems.append(RowProblem(1, " ".join(str(exc).split()), file=str(path)))
            continue
        digest.update(sha.encode())
        key = hashlib.sha256(canonical_json(form.model_dump(mode="json")).encode()).hexdigest()
        rows.append(
            ImportRow(line=1, key=key, file=str(path), run=_opener(form, on, at, actor, process))
        )
    return run_import(
        service,
        kind=KIND,
        source="forms",
        file_sha256=digest.hexdigest(),
        rows=rows,
        problems=problems,
        at=at,
    )


def _opener(
    form: NotificationForm, on: dt.date, at: dt.datetime, actor: Actor, process: str
) -> Callable[[CaseService], str]:
    def run(service: CaseService) -> str:
        return ", ".join(service.open_case(form, on=on, at=at, actor=actor, process=process))

    return run


__all__ = ["import_forms", "read_form"]
