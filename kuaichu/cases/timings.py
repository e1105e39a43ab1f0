"""The two figures the programmes advertise for a case, read from its audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from .trail import AuditEntry
from .transitions import CaseEvent

# The figures the programmes advertise: information in 5 minutes, the determination in 8.
INFORMATION_TARGET: Final = timedelta(minutes=5)
DETERMINATION_TARGET: Final = timedelta(minutes=8)


@dataclass(frozen=True)
class CaseTimings:
    """The programmes' two figures for one case; ``None`` while the step is not reached
    (and the determination figure stays ``None`` for a case settled by agreement)."""

    reported_at: datetime | None
    information_collected_at: datetime | None
    determination_issued_at: datetime | None

    @property
    def to_information(self) -> timedelta | None:
        return _between(self.reported_at, self.information_collected_at)

    @property
    def to_determination(self) -> timedelta | None:
        return _between(self.reported_at, self.determination_issued_at)

    @property
    def information_on_target(self) -> bool | None:
        spent = self.to_information
        return None if spent is None else spent <= INFORMATION_TARGET

    @property
    def determination_on_target(self) -> bool | None:
        spent = self.to_determination
        return None if spent is None else spent <= DETERMINATION_TARGET


def case_timings(trail: Sequence[AuditEntry]) -> CaseTimings:
    """Counted from the report to the *first* time each step was reached: a later
    correction or review must not make the original service look slower or faster."""
    report = _first(trail, CaseEvent.REPORT)
    info = _first(trail, CaseEvent.COLLECT_EVIDENCE)
    determined = _first(trail, CaseEvent.DETERMINE)
    return CaseTimings(
        reported_at=report.when if report else None,
        information_collected_at=info.when if info else None,
        determination_issued_at=determined.when if determined else None,
    )


def _between(start: datetime | None, end: datetime | None) -> timedelta | None:
    return None if start is None or end is None else end - start


def _first(trail: Sequence[AuditEntry], event: CaseEvent) -> AuditEntry | None:
    return next((entry for entry in trail if entry.what == event), None)
