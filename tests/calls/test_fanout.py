"""What the pages are told, in-process: the fan-out over the session registry, with an
emitter that records instead of sending."""

from __future__ import annotations

from typing import Any

from kuaichu.calls.fanout import CallFanout
from kuaichu.calls.model import Call, CallState
from kuaichu.calls.sessions import CallRegistry
from kuaichu.cases.states import CaseState
from kuaichu.queue import OfficerStatus, QueuedCall
from kuaichu.queue.model import QueuePosition
from kuaichu.signaling.emitter import Emitter
from kuaichu.signaling.rooms import DRIVER_NS, OFFICER_NS

Sent = tuple[str, Any, str, str | None]


class RecordingEmitter(Emitter):
    def __init__(self) -> None:
        super().__init__(sio=None)
        self.sent: list[Sent] = []

    def send(self, event: str, data: Any, namespace: str, to: str | None) -> None:
        self.sent.append((event, data, namespace, to))


def _call(n: int, case_id: str, sid: str | None, officer_id: int | None = None) -> Call:
    call_id = f"call-{n}"
    call = Call(call_id, case_id, sid, QueuedCall(call_id, case_id, 0.0), None)
    call.officer_id = officer_id
    return call


def _fanout() -> tuple[CallFanout, CallRegistry, RecordingEmitter]:
    emitter = RecordingEmitter()
    sessions = CallRegistry()
    return CallFanout(emitter, sessions), sessions, emitter


def test_push_to_case_reaches_live_calls_their_officers_and_ended_pages() -> None:
    fanout, sessions, emitter = _fanout()
    sessions.add(_call(1, "KC-A", "sid-1", officer_id=7))
    sessions.add(_call(2, "KC-A", None))  # the driver is away (grace period)
    sessions.add(_call(3, "KC-B", "sid-3"))
    sessions.ended_pages["sid-old"] = "KC-A"
    reached = fanout.push_to_case("KC-A", "case_status", {"status": "in_call"})
    assert reached == 2  # sid-1 and the ended page; the absent driver is not counted
    targets = sorted((ns, to) for _, _, ns, to in emitter.sent)
    assert targets == [
        (DRIVER_NS, "sid-1"),
        (DRIVER_NS, "sid-old"),
        (OFFICER_NS, "officer:7"),
    ]


def test_an_absent_driver_is_never_sent_to_the_whole_namespace() -> None:
    fanout, _, emitter = _fanout()
    fanout.driver_state(_call(1, "KC-A", None))
    assert emitter.sent == []


def test_queue_changed_tells_each_waiting_driver_and_every_console() -> None:
    fanout, sessions, emitter = _fanout()
    sessions.add(_call(1, "KC-A", "sid-1"))
    summary = {"waiting": 2, "longest_wait_s": 30, "available": 0}
    fanout.queue_changed(
        [QueuePosition("call-1", 1, 2, 150), QueuePosition("call-gone", 2, 2, 450)], summary
    )
    assert emitter.sent == [
        (
            "queue",
            {"call_id": "call-1", "position": 1, "waiting": 2, "estimated_wait_s": 150},
            DRIVER_NS,
            "sid-1",
        ),
        ("queue_summary", summary, OFFICER_NS, None),
    ]


def test_officer_state_goes_to_the_officers_room_then_the_summary_to_all() -> None:
    fanout, _, emitter = _fanout()
    fanout.officer_state_changed(7, OfficerStatus.WRAPUP, "call-1", 123.0, {"waiting": 0})
    assert emitter.sent == [
        (
            "officer_state",
            {"status": "wrapup", "call_id": "call-1", "wrapup_until": 123.0},
            OFFICER_NS,
            "officer:7",
        ),
        ("queue_summary", {"waiting": 0}, OFFICER_NS, None),
    ]


def test_relink_moves_calls_and_ended_pages_to_the_merged_case() -> None:
    fanout, sessions, _ = _fanout()
    call = _call(1, "KC-B", "sid-1")
    sessions.add(call)
    sessions.ended_pages["sid-old"] = "KC-B"
    fanout.relink("KC-B", "KC-A")
    fanout.case_state_changed("KC-A", CaseState.IN_CALL)
    assert (call.case_id, call.queued.case_id, call.case_state) == (
        "KC-A",
        "KC-A",
        CaseState.IN_CALL,
    )
    assert sessions.ended_pages == {"sid-old": "KC-A"}


def test_an_ended_call_leaves_its_driver_page_listening_to_the_case() -> None:
    _, sessions, _ = _fanout()
    call = _call(1, "KC-A", "sid-1")
    sessions.add(call)
    call.state = CallState.ENDED
    sessions.remove(call)
    assert sessions.get("call-1") is None
    assert not sessions.has_driver("sid-1")
    assert sessions.ended_pages == {"sid-1": "KC-A"}
