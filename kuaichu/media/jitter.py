"""Reassembling encoded frames from RTP packets, as aiortc's jitter buffer does, in O(1) a packet.

aiortc 1.16.0's ``JitterBuffer.add`` rescans every packet held from the origin each time a
packet arrives, so a 60-packet keyframe costs ~1,800 slot visits and the receive path of a
forwarded 720p call spent more of the event loop there than anywhere else. ``FrameBuffer`` keeps
what that scan would find between calls: how far the run of consecutive packets from the origin
goes, and where in it the RTP timestamp changes (a frame ends). A packet then costs a few
steps, plus one pass over a frame's packets when the frame leaves.

It returns what aiortc's buffer returns, packet for packet: the same ``(pli_flag, frame)``
pairs, with the same complete frames in the same order, the same drop of late packets (less
than ``MAX_MISORDER`` behind the origin), the same restart after a large backwards jump, the
same ``smart_remove`` of whole frames when a packet lands beyond the capacity, and the same
prefetch (audio waits for four frames). ``tests/media/test_jitter.py`` checks it against
aiortc's own buffer on randomized streams; ``kuaichu.media.aiortc_tap`` installs it.

One thing it does that aiortc's does not, for video (``give_up_after``): a hole it has waited
for that long is given up. aiortc NACKs a missing packet once, when the gap shows, and its
buffer then waits until 512 newer packets have arrived: when the retransmission is lost too
(a bad mobile path loses both), the officer's picture froze for the 5-10 s that 512 packets
take at the low bitrate a phone sends after losses, and the frames behind the hole came out
late, at up to five a packet (the console presented 0.0 frames/s for 5 s and then 40/s after
a lossy path turned good, 2026-12-02). Giving up drops the hole and the frame after it and counts
a loss (``losses``): the frames that follow may reference what was dropped, so the consumer
(kuaichu.media.call_media, told by the tap) asks the phone for a keyframe, rate-limited. The
PLI flag is not raised for it: aiortc sends one PLI per flag, unlimited, and on a path losing
20 % that was six keyframe requests a second.

The packets are aiortc's ``RtpPacket`` with ``_data``, the depayloaded bytes the receiver sets
before ``add`` (``aiortc_tap.check_aiortc_internals`` checks it still does).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

MAX_MISORDER = 100  # aiortc's: a packet this far behind the origin restarts the buffer
# How long a video hole is waited for. aiortc NACKs once, when the gap shows: the
# retransmission arrives one round trip later (up to ~300 ms on a bad mobile path, 2 x 150 ms
# in tests/browser/test_video_quality.py) or never.
GIVE_UP_SECONDS = 0.5


class FrameBuffer:
    """Drop-in for ``aiortc.jitterbuffer.JitterBuffer`` (same constructor, ``add``, ``remove``,
    ``smart_remove`` and ``capacity``).

    Slots hold the packets from the origin on, at ``sequence_number % capacity`` as in aiortc.
    Besides, positions are counted on an unbounded "absolute" axis so they survive the 16-bit
    wrap: ``_head`` is the origin's, ``_end`` is one past the run of filled slots known to
    start at the origin (the slot at ``_end`` is empty, or the run fills the buffer), and
    ``_starts`` holds the positions inside that run where the timestamp changes, i.e. where
    aiortc's scan would count a frame.
    """

    def __init__(
        self,
        capacity: int,
        prefetch: int = 0,
        is_video: bool = False,
        *,
        give_up_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity <= 0 or capacity & (capacity - 1):
            raise ValueError("capacity must be a power of 2")
        self._capacity = capacity
        self._mask = capacity - 1
        self._origin: int | None = None
        self._packets: list[RtpPacket | None] = [None] * capacity
        self._prefetch = prefetch
        # aiortc returns the first frame once its scan has counted this many frame ends.
        self._needed = max(1, prefetch)
        self._is_video = is_video
        self._head = 0
        self._end = 0
        self._starts: deque[int] = deque()
        # Giving up on holes (None: wait as aiortc does). ``_far`` is one past the furthest
        # position held; a hole blocks the run while ``_end < _far``. ``_stall_since`` is
        # when the hole at ``_stall_end`` showed (the earliest arrival beyond it) and
        # ``_stall_first`` the first packet after it.
        self._give_up_after = give_up_after
        self._clock = clock
        self._arrived: list[float] = [0.0] * capacity if give_up_after is not None else []
        self._far = 0
        self._stall_end = -1
        self._stall_first = 0
        self._stall_since = 0.0
        # Times packets were dropped without leaving in a frame (a hole given up, a packet
        # beyond the capacity, a restart): the frames after such a drop may reference a
        # frame that never left.
        self.losses = 0

    @classmethod
    def taking_over(
        cls,
        capacity: int,
        prefetch: int,
        is_video: bool,
        origin: int | None,
        packets: list[RtpPacket | None],
        *,
        give_up_after: float | None = None,
    ) -> FrameBuffer:
        """A buffer continuing from another's state (packets may already be held; they count
        as arrived now)."""
        buffer = cls(capacity, prefetch, is_video, give_up_after=give_up_after)
        if len(packets) != capacity:
            raise ValueError(f"{len(packets)} slots for a capacity of {capacity}")
        buffer._origin = origin
        buffer._packets = list(packets)
        if give_up_after is not None and origin is not None:
            now = buffer._clock()
            buffer._arrived = [now] * capacity
            # Every held packet lies within the capacity after the origin.
            held = [(i - origin) & (capacity - 1) for i, p in enumerate(packets) if p is not None]
            buffer._far = max(held, default=-1) + 1
        return buffer  # the run is found on the next add

    @property
    def capacity(self) -> int:
        return self._capacity

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli_flag = False
        seq = packet.sequence_number
        origin = self._origin
        if origin is None:
            self._origin = origin = seq
            delta = 0
        else:
            delta = (seq - origin) & 0xFFFF
            misorder = (origin - seq) & 0xFFFF
            if misorder < delta:  # behind the origin
                if misorder < MAX_MISORDER:
                    return False, None  # late: its frame has left already
                # Far behind: the sender restarted its sequence; so do we.
                self.losses += 1
                self.remove(self._capacity)
                self._origin = origin = seq
                delta = 0
                pli_flag = self._is_video

        if delta >= self._capacity:
            # Make room by dropping whole frames from the origin on, as aiortc does.
            self.losses += 1
            if self.smart_remove(delta - self._capacity + 1):
                self._origin = seq
            origin = self._origin
            assert origin is not None
            pli_flag = pli_flag or self._is_video

        pos = seq & self._mask
        slots = self._packets
        old = slots[pos]
        slots[pos] = packet
        if old is not None and old.timestamp != packet.timestamp:
            # A duplicate sequence number with another timestamp: if it was inside the known
            # run, the frame ends found there may be wrong. Never seen from a real sender.
            if (seq - origin) & 0xFFFF < self._end - self._head:
                self._end = self._head
                self._starts.clear()
        if self._give_up_after is not None:
            self._arrived[pos] = self._clock()
            self._far = max(self._far, self._head + ((seq - origin) & 0xFFFF) + 1)
        self._extend()
        frame = self._pop_frame()
        if frame is None and self._give_up_after is not None and self._give_up_stale_holes():
            frame = self._pop_frame()
        return pli_flag, frame

    def _give_up_stale_holes(self) -> bool:
        """Drop every hole at the head of the run that has been waited for longer than
        ``give_up_after``, with the frame of the first packet after it (its start may have
        been in the hole). True when anything was dropped."""
        assert self._give_up_after is not None
        gave_up = False
        while self._end < self._far and self._end < self._head + self._capacity:
            if self._stall_end != self._end:
                # A new hole blocks the run: find the first packet after it, and when the
                # earliest packet beyond it arrived (the hole showed then).
                self._stall_end = self._end
                self._stall_first = self._first_beyond_run()
                self._stall_since = min(
                    self._arrived[self._origin_at(i) & self._mask]
                    for i in range(self._stall_first, self._far)
                    if self._packets[self._origin_at(i) & self._mask] is not None
                )
            if self._clock() - self._stall_since < self._give_up_after:
                break
            self.losses += 1
            gave_up = True
            self._drop_frame_through(self._stall_first)
            self._extend()
        return gave_up

    def _drop_frame_through(self, position: int) -> None:
        """Empty the slots from the origin through ``position`` (a held packet) and the rest
        of that packet's frame. Unlike ``smart_remove`` it stops at an empty slot: a packet
        after a hole may be the middle of a frame, and must not become the origin as if it
        started one (the next round drops it with its own hole)."""
        slots = self._packets
        mask = self._mask
        packet = slots[self._origin_at(position) & mask]
        assert packet is not None
        end = position + 1
        limit = self._head + self._capacity
        while end < limit:
            following = slots[self._origin_at(end) & mask]
            if following is None or following.timestamp != packet.timestamp:
                break
            end += 1
        self.remove(end - self._head)

    def _origin_at(self, position: int) -> int:
        """The sequence number at an absolute position (at or after the head)."""
        assert self._origin is not None
        return (self._origin + position - self._head) & 0xFFFF

    def _first_beyond_run(self) -> int:
        """The absolute position of the first packet held after the run's end (``_far`` is
        one past the last, so there is one)."""
        slots = self._packets
        for position in range(self._end + 1, self._far):
            if slots[self._origin_at(position) & self._mask] is not None:
                return position
        raise AssertionError("no packet beyond the run")

    def _extend(self) -> None:
        """Grow the known run over the slots filled since (out-of-order packets included)."""
        head = self._head
        end = self._end
        limit = head + self._capacity
        if end >= limit:
            return
        assert self._origin is not None
        slots = self._packets
        mask = self._mask
        pos = (self._origin + end - head) & mask
        packet = slots[pos]
        if packet is None:
            return
        if end > head:
            previous = slots[(pos - 1) & mask]
            assert previous is not None
            timestamp = previous.timestamp
        else:
            timestamp = packet.timestamp
        starts = self._starts
        while True:
            if packet.timestamp != timestamp:
                timestamp = packet.timestamp
                starts.append(end)
            end += 1
            if end == limit:
                break
            pos = (pos + 1) & mask
            packet = slots[pos]
            if packet is None:
                break
        self._end = end

    def _pop_frame(self) -> JitterFrame | None:
        """The first frame, once aiortc's scan would return it."""
        starts = self._starts
        if len(starts) < self._needed:
            return None
        stop = starts.popleft()
        origin = self._origin
        assert origin is not None
        slots = self._packets
        mask = self._mask
        pos = origin & mask
        parts: list[bytes] = []
        timestamp = 0
        for i in range(stop - self._head):
            packet = slots[pos]
            assert packet is not None
            if i == 0:
                timestamp = packet.timestamp
            parts.append(packet._data)  # type: ignore[attr-defined]
            slots[pos] = None
            pos = (pos + 1) & mask
        self._origin = (origin + stop - self._head) & 0xFFFF
        self._head = stop
        return JitterFrame(data=b"".join(parts), timestamp=timestamp)

    def remove(self, count: int) -> None:
        """Empty ``count`` slots from the origin on and move the origin past them."""
        if count > self._capacity:
            raise ValueError(f"cannot remove {count} packets from {self._capacity} slots")
        assert self._origin is not None
        slots = self._packets
        mask = self._mask
        origin = self._origin
        for _ in range(count):
            slots[origin & mask] = None
            origin = (origin + 1) & 0xFFFF
        self._origin = origin
        self._advanced(count)

    def smart_remove(self, count: int) -> bool:
        """Empty at least ``count`` slots from the origin on, and then the rest of the frame
        the last removed packet belonged to (so no partial frame reaches the decoder). True
        when that emptied the whole buffer."""
        assert self._origin is not None
        slots = self._packets
        mask = self._mask
        origin = self._origin
        timestamp: int | None = None
        emptied = False
        removed = 0
        for i in range(self._capacity):
            pos = origin & mask
            packet = slots[pos]
            if packet is not None:
                if i >= count and timestamp != packet.timestamp:
                    break
                timestamp = packet.timestamp
            slots[pos] = None
            origin = (origin + 1) & 0xFFFF
            removed += 1
            if i == self._capacity - 1:
                emptied = True
        self._origin = origin
        self._advanced(removed)
        return emptied

    def _advanced(self, count: int) -> None:
        """The origin moved ``count`` slots on: forget what of the run lay before it."""
        self._head += count
        if self._end < self._head:
            self._end = self._head
        if self._far < self._head:
            self._far = self._head
        starts = self._starts
        # A frame starting right at the origin is not a frame end in aiortc's scan.
        while starts and starts[0] <= self._head:
            starts.popleft()
