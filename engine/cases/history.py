"""A case's history in the policy's words: what each event did, said with the process's own
titles and wordings, and which reminders turned out not to be needed.

A reminder (an escalation timer) lapses when the check it waits for was done in time; its event
stores the guard that no longer held (`!checks.core_information_checked`). People read that as
"Reminder not needed: Core information checked was recorded on 9 Oct 2024", and such rows are
folded away by default (`cme case show --all` shows them). Other conditions are put into words
as far as their form allows; no row shows an expression. Kinds this module has no better words
for keep the context-free line of `engine.cases.views.event_summary`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.cases.events import (
    CaseAssigned,
    CaseEvent,
    CheckRecorded,
    CheckWaived,
    Escalation,
    EventBody,
    FactChanged,
    LegalHold,
    LetterFiled,
    NotificationLinked,
    Opened,
    Purge,
    StepTaken,
    TimerFired,
    TimerLapsed,
)
from engine.language.outline import ProcessOutline
from engine.time.words import day_words

_RECORDED_CHECK = re.compile(r"^\s*!\s*checks\.(\w+)\s*$")
_MISSING_CHECK = re.compile(r"^\s*checks\.(\w+)\s*$")
_CHECK_REF = re.compile(r"checks\.(\w+)")
_EXPRESSION = re.compile(r"checks\.|facts\.|case_day|==|!=|&&|\|\||>=|<=|^\s*!")
_OPERATORS = (
    ("&&", " and "),
    ("||", " or "),
    ("==", " is "),
    ("!=", " is not "),
    (">=", " at least "),
    ("<=", " at most "),
    ("case_day", "the day of the case"),
)


@dataclass(frozen=True)
class PolicyWords:
    """The words a process version gives its checks, steps and stages."""

    checks: Mapping[str, str]
    steps: Mapping[str, str]
    states: Mapping[str, str]

    @classmethod
    def of(cls, outline: ProcessOutline) -> PolicyWords:
        """The words of a stored outline (every stage's checklist, every step's title)."""
        checks = {c.id: c.wording for s in outline.states.values() for c in s.checklist}
        return cls(
            checks=checks,
            steps={t.id: t.title for t in outline.steps},
            states={sid: s.title for sid, s in outline.states.items()},
        )

    def check(self, check_id: str) -> str:
        """A check's name in words, as the issue's officers say it: its id read as words, with
        the capitals its wording gives them (mash_check → "MASH check").
        """
        wording = set(re.findall(r"[A-Za-z0-9]+", self.checks.get(check_id, "")))
        words = [w.upper() if w.upper() in wording else w for w in check_id.split("_")]
        name = " ".join(words)
        return name[:1].upper() + name[1:]

    def step(self, step_id: str) -> str:
        """A step's title (its id in words if the version lacks it)."""
        return self.steps.get(step_id) or _humane(step_id)

    def state(self, state_id: str) -> str:
        """A stage's title (its id in words if the version lacks it)."""
        return self.states.get(state_id) or _humane(state_id)


_NOT_RECORDED = re.compile(r"^\s*(\w+) is not recorded\b")
_ESCALATION_ID = re.compile(r"^(\w+)_outstanding$")


def waited_for(body: EventBody, checks: Mapping[str, str]) -> list[str] | None:
    """The checks a lapsed reminder waited for, if every reason it lapsed is one of them being
    done: its guard `!checks.X` (or its words, "X is not recorded", as the windows generate it).
    None if it lapsed for another reason (a step refused, a condition on facts).
    """
    if not isinstance(body, TimerLapsed):
        return None
    found = []
    for reason in body.because:
        match = _RECORDED_CHECK.match(reason) or _NOT_RECORDED.match(reason)
        if match is None or (match.re is _NOT_RECORDED and match.group(1) not in checks):
            return None
        found.append(match.group(1))
    if not found:  # no reason kept: a generated escalation says its check by its id
        match = _ESCALATION_ID.match(body.timer)
        if match is None or match.group(1) not in checks:
            return None
        found.append(match.group(1))
    return found


@dataclass
class HistoryReader:
    """Reads a case's events in order, remembering when each check was recorded or waived,
    so a lapsed reminder can say when its check was done.
    """

    words: PolicyWords
    done: dict[str, tuple[str, dt.date]]

    @classmethod
    def start(cls, words: PolicyWords) -> HistoryReader:
        """A reader at the start of a history."""
        return cls(words=words, done={})

    def line(self, event: CaseEvent, fallback: str) -> str:
        """What `event` did in the policy's words (`fallback` for kinds without better words);
        call in sequence order.
        """
        body = event.body
        check = getattr(body, "check", None)
        if str(event.kind) == "check_waived" and isinstance(check, str):
            self.done[check] = ("waived", event.effective_date)
        if isinstance(body, CheckRecorded):
            self.done[body.check] = ("recorded", event.effective_date)
        return self._words(body, fallback)

    def _words(self, body: EventBody, fallback: str) -> str:
        words = self.words
        if isinstance(body, TimerLapsed):
            return self._lapsed(body)
        if isinstance(body, TimerFired):
            return f"On its date: {_step_line(words, body)}{_beyond_step(body, fallback)}"
        if isinstance(body, StepTaken):
            return _step_line(words, body) + _beyond_step(body, fallback)
        if isinstance(body, Opened):
            return f"Case opened: {words.state(body.state)}"
        if isinstance(body, CheckRecorded) and body.amends:
            # An amendment (issue 15): what it replaces stays beside it in `case show`.
            amended = body.amends
            was = dt.date.fromisoformat(str(amended.get("on")))
            by = f" by {amended['by']}" if amended.get("by") else ""
            return (
                f"Amended: {words.check(body.check)} — {_after_colon(fallback)} (recorded "
                f"before on {day_words(was)}{by})"
            )
        if isinstance(body, CheckRecorded):
            return f"Recorded: {words.check(body.check)} — {_after_colon(fallback)}"
        if isinstance(body, FactChanged) and body.facts:
            return "; ".join(f"Recorded {k}: {_value(v)}" for k, v in body.facts.items())
        if isinstance(body, Escalation):
            return f"Escalated to {body.to_role}: {body.message}"
        if isinstance(body, LetterFiled):
            return f"Letter filed: {_humane(body.template)} (document {body.document_id})"
        return self._records_line(body) or _no_expressions(fallback, words)

    def _records_line(self, body: EventBody) -> str | None:
        """Waivers, personal facts and the records kept about a case, in words."""
        shown: Any = body.personal  # opened for a reader, withheld, or purged (a string)
        personal: dict[str, Any] = shown if isinstance(shown, dict) else {}
        if isinstance(body, CheckWaived):
            reason = personal.get("waiver_reasons", {}).get(body.check)
            return f"Waived: {self.words.check(body.check)}" + (f" — {reason}" if reason else "")
        if isinstance(body, FactChanged) and body.personal_fact is not None:
            value = personal.get("facts", {}).get(body.personal_fact)
            shown = "(personal data withheld)" if value is None else _value(value)
            return f"Recorded {body.personal_fact}: {shown}"
        if isinstance(body, LegalHold):
            return f"Legal hold {'placed' if body.hold else 'released'}: {body.reason}"
        if isinstance(body, Purge):
            return f"Personal data destroyed ({body.rule}): {body.reason}"
        if isinstance(body, NotificationLinked):
            return f"Notification dated {body.form_date} linked to this case ({body.how})"
        if isinstance(body, CaseAssigned):
            to = body.assigned_officer or "another officer"
            return f"Case given to {to}" + (
                f" (was {body.from_officer})" if body.from_officer else ""
            )
        return None

    def not_needed(self, event: CaseEvent) -> bool:
        """Whether `event` is a reminder that was not needed (folded away by default)."""
        return waited_for(event.body, self.words.checks) is not None

    def _lapsed(self, body: TimerLapsed) -> str:
        checks = waited_for(body, self.words.checks)
        if checks is not None:
            done = []
            for check in checks:
                how, day = self.done.get(check, ("recorded", None))
                when = f" on {day_words(day)}" if day is not None else ""
                done.append(f"{self.words.check(check)} was {how}{when}")
            return f"Reminder not needed: {'; '.join(done)}"
        reasons = [condition_words(b, self.words) for b in body.because]
        said = "; ".join(r for r in reasons if r) or "its conditions no longer held"
        return f"Scheduled {_humane(body.timer)} not acted on: {said}"


def _step_line(words: PolicyWords, body: StepTaken) -> str:
    title = words.step(body.trigger)
    if body.deliberate:
        title += " (again the same day, deliberately)"
    if body.stays or body.from_state == body.to_state:
        return title
    return f"{title} — now: {words.state(body.to_state)}"


def _beyond_step(body: StepTaken, fallback: str) -> str:
    """What the context-free line says beyond the step itself (e.g. the officer's reason)."""
    base = f"{body.trigger}: {body.from_state} → {body.to_state}"
    return fallback[len(base) :] if fallback.startswith(base) else ""


def condition_words(condition: str, words: PolicyWords) -> str:
    """A condition that no longer held, in words (a reason already in words is kept)."""
    if not _EXPRESSION.search(condition):
        return condition
    found = _RECORDED_CHECK.match(condition)
    if found:
        return f"{words.check(found.group(1))} was recorded"
    found = _MISSING_CHECK.match(condition)
    if found:
        return f"{words.check(found.group(1))} was not recorded"
    text = _CHECK_REF.sub(lambda m: f"“{words.check(m.group(1))}”", condition)
    for op, said in _OPERATORS:
        text = text.replace(op, said)
    text = re.sub(r"!\s*“", "not “", text).replace("facts.", "")
    return "no longer so: " + " ".join(text.split())


def _no_expressions(line: str, words: PolicyWords) -> str:
    """A fallback line with any guard expression in it put into words."""
    if "checks." not in line and "&&" not in line and "==" not in line:
        return line
    return " ".join(
        condition_words(part, words) if _EXPRESSION.search(part) else part
        for part in line.split(" ")
    )


def _value(value: object) -> str:
    """A fact's value as people write it: yes/no for true/false."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "not recorded" if value is None else str(value)


def _after_colon(line: str) -> str:
    """The outcome part of a `check id: outcome` line."""
    return line.split(": ", 1)[1] if ": " in line else line


def _humane(identifier: str) -> str:
    """An id read as words: first_formal_cme_letter → first formal cme letter."""
    return identifier.replace("_", " ")


def folded_count(rows: Iterable[Mapping[str, object]]) -> int:
    """How many history rows are reminders that were not needed."""
    return sum(1 for r in rows if r.get("not_needed"))
