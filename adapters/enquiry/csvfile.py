"""Enquiry systems (policy section 8): one way to record a check and a file of batch results.

A check against MASH, the Camden Resident Index, Housing, Council Tax, YOS, the NHS Spine or
GIAP is recorded through `record_enquiry` (the system, date, outcome and officer, as the case's
check of that system). `CsvEnquirySource` reads a batch of results as CSV with columns
`case_id, system, checked_on, outcome, officer` (header row required; `system` one of
`SYSTEM_CHECKS`), and `import_enquiries` records them all or none. The same case, system and
date is never recorded twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from adapters.imports.csvfile import RowParser, read_csv
from engine.cases.imports import ImportResult, ImportRow, RowProblem, run_import
from engine.cases.service import Actor, CaseService
from engine.effects.ports import EnquiryResult

KIND = "enquiry"
SYSTEM_CHECKS: dict[str, str] = {
    "mash": "mash_check",
    "resident_index": "camden_resident_index_check",
    "housing": "housing_check",
    "council_tax": "council_tax_check",
    "yos": "yos_check",
    "nhs_spine": "nhs_spine_check",
    "giap": "giap_check",
}
"""Each enquiry system and the untraceable_cme check (Appendix 7) that records it."""
REQUIRED = ("case_id", "system", "checked_on", "outcome", "officer")


def record_enquiry(
    service: CaseService, result: EnquiryResult, *, at: dt.datetime, role: str = "cme_officer"
) -> str:
    """Record one enquiry result as the case's check of that system; returns the check id."""
    check = SYSTEM_CHECKS[result.system]
    service.record_check(
        result.case_id,
        check,
        on=result.on,
        at=at,
        actor=Actor(result.officer, role),
        outcome=result.outcome,
    )
    return check


class CsvEnquirySource:
    """Batch enquiry results from a CSV file (the engine's `EnquirySource`)."""

    def __init__(self, path: str | Path, *, today: dt.date) -> None:
        self.file = read_csv(path, required=REQUIRED)
        self.problems: list[RowProblem] = []
        self.lines: list[int] = []
        self._results: list[EnquiryResult] = []
        for row in self.file.rows:
            p = RowParser(row, self.problems)
            case_id = p.text("case_id")
            system = p.choice("system", tuple(SYSTEM_CHECKS))
            on = p.date("checked_on", not_after=today)
            outcome = p.text("outcome")
            officer = p.text("officer")
            if p.ok:
                assert case_id
                assert system
                assert on
                assert outcome
                assert officer
                self._results.append(
                    EnquiryResult(
                        case_id=case_id, system=system, on=on, outcome=outcome, officer=officer
                    )
                )
                self.lines.append(row.line)

    def results(self) -> list[EnquiryResult]:
        """Every valid result in the file (the bad rows are in `problems`)."""
        return list(self._results)


def import_enquiries(
    service: CaseService, path: str | Path, *, at: dt.datetime, role: str = "cme_officer"
) -> ImportResult:
    """Check every row, then record every result, or none."""
    source = CsvEnquirySource(path, today=at.date())
    rows = [
        ImportRow(
            line=line, key=f"{r.case_id}|{r.system}|{r.on.isoformat()}", run=_runner(r, at, role)
        )
        for line, r in zip(source.lines, source.results(), strict=True)
    ]
    return run_import(
        service,
        kind=KIND,
        source=source.file.path,
        file_sha256=source.file.sha256,
        rows=rows,
        problems=source.problems,
        at=at,
    )


def _runner(result: EnquiryResult, at: dt.datetime, role: str) -> Callable[[CaseService], str]:
    def run(service: CaseService) -> str:
        return f"{result.case_id}: {record_enquiry(service, result, at=at, role=role)}"

    return run


__all__ = ["SYSTEM_CHECKS", "CsvEnquirySource", "import_enquiries", "record_enquiry"]
