"""The case's audit trail: :class:`AuditEntry`, and the rules that need the case's history.

:func:`apply` is the transition table (:mod:`.transitions`) plus those rules: a review (复核)
only once and only within its window, a closed case only after that window, a review outcome
followed by the matching step, a self-negotiated agreement (自行协商) completed only when
every party has confirmed. History rules may refuse an event; they never change its target.

The trail *is* the case's state: :func:`replay` rebuilds (and re-checks) it from the stored
entries, which is what "whole-process traceable supervision" needs. Officer actions that do
not move the state (a verification decision, a form edit) go into the same trail through
:func:`record_action`.

Times are aware datetimes. The review window is counted in calendar days of the case's local
time; China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact and
needs no time-zone database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Any, Final, NoReturn

from kuaichu.errors import InvalidMessage

from .errors import IllegalTransition, ReviewWindowClosed
from .liability import check_liabilities, parse_liabilities
from .transitions import CaseEvent, CaseState, ReviewOutcome, transition

CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")

# A party may apply for review in writing within 3 days of being served the determination.
REVIEW_DAYS: Final = 3

S = CaseState
E = CaseEvent


@dataclass(frozen=True)
class AuditEntry:
    """One line of the case's trail: who did what when, and the state before and after.

    ``what`` is a :class:`CaseEvent` value for a transition, or an action name (which is
    never an event name) for an officer action that does not move the state. ``detail`` is
    JSON-able and treated as read-only once the entry exists.
    """

    who: str
    when: datetime
    what: str
    from_state: CaseState | None
    to_state: CaseState
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> CaseEvent | None:
        return CaseEvent(self.what) if self.what in _EVENT_NAMES else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "who": self.who,
            "when": self.when.isoformat(),
            "what": self.what,
            "from": self.from_state.value if self.from_state is not None else None,
            "to": self.to_state.value,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AuditEntry:
        try:
            when = datetime.fromisoformat(raw["when"])
            from_raw = raw["from"]
            return cls(
                who=str(raw["who"]),
                when=when,
                what=str(raw["what"]),
                from_state=CaseState(from_raw) if from_raw is not None else None,
                to_state=CaseState(raw["to"]),
                detail=dict(raw.get("detail") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage(f"malformed audit entry: {exc}") from exc


_EVENT_NAMES: Final = frozenset(item.value for item in CaseEvent)


def current_state(trail: Sequence[AuditEntry]) -> CaseState | None:
    """The state after the last entry (``None`` before the report). Trusts the trail; use
    :func:`replay` to check one read from storage."""
    return trail[-1].to_state if trail else None


def review_deadline(delivered_at: datetime, zone: tzinfo = CHINA_TIME) -> datetime:
    """The first instant at which a review may no longer be requested.

    Periods counted in days start on the day after service and end at midnight after the
    last day, so a determination served at 10:00 on 1 May may be reviewed until 24:00 on
    4 May. (Extension over public holidays is not modelled.)
    """
    local_day = delivered_at.astimezone(zone).date()
    return datetime.combine(local_day + timedelta(days=REVIEW_DAYS + 1), time(0), tzinfo=zone)


def review_window_open(
    trail: Sequence[AuditEntry], now: datetime, zone: tzinfo = CHINA_TIME
) -> bool:
    """Whether a review could be requested now: the case is notified, no review has been
    requested yet, and the deadline counted from the latest delivery has not passed."""
    delivered = _last(trail, E.NOTIFY)
    return (
        current_state(trail) is S.NOTIFIED
        and _last(trail, E.REQUEST_REVIEW) is None
        and delivered is not None
        and now < review_deadline(delivered.when, zone)
    )


def apply(
    trail: Sequence[AuditEntry],
    event: CaseEvent,
    who: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
    *,
    zone: tzinfo = CHINA_TIME,
) -> AuditEntry:
    """Check ``event`` against the table and the case's history and return the new entry.

    ``trail`` is not modified: the caller stores the entry (in the same database transaction
    as whatever else the event changes), so a refused event leaves nothing half-written.

    Required ``detail`` fields: ``determine`` and ``propose_agreement`` carry
    ``liabilities`` ({party: liability}), which must be consistent; ``confirm_agreement``
    carries ``party``; ``decide_review`` carries ``outcome`` (upheld/revised);
    ``request_review`` carries a written ``reason``.
    """
    _check_actor_and_time(trail, who, at)
    detail = dict(detail or {})
    state = current_state(trail)
    target = transition(state, event)
    _check_history(trail, state, event, at, detail, zone)
    return AuditEntry(
        who=who, when=at, what=event.value, from_state=state, to_state=target, detail=detail
    )


def record_action(
    trail: Sequence[AuditEntry],
    action: str,
    who: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """An audit entry for an officer action that does not move the state (a verification
    decision, an edit of the case form, printing the document)."""
    if not action or action in _EVENT_NAMES:
        raise ValueError(f"{action!r} is not an action name (events go through apply())")
    if not trail:
        raise IllegalTransition(
            f"action {action!r} before the case was reported", state=None, event=action
        )
    _check_actor_and_time(trail, who, at)
    state = trail[-1].to_state
    return AuditEntry(
        who=who, when=at, what=action, from_state=state, to_state=state, detail=dict(detail or {})
    )


def replay(trail: Sequence[AuditEntry], *, zone: tzinfo = CHINA_TIME) -> CaseState | None:
    """Re-run every entry through the same checks that created it and return the final
    state. Raises on the first entry that could not have been produced (tampered, reordered
    or written by a buggy caller)."""
    for index, entry in enumerate(trail):
        prefix = trail[:index]
        event = entry.event
        if event is not None:
            expected = apply(prefix, event, entry.who, entry.when, entry.detail, zone=zone)
        else:
            expected = record_action(prefix, entry.what, entry.who, entry.when, entry.detail)
        if expected != entry:
            raise IllegalTransition(
                f"audit entry {index} ({entry.what}) does not follow from the entries before it",
                state=expected.from_state.value if expected.from_state else None,
                event=entry.what,
                reason="trail_mismatch",
                index=index,
            )
    return current_state(trail)


def determination_version(trail: Sequence[AuditEntry]) -> int:
    """How many determinations were issued; the current document is this version."""
    return sum(1 for entry in trail if entry.what == E.DETERMINE)


# --- history rules ---------------------------------------------------------------------


def _last(trail: Sequence[AuditEntry], event: CaseEvent) -> AuditEntry | None:
    return next((entry for entry in reversed(trail) if entry.what == event), None)


def _since_last(trail: Sequence[AuditEntry], event: CaseEvent) -> Sequence[AuditEntry]:
    for index in range(len(trail) - 1, -1, -1):
        if trail[index].what == event:
            return trail[index:]
    return ()


def _check_actor_and_time(trail: Sequence[AuditEntry], who: str, at: datetime) -> None:
    # Programming errors, not client errors: the server fills these in itself.
    if not who:
        raise ValueError("an audit entry needs an actor")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware")
    if trail and at < trail[-1].when:
        raise ValueError("audit times must not go backwards")


def _refuse(state: CaseState | None, event: CaseEvent, reason: str, message: str) -> NoReturn:
    raise IllegalTransition(
        message, state=state.value if state else None, event=event.value, reason=reason
    )


def _check_history(
    trail: Sequence[AuditEntry],
    state: CaseState | None,
    event: CaseEvent,
    at: datetime,
    detail: Mapping[str, Any],
    zone: tzinfo,
) -> None:
    if event in (E.DETERMINE, E.PROPOSE_AGREEMENT):
        check_liabilities(parse_liabilities(detail.get("liabilities")))

    if event is E.DETERMINE and state is S.REVIEW_DECIDED:
        if _review_outcome(trail) is not ReviewOutcome.REVISED:
            _refuse(state, event, "review_upheld", "the review upheld the determination")

    elif event is E.CLOSE and state is S.REVIEW_DECIDED:
        if _review_outcome(trail) is not ReviewOutcome.UPHELD:
            _refuse(
                state,
                event,
                "review_revised",
                "the review revised the determination; issue the new version first",
            )

    elif event is E.CLOSE and state is S.NOTIFIED:
        # Closing early would take away the parties' right to a review.
        delivered = _last(trail, E.NOTIFY)
        review_used = _last(trail, E.REQUEST_REVIEW) is not None
        if delivered is not None and not review_used:
            deadline = review_deadline(delivered.when, zone)
            if at < deadline:
                _refuse(
                    state,
                    event,
                    "review_window_open",
                    f"the review window is open until {deadline.isoformat()}",
                )

    elif event is E.REQUEST_REVIEW:
        if _last(trail, E.REQUEST_REVIEW) is not None:
            # 复核以一次为限: a review outcome is final.
            _refuse(state, event, "review_already_used", "a case can be reviewed only once")
        delivered = _last(trail, E.NOTIFY)
        assert delivered is not None  # the table only allows this from NOTIFIED
        deadline = review_deadline(delivered.when, zone)
        if at >= deadline:
            raise ReviewWindowClosed(
                f"the review window closed at {deadline.isoformat()}",
                state=S.NOTIFIED.value,
                event=event.value,
                reason="review_window_closed",
                deadline=deadline.isoformat(),
            )
        reason = detail.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidMessage("a review request needs a written reason", field="reason")

    elif event is E.DECIDE_REVIEW:
        try:
            ReviewOutcome(str(detail.get("outcome")))
        except ValueError:
            raise InvalidMessage(
                "a review decision needs an outcome: upheld or revised", field="outcome"
            ) from None

    elif event is E.CONFIRM_AGREEMENT:
        party = detail.get("party")
        parties, confirmed = _agreement_progress(trail)
        if party not in parties:
            _refuse(state, event, "unknown_party", f"{party!r} is not a party to the agreement")
        if party in confirmed:
            _refuse(state, event, "already_confirmed", f"{party!r} has already confirmed")

    elif event is E.COMPLETE_AGREEMENT:
        parties, confirmed = _agreement_progress(trail)
        missing = sorted(parties - confirmed)
        if missing:
            _refuse(
                state,
                event,
                "not_all_confirmed",
                f"waiting for confirmation from {', '.join(missing)}",
            )


def _review_outcome(trail: Sequence[AuditEntry]) -> ReviewOutcome | None:
    decision = _last(trail, E.DECIDE_REVIEW)
    return ReviewOutcome(decision.detail["outcome"]) if decision else None


def _agreement_progress(trail: Sequence[AuditEntry]) -> tuple[set[str], set[str]]:
    """Parties of the latest proposal, and those who confirmed it (a withdrawn or rejected
    proposal's confirmations do not carry over to a new proposal)."""
    since = _since_last(trail, E.PROPOSE_AGREEMENT)
    if not since:
        return set(), set()
    parties = set(since[0].detail["liabilities"])
    confirmed = {str(e.detail["party"]) for e in since if e.what == E.CONFIRM_AGREEMENT}
    return parties, confirmed
