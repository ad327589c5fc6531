"""Compiles a loaded process into one shared `transitions` machine per (process, version).

Owns the only use of the `transitions` library: building the machine (no models attached, no
auto transitions, no convenience methods put on models), firing a trigger on a case that was
never added to it, and translating `transitions.MachineError` into `TransitionNotAllowed`.
Also holds the process's compiled guards so the engine can name each failing condition before it
fires. Does not own roles, required checks, events or timers (the case service does).

A machine is never built per case, and never pickled: cases attach by calling `fire` with any
object that has a `state` attribute.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from transitions import Machine, MachineError, State

from engine.errors import TransitionNotAllowed, UnknownStep, UnknownTimer, suggest
from engine.language.definition import ProcessDefinition
from engine.language.expressions import CompiledCondition
from engine.language.loader import LoadedProcess


class Stateful(Protocol):
    """Anything with a `state` attribute naming a state of the process (a case, a test stub)."""

    state: str


class CompiledProcess:
    """A loaded process with its shared machine and compiled guards; safe to share across cases."""

    def __init__(self, loaded: LoadedProcess) -> None:
        self.loaded = loaded
        self.definition: ProcessDefinition = loaded.definition
        self.content_hash = loaded.content_hash
        self.machine = _build_machine(loaded.definition)
        self._allowed: dict[str, list[str]] = {name: [] for name in self.definition.states}
        for trig in self.definition.triggers:
            for source in self.definition.source_states(trig):
                self._allowed[source].append(trig.id)

    def __repr__(self) -> str:
        return (
            f"<CompiledProcess {self.definition.id} v{self.definition.version} "
            f"{self.content_hash[:12]}>"
        )

    def __reduce__(self) -> Any:
        # A machine holds callables and partials; persisted cases pin (id, version, hash) instead.
        raise TypeError("a CompiledProcess is never pickled; store its id, version and hash")

    @property
    def key(self) -> tuple[str, int, str]:
        """(process id, version, content hash): what a case pins."""
        return (self.definition.id, self.definition.version, self.content_hash)

    def fire(self, model: Stateful, trigger_id: str) -> str:
        """Take the trigger on `model` (moving its `state`) and return the new state.

        Guards are not evaluated here: call `check_guards` first. Raises `UnknownStep` or
        `TransitionNotAllowed`; no `transitions` exception escapes.
        """
        event = self.machine.events.get(trigger_id)
        if event is None:
            raise UnknownStep(
                name=trigger_id, known=self.machine.events, process=self.definition.id
            )
        state = getattr(model, "state", None)
        if state not in self._allowed:
            raise TransitionNotAllowed(
                f"{trigger_id} cannot be taken: {state!r} is not a stage of process "
                f"{self.definition.id!r} version {self.definition.version}",
                step=trigger_id,
                stage=str(state),
            )
        try:
            event.trigger(model)
        except MachineError:
            raise TransitionNotAllowed(
                f"{trigger_id} cannot be taken from stage {state!r}; from here: "
                f"{', '.join(self._allowed[state]) or 'nothing (the case has ended)'}",
                step=trigger_id,
                stage=state,
                allowed=self._allowed[state],
            ) from None
        new_state: str = model.state
        return new_state

    def allowed_triggers(self, state: str) -> list[str]:
        """The triggers that may be taken from `state` (before roles, checks and guards)."""
        try:
            return list(self._allowed[state])
        except KeyError:
            raise TransitionNotAllowed(
                f"{state!r} is not a stage of process {self.definition.id!r} version "
                f"{self.definition.version}"
                + suggest(state, self.definition.states, what="stages"),
                stage=state,
            ) from None

    def guards(self, trigger_id: str) -> tuple[CompiledCondition, ...]:
        """The compiled guards of a trigger."""
        try:
            return self.loaded.trigger_guards[trigger_id]
        except KeyError:
            raise UnknownStep(
                name=trigger_id, known=self.loaded.trigger_guards, process=self.definition.id
            ) from None

    def check_guards(
        self, trigger_id: str, context: Mapping[str, object]
    ) -> list[CompiledCondition]:
        """The trigger's guards that fail in `context` (from `guard_context`); [] if all hold."""
        return [cond for cond in self.guards(trigger_id) if not cond.evaluate(context)]

    def conditions_for_timer(self, timer_id: str) -> tuple[CompiledCondition, ...]:
        """The compiled `when` conditions of a timer."""
        try:
            return self.loaded.timer_conditions[timer_id]
        except KeyError:
            raise UnknownTimer(
                name=timer_id, known=self.loaded.timer_conditions, process=self.definition.id
            ) from None

    def check_timer(self, timer_id: str, context: Mapping[str, object]) -> list[CompiledCondition]:
        """The timer's `when` conditions that do not hold in `context`; [] if all do."""
        return [cond for cond in self.conditions_for_timer(timer_id) if not cond.evaluate(context)]


_cache: dict[tuple[str, int, str], CompiledProcess] = {}
_cache_lock = threading.Lock()


def compile_process(loaded: LoadedProcess) -> CompiledProcess:
    """The compiled process for `loaded`, built once per (id, version, content hash)."""
    key = (loaded.id, loaded.version, loaded.content_hash)
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is None:
            compiled = CompiledProcess(loaded)
            _cache[key] = compiled
        return compiled


def _build_machine(defn: ProcessDefinition) -> Machine:
    states = [State(name, final=state.terminal) for name, state in defn.states.items()]
    transitions = [
        {"trigger": trig.id, "source": defn.source_states(trig), "dest": trig.dest}
        for trig in defn.triggers
    ]
    return Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial=defn.initial,
        auto_transitions=False,
        model_override=True,
        send_event=True,
        ignore_invalid_triggers=False,
        name=f"{defn.id} v{defn.version}: ",
    )
