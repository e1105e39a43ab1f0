"""Who is connected to what: live calls, driver and officer sockets, ended driver pages.

In-process state today; a cluster moves it (with the queue and socket.io's client manager)
into shared storage behind the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..accounts.model import Officer
from ..errors import NotFound
from .model import Call


class CallRegistry:
    """The live calls and the sockets of the people on them."""

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self.by_driver: dict[str, str] = {}  # driver sid -> call id
        self.officer_sids: dict[int, set[str]] = {}
        self.officers: dict[int, Officer] = {}
        # Driver pages whose call has ended but which are still open (the "ended" screen):
        # a leave-the-scene notice pushed during wrap-up must still reach them.
        self.ended_pages: dict[str, str] = {}  # driver sid -> case id

    # -- calls ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Call]:
        """The live calls (a snapshot: safe to end calls while iterating)."""
        return iter(list(self.calls.values()))

    def get(self, call_id: str) -> Call | None:
        """The live call, or None."""
        return self.calls.get(call_id)

    def in_case(self, case_id: str) -> list[Call]:
        """The live calls of one case (two after linked reports)."""
        return [call for call in self.calls.values() if call.case_id == case_id]

    def add(self, call: Call) -> None:
        """A new call, held by its driver's connection."""
        self.calls[call.call_id] = call
        if call.driver_sid is not None:
            self.by_driver[call.driver_sid] = call.call_id

    def remove(self, call: Call) -> None:
        """The call ended: forget it; its driver page (if open) keeps the case's pushes."""
        self.calls.pop(call.call_id, None)
        if call.driver_sid is not None:
            self.by_driver.pop(call.driver_sid, None)
            self.ended_pages[call.driver_sid] = call.case_id

    # -- drivers -------------------------------------------------------------------------

    def has_driver(self, sid: str) -> bool:
        """Whether this driver connection already has a live call."""
        return sid in self.by_driver

    def driver_call(self, sid: str) -> Call:
        """The call this driver connection holds (NotFound if none)."""
        call_id = self.by_driver.get(sid)
        if call_id is None or call_id not in self.calls:
            raise NotFound("you have no active call")
        return self.calls[call_id]

    def attach_driver(self, call: Call, sid: str) -> None:
        """The driver's (new) connection takes the call; an older one lets go of it."""
        if call.driver_sid is not None:
            self.by_driver.pop(call.driver_sid, None)  # the newer connection wins
        call.driver_sid = sid
        self.by_driver[sid] = call.call_id

    def detach_driver(self, sid: str) -> Call | None:
        """The driver's socket is gone: the call it held, if it still held one."""
        self.ended_pages.pop(sid, None)
        call_id = self.by_driver.pop(sid, None)
        call = self.calls.get(call_id) if call_id else None
        if call is None or call.driver_sid != sid:
            return None
        call.driver_sid = None
        return call

    # -- officers ------------------------------------------------------------------------

    def officer_call(self, officer: Officer, call_id: str) -> Call:
        """The call if this officer is on it (NotFound otherwise)."""
        call = self.calls.get(call_id)
        if call is None or call.officer_id != officer.id:
            raise NotFound("you have no such call")
        return call

    def officer_connected(self, officer: Officer, sid: str) -> None:
        """One more console tab of this officer."""
        self.officers[officer.id] = officer
        self.officer_sids.setdefault(officer.id, set()).add(sid)

    def officer_disconnected(self, officer: Officer, sid: str) -> bool:
        """Forget one of the officer's sockets; True if it was their last one."""
        sids = self.officer_sids.get(officer.id, set())
        sids.discard(sid)
        if sids:
            return False
        self.officer_sids.pop(officer.id, None)
        return True

    def officer(self, officer_id: int | None) -> Officer | None:
        """The account of an officer seen connected (for names on the wallboard)."""
        return self.officers.get(officer_id) if officer_id is not None else None
