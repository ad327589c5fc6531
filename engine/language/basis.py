"""Why a rule binds, in words: the LA's policy (its section), the law (its regulation or section)
or an LA choice (its key in `la_choices`), as `cme process show` and refusals say it.

Owns reading a rule's basis from its `source` (or `la_choice`), inheriting from the rule it sits
in (a guard from its step's `ref`, a check from its stage's `ref`) when it says none. Does not own
switching choices off (`la_choices.py`) or checking that a file marks its rules (`lint.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.language.definition import ProcessDefinition, RuleBasis, SourceDefinition


@dataclass(frozen=True)
class Basis:
    """A rule's basis: policy, law or an LA choice, and what it cites."""

    kind: RuleBasis
    cite: str
    """The section, regulation or statute cited (for an LA choice, its source's section, if any)."""
    choice: str | None = None
    """For an LA choice: its key in the process's `la_choices`."""
    says: str | None = None
    """For an LA choice: the choice in words."""

    def words(self) -> str:
        """`law: Regulation 9(1)(h)`, `policy: section 4.3`, `LA choice: key ("says")`."""
        if self.kind is RuleBasis.la_choice:
            about = f' ("{self.says}")' if self.says else ""
            return f"LA choice: {self.choice or self.cite}{about}"
        return f"{self.kind.value}: {self.cite}"

    def refusal_words(self, process_id: str) -> str:
        """What a refusal says of the rule: for an LA choice, where to switch it off."""
        if self.kind is RuleBasis.la_choice and self.choice:
            return (
                f"LA choice: {self.choice} — switch it off in processes/{process_id}.yaml "
                "la_choices"
            )
        return self.words()


def basis_of(
    defn: ProcessDefinition,
    source: SourceDefinition | None,
    *,
    la_choice: str | None = None,
    within: SourceDefinition | None = None,
) -> Basis | None:
    """The basis of a rule with this `source` (naming `la_choice`, if any), else of the rule it
    sits in (`within`); None when neither says.
    """
    if la_choice is not None:
        choice = defn.la_choices.get(la_choice)
        return Basis(
            RuleBasis.la_choice,
            source.section if source is not None else "",
            choice=la_choice,
            says=choice.says if choice is not None else None,
        )
    for src in (source, within):
        if src is not None and src.basis is not None:
            if src.basis is RuleBasis.la_choice:
                return Basis(RuleBasis.la_choice, src.section)
            return Basis(src.basis, src.section)
    return None


def check_basis(defn: ProcessDefinition, check_id: str) -> Basis | None:
    """The basis of a check: its own `source` (or `la_choice`), else its stage's `ref`."""
    for state in defn.states.values():
        for check in state.checklist:
            if check.id == check_id:
                return basis_of(defn, check.source, la_choice=check.la_choice, within=state.ref)
    return None


def basis_words(basis: Basis | None) -> str:
    """A basis in words, or `basis not marked`."""
    return basis.words() if basis is not None else "basis not marked"


__all__ = ["Basis", "basis_of", "basis_words", "check_basis"]
