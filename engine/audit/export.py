"""A case history bundle for an auditor: self-contained JSON or HTML, checkable without our code.

Owns the bundle's content (the stored case row, every event with its hashes, the timeline, the
text of each definition version the case ran under, and the chain's final hash) and its HTML
rendering (one file: inline style, the JSON embedded). Exporting is an auditor's read, so it is
authorised and logged. The bundle carries the child's personal data: it is the record itself.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import and_, select

from engine.audit.access import authorise, record_access
from engine.audit.replay import read_history, rebuild, said_for
from engine.cases.service import Actor, CaseService
from engine.store.tables import process_version_table

FORMAT = "cme-case-history/1"

HOW_TO_VERIFY = (
    "Each event's hash is SHA-256 over the UTF-8 bytes of its prev_hash followed by the canonical "
    "JSON (keys sorted, no spaces, non-ASCII kept) of its fields case_id, seq, effective_date, "
    "recorded_at (UTC, microseconds), actor, role, kind, payload, process_id, process_version and "
    "rule. The first event's prev_hash is 64 zeros; each later one is the hash of the event "
    "before it; the last hash is chain.final_hash. Each definition's content_hash is SHA-256 of "
    "its yaml_text."
)


def export_bundle(
    service: CaseService, case_id: str, *, actor: Actor, at: dt.datetime, fmt: str = "json"
) -> dict[str, Any]:
    """Everything an auditor needs about one case, JSON-ready (the export is logged)."""
    authorise(actor, "export", table=service.roles)
    with service.store.read() as conn:
        events, row, broken = read_history(conn, case_id)
        said = said_for(service, conn, actor, events)
        process_id = events[0].process_id if events else row.process_id
        used = sorted({e.process_version for e in events})
        definitions = conn.execute(
            select(process_version_table)
            .where(
                and_(
                    process_version_table.c.process_id == process_id,
                    process_version_table.c.version.in_(used),
                )
            )
            .order_by(process_version_table.c.version)
        ).all()
    with service.store.engine.begin() as conn:
        record_access(conn, actor, case_id=case_id, action=f"export {fmt}", at=at)
    replay = rebuild(
        service,
        case_id,
        events,
        row,
        {d.version: d.content_hash for d in definitions},
        broken,
        said=said,
    )
    return {
        "format": FORMAT,
        "exported_at": at,
        "exported_by": {"name": actor.name, "role": actor.role},
        "case_id": case_id,
        "process_id": process_id,
        "case": _jsonable(dict(row._mapping)) if row is not None else None,
        "events": [
            {**_jsonable(e.content()), "prev_hash": e.prev_hash, "hash": e.hash} for e in events
        ],
        "timeline": [_jsonable(t.as_dict()) for t in replay.timeline],
        "definitions": [
            {
                "process_id": d.process_id,
                "version": d.version,
                "content_hash": d.content_hash,
                "effective_from": d.effective_from,
                "yaml_text": d.yaml_text,
            }
            for d in definitions
        ],
        "chain": {
            "events": len(events),
            "final_hash": events[-1].hash if events else None,
            "verified": replay.ok,
            "problems": replay.problems(),
        },
        "how_to_verify": HOW_TO_VERIFY,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def bundle_json(bundle: dict[str, Any]) -> str:
    """The bundle as stable, indented JSON text."""
    return json.dumps(_jsonable(bundle), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Case history {{ b.case_id }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #bbb;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#eee}code,pre{font-size:.85em}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}
.bad{color:#a00;font-weight:bold}.ok{color:#060;font-weight:bold}
</style></head><body>
<h1>Case history {{ b.case_id }}</h1>
<p>Process <b>{{ b.process_id }}</b>. Exported {{ b.exported_at }} by {{ b.exported_by.name }}
({{ b.exported_by.role }}).</p>
<p>Chain: {{ b.chain.events }} events, final hash <code>{{ b.chain.final_hash }}</code>.
{% if b.chain.verified %}<span class="ok">Verified: every hash holds and replay reproduces
the stored case.</span>{% else %}<span class="bad">INTEGRITY FAILURE:</span>
{% for p in b.chain.problems %}<br>{{ p }}{% endfor %}{% endif %}</p>
{% if b.case %}<h2>Case as stored</h2><table>
{% for k, v in b.case.items() %}<tr><th>{{ k }}</th><td><code>{{ v }}</code></td></tr>{% endfor %}
</table>{% endif %}
<h2>Timeline</h2><table><tr><th>#</th><th>effective</th><th>school day</th><th>recorded</th>
<th>by</th><th>what</th><th>state</th><th>rule and source</th><th>definition</th></tr>
{% for t in b.timeline %}<tr><td>{{ t.seq }}</td><td>{{ t.effective_date }}</td>
<td>{{ t.school_day if t.school_day is not none else "" }}</td><td>{{ t.recorded_at }}</td>
<td>{{ t.actor }} ({{ t.role }})</td><td>{{ t.summary }}{% for k, v in t.said.items() %}
<br><i>{{ k }}:</i> {{ v }}{% endfor %}</td>
<td>{{ t.state_before or "" }} → {{ t.state_after }}</td>
<td>{{ t.rule or "" }}{% if t.source %}<br><i>{{ t.source }}</i>{% endif %}</td>
<td>v{{ t.process_version }} <code>{{ (t.content_hash or "not stored")[:12] }}</code></td></tr>
{% endfor %}</table>
<h2>Events as stored</h2>
{% for e in b.events %}<details><summary>event {{ e.seq }} · {{ e.kind }} ·
<code>{{ e.hash }}</code></summary><pre>{{ e | tojson(indent=2) }}</pre></details>{% endfor %}
<h2>Definitions the case ran under</h2>
{% for d in b.definitions %}<details><summary>{{ d.process_id }} version {{ d.version }}
(from {{ d.effective_from }}) sha256 <code>{{ d.content_hash }}</code></summary>
<pre>{{ d.yaml_text }}</pre></details>{% endfor %}
<h2>How to check it</h2><p>{{ b.how_to_verify }}</p>
<script type="application/json" id="bundle">{{ data }}</script>
</body></html>
"""


def _shown(value: Any) -> Any:
    r"""A value as the page shows it: control characters and bidirectional overrides in stored
    text appear as escapes (`\x1b`, `\u202e`), so none can reorder what an auditor reads.
    The embedded JSON (already Markup) is left exactly as it is.
    """
    from markupsafe import Markup

    from engine.cases.free_text import UNSAFE_CHARACTERS

    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return UNSAFE_CHARACTERS.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def render_html(bundle: dict[str, Any]) -> str:
    """One self-contained HTML page of the bundle, with the JSON bundle embedded."""
    from jinja2 import Environment
    from markupsafe import Markup

    env = Environment(autoescape=True, finalize=_shown)
    plain = _jsonable(bundle)
    # JSON inside <script> is raw text: only "<" could end it early, so escape that alone.
    data = Markup(json.dumps(plain, sort_keys=True, ensure_ascii=False).replace("<", "\\u003c"))
    return env.from_string(_TEMPLATE).render(b=plain, data=data)
