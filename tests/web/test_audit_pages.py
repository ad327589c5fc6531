"""The auditor's pages: integrity status and the age of the last checkpoint, verify (all and
one case), a case's replay with the version in force and the rule at each step, as of a date,
and the export download; an auditor's pages offer no form that writes."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from markupsafe import escape
from sqlalchemy import update

from engine.audit import access_entries, replay_case
from engine.store.tables import case_table
from tests.web.conftest import SignIn, form_token
from tests.web.manager_cases import NOTIFIED, OFFICER, _at, day_26_case, service_of


def _form_actions(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', html)


def test_the_replay_shows_every_event_with_its_version_and_rule(
    web_app: FastAPI, sign_in: SignIn
) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("auditor", name="ofsted.inspector")
    page = client.get(f"/audit/cases/{case_id}")
    assert page.status_code == 200
    html = page.text
    expected = replay_case(service_of(web_app), case_id, actor=OFFICER, at=_at(NOTIFIED))
    assert f"History of {case_id}" in html
    assert f"{len(expected.timeline)} events" in html
    for t in expected.timeline:
        assert f'id="event-{t.seq}"' in html
        if t.rule:
            assert str(escape(t.rule)) in html
    assert f"untraceable_cme version {expected.timeline[0].process_version}" in html
    assert "Replays exactly" in html
    assert "start_closure_decision" in html
    # The auditor can verify and sign out, and nothing else: export is a link.
    assert sorted(_form_actions(html)) == sorted([f"/audit/cases/{case_id}/verify", "/sign-out"])
    assert f'href="/audit/cases/{case_id}/export?format=json"' in html
    reads = [e for e in access_entries(service_of(web_app).store, case_id=case_id)]
    assert any(e["actor"] == "ofsted.inspector" and e["action"] == "replay" for e in reads)


def test_the_replay_as_of_a_date(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("auditor")
    html = client.get(f"/audit/cases/{case_id}?as_of=2024-11-04").text
    assert "As it stood at the end of Mon 4 Nov 2024" in html
    assert "reasonable_checks" in html
    assert "Day 6" in html
    assert "up to Mon 4 Nov 2024" in html
    assert "start_closure_decision" not in html  # Day 26 had not come
    bad = client.get(f"/audit/cases/{case_id}?as_of=2024-10-01")
    assert bad.status_code == 400
    assert "did not exist" in bad.text
    assert client.get(f"/audit/cases/{case_id}?as_of=yesterday").status_code == 400


def test_verifying_one_case_and_every_history(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("auditor", name="ofsted.inspector")
    html = client.get("/audit").text
    assert "Last checkpoint" in html
    assert "no checkpoint has ever been signed" in html
    assert "never recorded" in html
    answer = client.post(f"/audit/cases/{case_id}/verify", data={"csrf_token": form_token(html)})
    assert answer.status_code == 200
    assert "the hash chain holds and replay reproduces the stored case row" in answer.text
    answer = client.post("/audit/verify", data={"csrf_token": form_token(html)})
    assert "Verified: every hash chain holds" in answer.text
    assert "by ofsted.inspector (auditor)" in answer.text


def test_an_altered_case_row_is_an_integrity_failure(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    store = service_of(web_app).store
    with store.engine.begin() as conn:
        conn.execute(update(case_table).where(case_table.c.id == case_id).values(state="placed"))
    client = sign_in("auditor")
    page = client.get(f"/audit/cases/{case_id}").text
    assert "INTEGRITY FAILURE" in page
    answer = client.post("/audit/verify", data={"csrf_token": form_token(page)})
    assert "INTEGRITY FAILURE" in answer.text
    assert f"Marked (they take no new changes until an auditor clears them): {case_id}" in (
        answer.text
    )
    assert f'href="/audit/cases/{case_id}"' in client.get("/audit").text


def test_the_export_downloads_the_bundle(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    client = sign_in("auditor", name="ofsted.inspector")
    answer = client.get(f"/audit/cases/{case_id}/export?format=json")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == f'attachment; filename="{case_id}.json"'
    assert answer.headers["cache-control"] == "no-store"
    bundle = json.loads(answer.text)
    assert bundle["case_id"] == case_id
    assert bundle["exported_by"] == {"name": "ofsted.inspector", "role": "auditor"}
    assert bundle["chain"]["verified"] is True
    html = client.get(f"/audit/cases/{case_id}/export?format=html")
    assert html.headers["content-type"].startswith("text/html")
    assert client.get(f"/audit/cases/{case_id}/export?format=pdf").status_code == 400


def test_who_may_audit(web_app: FastAPI, sign_in: SignIn) -> None:
    case_id = day_26_case(web_app)
    for role, school in (("policy_owner", None), ("school", "Kentish Town"), ("read_only", None)):
        client = sign_in(role, name=f"{role}.person", school=school)
        assert client.get("/audit").status_code == 403
        assert client.get(f"/audit/cases/{case_id}").status_code == 403
        assert client.get(f"/audit/cases/{case_id}/export").status_code == 403
    auditor = sign_in("auditor")
    assert auditor.post(f"/audit/cases/{case_id}/verify", data={}).status_code == 403  # no token
    missing = auditor.get("/audit/cases/CME-999999")
    assert missing.status_code in (400, 404)
    assert "CME-999999" in missing.text


def test_the_case_box_goes_to_the_replay(web_app: FastAPI, sign_in: SignIn) -> None:
    client = sign_in("auditor")
    answer = client.get("/audit/find?case_id=CME-000001")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/audit/cases/CME-000001"


def test_verifying_against_the_deployments_checkpoint(
    web_app: FastAPI, sign_in: SignIn, web_db: str
) -> None:
    from pathlib import Path

    from engine.audit import generate_private_key
    from engine.audit.checkpoint import load_private_key, public_key_text, sign_into

    case_id = day_26_case(web_app)
    folder = Path(web_db.removeprefix("sqlite:///")).parent
    key = folder / "audit.key"
    key.write_bytes(generate_private_key())
    private = load_private_key(key)
    store = service_of(web_app).store
    sign_into(store, private, folder / "checkpoints", at=_at(NOTIFIED))
    client = sign_in("auditor")
    page = client.get("/audit").text
    assert "last checkpoint signed 2024-10-21 09:00:00" in page
    assert "govuk-tag--red" in page  # two years old: failing, as `cme doctor` judges it
    # No public key pinned: a checkpoint's own key proves nothing, as the CLI says.
    refused = client.post("/audit/verify", data={"csrf_token": form_token(page)})
    assert refused.status_code == 400
    assert "no public key is pinned" in refused.text
    public = public_key_text(private)
    (folder / "cme.toml").write_text(f'[keys]\ncheckpoint_public_key = "{public}"\n')
    answer = client.post("/audit/verify", data={"csrf_token": form_token(page)})
    assert "Verified: every hash chain holds" in answer.text
    assert "checked against checkpoint checkpoint-" in answer.text
    assert "every event is covered by the checkpoint" in answer.text
    assert case_id in client.get(f"/audit/cases/{case_id}").text
