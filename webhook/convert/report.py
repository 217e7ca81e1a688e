"""What a conversion did with each field: converted, changed (how), or not convertible (why, and
what to do instead). One line per field, written to stderr by ``canarist convert``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    CONVERTED = "converted"
    CHANGED = "changed"
    NOT_CONVERTIBLE = "not convertible"


@dataclass(frozen=True)
class Note:
    subject: str  # "Rollout shop/web"
    path: str  # "spec.strategy.canary.steps[2]"
    outcome: Outcome
    message: str
    instead: str = ""  # what to do instead (not convertible)

    def line(self) -> str:
        where = f"{self.subject}: {self.path}" if self.path else self.subject
        text = f"{where}: {self.outcome}: {self.message}"
        return f"{text}; instead: {self.instead}" if self.instead else text


@dataclass
class Notes:
    """The notes of one conversion, in the order they were taken."""

    items: list[Note] = field(default_factory=list)

    def converted(self, subject: str, path: str, message: str) -> None:
        self.items.append(Note(subject, path, Outcome.CONVERTED, message))

    def changed(self, subject: str, path: str, message: str) -> None:
        self.items.append(Note(subject, path, Outcome.CHANGED, message))

    def refused(self, subject: str, path: str, message: str, instead: str = "") -> None:
        self.items.append(Note(subject, path, Outcome.NOT_CONVERTIBLE, message, instead))

    @property
    def complete(self) -> bool:
        return all(n.outcome is not Outcome.NOT_CONVERTIBLE for n in self.items)


def summary(notes: tuple[Note, ...] | list[Note]) -> str:
    counts = Counter(n.outcome for n in notes)
    return ", ".join(f"{counts.get(o, 0)} {o.value}" for o in Outcome)

