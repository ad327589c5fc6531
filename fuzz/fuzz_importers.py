"""Fuzz the importers and the notification form reader against a real (temporary) database.

    .venv/bin/python -m fuzz.fuzz_importers --seconds 300 --seed 1

Each input is a mutated, well-formed import CSV (S2S, out-of-school, roll returns, enquiry
results) or notification form (YAML or JSON), sometimes as raw bytes in another encoding. It must
import or be refused with one of the engine's errors; a refusal must leave the database exactly
as it was (no partial import). Anything else is a crash, saved under out/fuzz/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import tempfile
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine.errors import CMEError
from fuzz.common import Budget, mutate, save

RECORDED_AT = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
ON = dt.date(2024, 11, 4)

SEEDS: dict[str, str] = {
    "s2s": "upn,surname,forename,date_of_birth,last_school,date_left,postcode\n"
           "H801200001001,Silva,Ana,2015-03-14,Kentish Town Primary,2024-10-01,NW1 0AA\n",
    "out-of-school": "child_name,date_of_birth,marked_by,marked_on,upn,parent_carer\n"
                     "Ana Silva,2015-03-14,Health visitor,2024-11-01,H801200001001,Maria\n",
    "roll-return": "school,change,change_date,child_name,date_of_birth,ground,received_on\n"
                   "Kentish Town Primary,deletion,2024-10-28,Ana Silva,2015-03-14,Ground G,"
                   "2024-10-30\n",
    "enquiry": "case_id,system,checked_on,outcome,officer\n"
               "CME-000001,mash,2024-10-25,not known to MASH,sona\n",
}


def _importers() -> dict[str, Callable[[Any, Path], Any]]:
    from adapters.enquiry.csvfile import import_enquiries
    from adapters.imports.forms import import_forms
    from adapters.imports.out_of_school import import_out_of_school
    from adapters.imports.roll_returns import import_roll_returns
    from adapters.imports.s2s import import_s2s
    from engine.cases.service import Actor

    officer = Actor("sona", "cme_officer")
    return {
        "s2s": lambda svc, p: import_s2s(svc, p, on=ON, at=RECORDED_AT, actor=officer),
        "out-of-school": lambda svc, p: import_out_of_school(svc, p, on=ON, at=RECORDED_AT,
                                                             actor=officer),
        "roll-return": lambda svc, p: import_roll_returns(svc, p, at=RECORDED_AT,
                                                          actor=Actor("head", "school")),
        "enquiry": lambda svc, p: import_enquiries(svc, p, at=RECORDED_AT, role="cme_officer"),
        "form": lambda svc, p: import_forms(svc, [p], on=dt.date(2024, 10, 21), at=RECORDED_AT,
                                            actor=officer),
    }


def _counts(service: Any) -> dict[str, int]:
    from sqlmodel import SQLModel

    with service.store.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in SQLModel.metadata.tables.items()}


def main() -> None:
    """Fuzz the importers for --seconds; print what happened."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from engine.cases.notification import parse_form
    from engine.cases.service import Actor, CaseService
    from engine.language.registry import ProcessRegistry
    from engine.language.yamlsafe import load_yaml
    from engine.store.database import open_store

    form_text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    seeds = dict(SEEDS, form=form_text)
    tmp = Path(tempfile.mkdtemp(prefix="cme-fuzz-"))
    service = CaseService(open_store(f"sqlite:///{tmp / 'cme.db'}"),
                          ProcessRegistry.from_package())
    service.open_case(parse_form(load_yaml(form_text, "form").data), on=dt.date(2024, 10, 21),
                      at=RECORDED_AT, actor=Actor("sona", "cme_officer"))
    importers = _importers()
    rng = random.Random(args.seed)
    budget = Budget(args.seconds)
    runs = crashes = imported = partial = 0
    slowest = 0.0
    while budget.left():
        kind = rng.choice(sorted(seeds))
        case_seed = rng.randrange(2**32)
        local = random.Random(case_seed)
        text = mutate(seeds[kind], local)
        data = text.encode(local.choice(("utf-8", "utf-8", "utf-8", "latin-1", "utf-16")),
                           "replace")
        suffix = ".json" if kind == "form" and local.random() < 0.2 else (
            ".yaml" if kind == "form" else ".csv")
        if suffix == ".json":
            import json

            try:
                data = json.dumps(load_yaml(text, "x").data, default=str).encode()
            except CMEError:
                pass
        fd, name = tempfile.mkstemp(suffix=suffix, dir=tmp)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        before = _counts(service)
        started = time.perf_counter()
        try:
            importers[kind](service, Path(name))
            imported += 1
        except CMEError:
            if _counts(service) != before:
                partial += 1
                print(f"PARTIAL WRITE {kind} seed {case_seed}")
                save(f"partial-{kind}", case_seed, data, RuntimeError("refused but wrote rows"))
        except Exception as exc:  # the point: anything else is a bug
            crashes += 1
            print(f"CRASH {kind} seed {case_seed}: {type(exc).__name__}: {exc}"[:300])
            save(kind, case_seed, data, exc)
        finally:
            os.unlink(name)
        slowest = max(slowest, time.perf_counter() - started)
        runs += 1
    service.store.dispose()
    print(f"{runs} inputs, {imported} imported, {crashes} crashes, {partial} partial writes, "
          f"slowest {slowest:.2f}s")


if __name__ == "__main__":
    main()
