"""The accident case's state: its transition table, its audit trail, and the two advertised timings.

Two layers, deliberately apart:

* :mod:`.transitions` — the table. Which event may happen in which state and where it leads.
  Context-free, so the pages can ask :func:`allowed_events` to decide which buttons to show.
* :mod:`.trail` — :func:`apply`, the table plus the rules that need the case's history, and
  :func:`replay`, which rebuilds and re-checks the state from the stored :class:`AuditEntry`
  values. History rules may refuse an event; they never change its target.

:mod:`.timings` reads the programmes' two figures from a trail. All three are imported from
here (``__all__``): this is the case state's public surface.
"""

from __future__ import annotations

from .timings import DETERMINATION_TARGET, INFORMATION_TARGET, CaseTimings, case_timings
from .trail import (
    CHINA_TIME,
    REVIEW_DAYS,
    AuditEntry,
    apply,
    current_state,
    determination_version,
    record_action,
    replay,
    review_deadline,
    review_window_open,
)
from .transitions import (
    BEFORE_DETERMINATION,
    CORRECTION_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    CaseEvent,
    CaseState,
    ReviewOutcome,
    allowed_events,
    transition,
)

__all__ = [
    "BEFORE_DETERMINATION",
    "CHINA_TIME",
    "CORRECTION_STATES",
    "DETERMINATION_TARGET",
    "INFORMATION_TARGET",
    "REVIEW_DAYS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "AuditEntry",
    "CaseEvent",
    "CaseState",
    "CaseTimings",
    "ReviewOutcome",
    "allowed_events",
    "apply",
    "case_timings",
    "current_state",
    "determination_version",
    "record_action",
    "replay",
    "review_deadline",
    "review_window_open",
    "transition",
]
