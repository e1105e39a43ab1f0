"""The case state machine: literal walks through every branch, then hypothesis on random runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuaichu.cases.errors import IllegalTransition, InconsistentLiability, ReviewWindowClosed
from kuaichu.cases.states import (
    CHINA_TIME,
    TERMINAL_STATES,
    TRANSITIONS,
    AuditEntry,
    CaseEvent,
    CaseState,
    allowed_events,
    apply,
    case_timings,
    current_state,
    determination_version,
    record_action,
    replay,
    review_deadline,
    review_window_open,
    transition,
)
from kuaichu.errors import InvalidMessage, KuaichuError

E = CaseEvent
S = CaseState
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=CHINA_TIME)
TWO = {"甲": "major", "乙": "minor"}


class Case:
    """A tiny in-memory stand-in for the case table: the trail plus a clock."""

    def __init__(self) -> None:
        self.trail: list[AuditEntry] = []
        self.now = T0

    def do(
        self,
        event: CaseEvent,
        after: timedelta = timedelta(seconds=10),
        who: str = "officer:1",
        **detail: Any,
    ) -> AuditEntry:
        self.now += after
        entry = apply(self.trail, event, who, self.now, detail)
        self.trail.append(entry)
        return entry

    @property
    def state(self) -> CaseState | None:
        return current_state(self.trail)


def up_to_notified() -> Case:
    case = Case()
    case.now = T0 - timedelta(seconds=10)
    case.do(E.REPORT, who="driver:c1")
    case.do(E.QUEUE, who="system")
    case.do(E.ANSWER, timedelta(seconds=40))
    case.do(E.COLLECT_EVIDENCE, timedelta(minutes=3))
    case.do(E.CLEAR_SCENE)
    case.do(E.DETERMINE, timedelta(minutes=3), liabilities=TWO, basis="第九十条")
    case.do(E.NOTIFY, who="system")
    return case


# --- the table ---------------------------------------------------------------------------


def test_main_path_and_timings() -> None:
    case = up_to_notified()
    case.do(E.CLOSE, timedelta(days=4))
    assert case.state is S.CLOSED
    assert replay(case.trail) is S.CLOSED
    timings = case_timings(case.trail)
    assert timings.reported_at == T0
    assert timings.to_information == timedelta(minutes=3, seconds=50)
    assert timings.information_on_target is True
    assert timings.to_determination == timedelta(minutes=7)
    assert timings.determination_on_target is True
    assert determination_version(case.trail) == 1


def test_illegal_transition_names_state_and_event() -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(S.QUEUED, E.DETERMINE)
    err = caught.value
    assert "'determine'" in err.message and "'queued'" in err.message
    assert "answer" in err.message  # the allowed events are listed
    assert err.code == "illegal_transition" and err.http_status == 409
    assert err.detail == {"state": "queued", "event": "determine"}


def test_nothing_before_report_and_nothing_after_the_end() -> None:
    with pytest.raises(IllegalTransition, match=r"\(no case\)"):
        transition(None, E.QUEUE)
    for state in TERMINAL_STATES:
        assert allowed_events(state) == ()
        assert state.terminal


def test_every_state_is_reachable_and_can_finish() -> None:
    edges: dict[CaseState | None, set[CaseState]] = {}
    for (source, _event), target in TRANSITIONS.items():
        edges.setdefault(source, set()).add(target)

    def reach(start: CaseState | None) -> set[CaseState]:
        seen: set[CaseState] = set()
        todo = list(edges.get(start, ()))
        while todo:
            state = todo.pop()
            if state not in seen:
                seen.add(state)
                todo.extend(edges.get(state, ()))
        return seen

    assert reach(None) == set(CaseState)
    for state in CaseState:
        if not state.terminal:
            assert reach(state) & TERMINAL_STATES, state


def test_abandon_only_before_evidence_and_cancel_never_after_determination() -> None:
    assert transition(S.IN_CALL, E.ABANDON) is S.ABANDONED
    assert transition(S.IN_CALL, E.REQUEUE) is S.QUEUED
    with pytest.raises(IllegalTransition):
        transition(S.EVIDENCE_COLLECTED, E.ABANDON)
    assert transition(S.SCENE_CLEARED, E.CANCEL) is S.CANCELLED
    for state in (S.DETERMINED, S.NOTIFIED, S.REVIEW_REQUESTED, S.AGREEMENT_APPROVED):
        with pytest.raises(IllegalTransition):
            transition(state, E.CANCEL)


def test_leave_the_scene_only_after_evidence() -> None:
    with pytest.raises(IllegalTransition):
        transition(S.IN_CALL, E.CLEAR_SCENE)
    with pytest.raises(IllegalTransition):
        transition(S.EVIDENCE_COLLECTED, E.DETERMINE)


# --- history rules -------------------------------------------------------------------------


def test_review_deadline_counts_three_days_after_service() -> None:
    assert review_deadline(T0) == datetime(2024, 5, 5, 0, 0, tzinfo=CHINA_TIME)
    # Served at 23:30 local (15:30 UTC): the day of service is still 1 May.
    late = datetime(2024, 5, 1, 15, 30, tzinfo=UTC)
    assert review_deadline(late) == datetime(2024, 5, 5, 0, 0, tzinfo=CHINA_TIME)


def test_review_within_window_then_upheld() -> None:
    case = up_to_notified()
    served = case.now
    assert review_window_open(case.trail, served + timedelta(days=3))
    case.do(E.REQUEST_REVIEW, timedelta(days=3), who="driver:c1", reason="对方变道未打灯")
    assert not review_window_open(case.trail, case.now)
    case.do(E.DECIDE_REVIEW, timedelta(hours=5), who="supervisor:2", outcome="upheld")
    with pytest.raises(IllegalTransition) as caught:
        case.do(E.DETERMINE, liabilities=TWO)
    assert caught.value.detail["reason"] == "review_upheld"
    case.do(E.CLOSE)
    assert replay(case.trail) is S.CLOSED


def test_review_after_window_is_refused_at_the_exact_boundary() -> None:
    case = up_to_notified()
    deadline = review_deadline(case.now)
    just_before = apply(
        case.trail, E.REQUEST_REVIEW, "driver:c1", deadline - timedelta(seconds=1), {"reason": "x"}
    )
    assert just_before.to_state is S.REVIEW_REQUESTED
    with pytest.raises(ReviewWindowClosed) as caught:
        apply(case.trail, E.REQUEST_REVIEW, "driver:c1", deadline, {"reason": "x"})
    assert caught.value.code == "review_window_closed"
    assert caught.value.detail["deadline"] == deadline.isoformat()
    assert isinstance(caught.value, IllegalTransition)
    assert case.state is S.NOTIFIED  # nothing changed


def test_review_needs_a_written_reason() -> None:
    case = up_to_notified()
    with pytest.raises(InvalidMessage):
        case.do(E.REQUEST_REVIEW, reason="   ")


def test_revised_review_issues_a_new_version_and_no_second_review() -> None:
    case = up_to_notified()
    case.do(E.REQUEST_REVIEW, timedelta(days=1), reason="不服")
    case.do(E.DECIDE_REVIEW, outcome="revised")
    with pytest.raises(IllegalTransition) as caught:
        case.do(E.CLOSE)
    assert caught.value.detail["reason"] == "review_revised"
    case.do(E.DETERMINE, liabilities={"甲": "equal", "乙": "equal"})
    assert determination_version(case.trail) == 2
    case.do(E.NOTIFY)
    with pytest.raises(IllegalTransition) as caught:
        case.do(E.REQUEST_REVIEW, reason="再次不服")
    assert caught.value.detail["reason"] == "review_already_used"
    case.do(E.CLOSE)  # the review was used, so no window keeps the case open
    assert replay(case.trail) is S.CLOSED
    # The advertised figure counts the first determination, not the revised one.
    assert case_timings(case.trail).to_determination == timedelta(minutes=7)


def test_decide_review_needs_a_known_outcome() -> None:
    case = up_to_notified()
    case.do(E.REQUEST_REVIEW, reason="不服")
    with pytest.raises(InvalidMessage):
        case.do(E.DECIDE_REVIEW, outcome="maybe")


def test_closing_while_the_review_window_is_open_is_refused() -> None:
    case = up_to_notified()
    with pytest.raises(IllegalTransition) as caught:
        case.do(E.CLOSE, timedelta(days=1))
    assert caught.value.detail["reason"] == "review_window_open"


def test_correction_supersedes_and_reopens_the_window() -> None:
    case = up_to_notified()
    case.do(E.DETERMINE, timedelta(days=2), liabilities={"甲": "full", "乙": "none"})
    case.do(E.NOTIFY)
    assert determination_version(case.trail) == 2
    # Counted from the latest service, so day 4 after the first one is still inside.
    assert review_window_open(case.trail, T0 + timedelta(days=4, hours=1))


def test_determination_must_be_consistent() -> None:
    case = up_to_notified()
    with pytest.raises(InconsistentLiability):
        case.do(E.DETERMINE, liabilities={"甲": "full", "乙": "minor"})
    with pytest.raises(InvalidMessage):
        case.do(E.DETERMINE)
    assert case.state is S.NOTIFIED


def test_agreement_branch() -> None:
    case = Case()
    for event in (E.REPORT, E.QUEUE, E.ANSWER, E.COLLECT_EVIDENCE, E.CLEAR_SCENE):
        case.do(event)
    case.do(E.PROPOSE_AGREEMENT, who="driver:c1", liabilities={"甲": "full", "乙": "none"})
    case.do(E.CONFIRM_AGREEMENT, who="driver:c1", party="甲")
    with pytest.raises(IllegalTransition) as caught:
        case.do(E.COMPLETE_AGREEMENT, who="system")
    assert caught.value.detail["reason"] == "not_all_confirmed"
    assert "乙" in caught.value.message
    with pytest.raises(IllegalTransition, match="丙"):
        case.do(E.CONFIRM_AGREEMENT, party="丙")
    with pytest.raises(IllegalTransition) as caught:
        case.do(E.CONFIRM_AGREEMENT, party="甲")
    assert caught.value.detail["reason"] == "already_confirmed"
    case.do(E.CONFIRM_AGREEMENT, who="driver:c2", party="乙")
    case.do(E.COMPLETE_AGREEMENT, who="system")
    assert case.state is S.AGREEMENT_CONFIRMED
    case.do(E.APPROVE_AGREEMENT, who="officer:1")
    case.do(E.CLOSE)
    assert replay(case.trail) is S.CLOSED
    assert case_timings(case.trail).determination_issued_at is None


def test_withdrawn_agreement_forgets_its_confirmations() -> None:
    case = Case()
    for event in (E.REPORT, E.QUEUE, E.ANSWER, E.COLLECT_EVIDENCE, E.CLEAR_SCENE):
        case.do(event)
    case.do(E.PROPOSE_AGREEMENT, liabilities=TWO)
    case.do(E.CONFIRM_AGREEMENT, party="甲")
    case.do(E.WITHDRAW_AGREEMENT, who="driver:c2")
    assert case.state is S.SCENE_CLEARED
    case.do(E.PROPOSE_AGREEMENT, liabilities=TWO)
    case.do(E.CONFIRM_AGREEMENT, party="乙")
    with pytest.raises(IllegalTransition, match="甲"):
        case.do(E.COMPLETE_AGREEMENT)
    with pytest.raises(InconsistentLiability):
        apply(
            case.trail[:5],
            E.PROPOSE_AGREEMENT,
            "driver:c1",
            case.now,
            {"liabilities": {"甲": "none", "乙": "none"}},
        )


# --- the trail -----------------------------------------------------------------------------


def test_actions_are_audited_without_moving_the_state() -> None:
    case = up_to_notified()
    entry = record_action(
        case.trail, "verification_override", "officer:1", case.now, {"item": "insurance"}
    )
    assert entry.from_state is entry.to_state is S.NOTIFIED
    assert entry.event is None
    case.trail.append(entry)
    assert replay(case.trail) is S.NOTIFIED
    with pytest.raises(ValueError):
        record_action(case.trail, "close", "officer:1", case.now)
    with pytest.raises(IllegalTransition):
        record_action([], "edit_form", "officer:1", case.now)


def test_replay_catches_a_tampered_trail() -> None:
    case = up_to_notified()
    forged = list(case.trail)
    forged[3] = AuditEntry(
        forged[3].who, forged[3].when, forged[3].what, forged[3].from_state, S.SCENE_CLEARED
    )
    with pytest.raises(IllegalTransition) as caught:
        replay(forged)
    assert caught.value.detail["reason"] == "trail_mismatch"
    assert caught.value.detail["index"] == 3
    # Dropping an entry breaks the chain too.
    with pytest.raises(IllegalTransition):
        replay(case.trail[:2] + case.trail[3:])


def test_entries_round_trip_through_json_dicts() -> None:
    case = up_to_notified()
    stored = [AuditEntry.from_dict(entry.to_dict()) for entry in case.trail]
    assert stored == case.trail
    assert replay(stored) is S.NOTIFIED
    with pytest.raises(InvalidMessage):
        AuditEntry.from_dict({"who": "x"})


def test_times_must_be_aware_and_monotonic() -> None:
    with pytest.raises(ValueError, match="aware"):
        apply([], E.REPORT, "driver:c1", datetime(2024, 5, 1, 10, 0))
    case = up_to_notified()
    with pytest.raises(ValueError, match="backwards"):
        apply(case.trail, E.CLOSE, "officer:1", T0)
    with pytest.raises(ValueError):
        apply([], E.REPORT, "", T0)


def test_timings_over_target_and_unreached() -> None:
    case = Case()
    case.do(E.REPORT, timedelta(0))
    assert case_timings(case.trail).to_information is None
    assert case_timings(case.trail).information_on_target is None
    case.do(E.QUEUE)
    case.do(E.ANSWER, timedelta(minutes=6))
    case.do(E.COLLECT_EVIDENCE, timedelta(minutes=1))
    timings = case_timings(case.trail)
    assert timings.information_on_target is False
    assert timings.to_determination is None


# --- properties ----------------------------------------------------------------------------

events = st.sampled_from(list(CaseEvent))
EXITS = {E.ABANDON, E.CANCEL}
STEPS = [timedelta(0), timedelta(seconds=30), timedelta(hours=2), timedelta(days=2)]
LIABILITY_SETS: list[Mapping[str, str]] = [
    {"a": "full", "b": "none"},
    {"a": "major", "b": "minor", "c": "minor"},
    {"a": "equal", "b": "equal"},
    {"a": "full", "b": "full"},  # inconsistent on purpose
]


@given(st.lists(events, max_size=60))
def test_table_never_leaves_the_defined_states(sequence: Sequence[CaseEvent]) -> None:
    state: CaseState | None = None
    for event in sequence:
        try:
            new = transition(state, event)
        except IllegalTransition as err:
            assert err.detail["event"] == event.value
            assert event not in allowed_events(state)
            continue  # the state is a value we still hold: unchanged by construction
        assert new in CaseState
        assert event in allowed_events(state)
        state = new


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_runs_are_replayable_and_refusals_change_nothing(data: st.DataObject) -> None:
    trail: list[AuditEntry] = []
    now = T0
    for _ in range(data.draw(st.integers(0, 45), label="length")):
        state = current_state(trail)
        # Mostly events that move the case forward, so runs get deep; sometimes an exit
        # (abandon, cancel), sometimes anything at all.
        allowed = allowed_events(state)
        forward = [e for e in allowed if e not in EXITS]
        pick = data.draw(st.integers(0, 9))
        if forward and pick > 1:
            event = data.draw(st.sampled_from(forward))
        elif allowed and pick == 1:
            event = data.draw(st.sampled_from(allowed))
        else:
            event = data.draw(events)
        now += data.draw(st.sampled_from(STEPS))
        detail: dict[str, Any] = {}
        if event in (E.DETERMINE, E.PROPOSE_AGREEMENT):
            detail["liabilities"] = dict(data.draw(st.sampled_from(LIABILITY_SETS)))
        elif event is E.CONFIRM_AGREEMENT:
            proposal = next((e for e in reversed(trail) if e.what == E.PROPOSE_AGREEMENT), None)
            named = sorted(proposal.detail["liabilities"]) if proposal else []
            detail["party"] = data.draw(st.sampled_from([*named, "z"]))
        elif event is E.DECIDE_REVIEW:
            detail["outcome"] = data.draw(st.sampled_from(["upheld", "revised", "bogus"]))
        elif event is E.REQUEST_REVIEW:
            detail["reason"] = data.draw(st.sampled_from(["不服", ""]))
        before = list(trail)
        try:
            entry = apply(trail, event, "someone", now, detail)
        except KuaichuError as err:
            assert isinstance(err, IllegalTransition | InvalidMessage)
            assert trail == before and current_state(trail) is state
            continue
        assert entry.from_state is state
        assert entry.to_state in CaseState
        assert entry.to_state is transition(state, event)
        trail.append(entry)

    assert replay(trail) is current_state(trail)
    assert replay([AuditEntry.from_dict(e.to_dict()) for e in trail]) is current_state(trail)
    timings = case_timings(trail)
    if timings.to_information is not None and timings.to_determination is not None:
        assert timings.to_information <= timings.to_determination
    # A terminal state is final.
    if trail and trail[-1].to_state.terminal:
        assert allowed_events(trail[-1].to_state) == ()


def test_docs_name_every_state_and_event() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cases.md").read_text("utf-8")
    for name in [*CaseState, *CaseEvent]:
        assert name.value in doc, name
