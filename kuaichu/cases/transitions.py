"""The case's transition table: which event may happen in which state and where it leads.

Context-free, so the pages can ask :func:`allowed_events` to decide which buttons to show, and
the target of an event never depends on history. The rules that need the case's history
(review once and in time, agreements confirmed by every party) are :mod:`.trail`'s; they may
refuse an event, never change its target.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from .errors import IllegalTransition


class CaseState(enum.StrEnum):
    """Where a case stands; stored on the case row as a cache of its trail."""

    REPORTED = "reported"
    QUEUED = "queued"
    IN_CALL = "in_call"
    EVIDENCE_COLLECTED = "evidence_collected"
    SCENE_CLEARED = "scene_cleared"
    DETERMINED = "determined"
    NOTIFIED = "notified"
    REVIEW_REQUESTED = "review_requested"
    REVIEW_DECIDED = "review_decided"
    AGREEMENT_PENDING = "agreement_pending"
    AGREEMENT_CONFIRMED = "agreement_confirmed"
    AGREEMENT_APPROVED = "agreement_approved"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES: Final = frozenset({CaseState.CLOSED, CaseState.ABANDONED, CaseState.CANCELLED})


class CaseEvent(enum.StrEnum):
    """What moves a case from one state to the next (a trail entry's ``what``)."""

    REPORT = "report"
    QUEUE = "queue"
    ANSWER = "answer"
    REQUEUE = "requeue"
    COLLECT_EVIDENCE = "collect_evidence"
    CLEAR_SCENE = "clear_scene"
    DETERMINE = "determine"
    NOTIFY = "notify"
    REQUEST_REVIEW = "request_review"
    DECIDE_REVIEW = "decide_review"
    PROPOSE_AGREEMENT = "propose_agreement"
    CONFIRM_AGREEMENT = "confirm_agreement"
    COMPLETE_AGREEMENT = "complete_agreement"
    WITHDRAW_AGREEMENT = "withdraw_agreement"
    REJECT_AGREEMENT = "reject_agreement"
    APPROVE_AGREEMENT = "approve_agreement"
    CLOSE = "close"
    ABANDON = "abandon"
    CANCEL = "cancel"


class ReviewOutcome(enum.StrEnum):
    """A review decision: whether the determination stands."""

    UPHELD = "upheld"  # the determination stands; the case may close
    REVISED = "revised"  # a new determination version must be issued


S = CaseState
E = CaseEvent

# Before any evidence is fixed the driver may simply go away (abandon: hung up, left the
# queue); an officer or the driver may cancel with a reason (injuries discovered on the call,
# a duplicate report merged into another case) until a determination exists. Once a
# determination is issued it is a legal document: it can be superseded, never cancelled.
_CANCELLABLE: Final = (
    S.REPORTED,
    S.QUEUED,
    S.IN_CALL,
    S.EVIDENCE_COLLECTED,
    S.SCENE_CLEARED,
    S.AGREEMENT_PENDING,
    S.AGREEMENT_CONFIRMED,
)

# A determination issued in these states is a correction: a new version that supersedes the
# old one, and it needs a written reason.
CORRECTION_STATES: Final = frozenset({S.DETERMINED, S.NOTIFIED})

# The states before a determination or an agreement: the determination clock is running.
BEFORE_DETERMINATION: Final = frozenset(
    {S.REPORTED, S.QUEUED, S.IN_CALL, S.EVIDENCE_COLLECTED, S.SCENE_CLEARED}
)

TRANSITIONS: Final[Mapping[tuple[CaseState | None, CaseEvent], CaseState]] = {
    (None, E.REPORT): S.REPORTED,
    (S.REPORTED, E.QUEUE): S.QUEUED,
    (S.QUEUED, E.ANSWER): S.IN_CALL,
    # The officer's connection dropped or the call was transferred: back into the queue.
    (S.IN_CALL, E.REQUEUE): S.QUEUED,
    (S.IN_CALL, E.COLLECT_EVIDENCE): S.EVIDENCE_COLLECTED,
    # A photo report (拍照快处, kuaichu.photoreports): the driver's guided photos are the
    # evidence, fixed before any officer answers; the scene is cleared at once and an officer
    # works the case from scene_cleared.
    (S.REPORTED, E.COLLECT_EVIDENCE): S.EVIDENCE_COLLECTED,
    # "Leave the scene" is only pushed once the evidence is fixed.
    (S.EVIDENCE_COLLECTED, E.CLEAR_SCENE): S.SCENE_CLEARED,
    (S.SCENE_CLEARED, E.DETERMINE): S.DETERMINED,
    # A correction before or after delivery issues a new version that supersedes the old.
    (S.DETERMINED, E.DETERMINE): S.DETERMINED,
    (S.NOTIFIED, E.DETERMINE): S.DETERMINED,
    (S.DETERMINED, E.NOTIFY): S.NOTIFIED,
    (S.NOTIFIED, E.REQUEST_REVIEW): S.REVIEW_REQUESTED,
    (S.NOTIFIED, E.CLOSE): S.CLOSED,
    (S.REVIEW_REQUESTED, E.DECIDE_REVIEW): S.REVIEW_DECIDED,
    (S.REVIEW_DECIDED, E.DETERMINE): S.DETERMINED,  # outcome "revised"
    (S.REVIEW_DECIDED, E.CLOSE): S.CLOSED,  # outcome "upheld"
    # Undisputed accidents: the parties agree who bears what, each confirms on their own phone
    # (a self-loop per party), the server completes it after the last one, an officer approves.
    (S.SCENE_CLEARED, E.PROPOSE_AGREEMENT): S.AGREEMENT_PENDING,
    (S.AGREEMENT_PENDING, E.CONFIRM_AGREEMENT): S.AGREEMENT_PENDING,
    (S.AGREEMENT_PENDING, E.COMPLETE_AGREEMENT): S.AGREEMENT_CONFIRMED,
    # A dispute after all (a party withdraws) or an officer's rejection sends the case back to
    # an officer's determination.
    (S.AGREEMENT_PENDING, E.WITHDRAW_AGREEMENT): S.SCENE_CLEARED,
    (S.AGREEMENT_CONFIRMED, E.WITHDRAW_AGREEMENT): S.SCENE_CLEARED,
    (S.AGREEMENT_PENDING, E.REJECT_AGREEMENT): S.SCENE_CLEARED,
    (S.AGREEMENT_CONFIRMED, E.REJECT_AGREEMENT): S.SCENE_CLEARED,
    (S.AGREEMENT_CONFIRMED, E.APPROVE_AGREEMENT): S.AGREEMENT_APPROVED,
    (S.AGREEMENT_APPROVED, E.CLOSE): S.CLOSED,
    (S.REPORTED, E.ABANDON): S.ABANDONED,
    (S.QUEUED, E.ABANDON): S.ABANDONED,
    (S.IN_CALL, E.ABANDON): S.ABANDONED,
    **{(state, E.CANCEL): S.CANCELLED for state in _CANCELLABLE},
}

_ALLOWED: Final[dict[CaseState | None, tuple[CaseEvent, ...]]] = {}
for _state, _event in TRANSITIONS:
    _ALLOWED.setdefault(_state, ())
    _ALLOWED[_state] += (_event,)


def allowed_events(state: CaseState | None) -> tuple[CaseEvent, ...]:
    """The events the table allows in ``state`` (history rules may still refuse one)."""
    return _ALLOWED.get(state, ())


def transition(current: CaseState | None, event: CaseEvent) -> CaseState:
    """The state ``event`` leads to from ``current`` (``None``: no case yet).

    Raises :class:`IllegalTransition` naming both when the table has no such edge.
    """
    target = TRANSITIONS.get((current, event))
    if target is None:
        where = current.value if current is not None else "(no case)"
        allowed = ", ".join(allowed_events(current)) or "none"
        raise IllegalTransition(
            f"event {event.value!r} is not allowed in state {where!r} (allowed: {allowed})",
            state=current.value if current is not None else None,
            event=event.value,
        )
    return target
