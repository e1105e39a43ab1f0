"""kuaichu.media.jitter.FrameBuffer returns what aiortc's own JitterBuffer returns, packet for
packet, on randomized streams: loss, reordering, duplicates, the 16-bit sequence wrap, timestamp
jumps, senders restarting behind, gaps and frames beyond the capacity."""

from __future__ import annotations

import itertools
import random

import pytest
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from kuaichu.media.jitter import GIVE_UP_SECONDS, FrameBuffer

# (capacity, prefetch, is_video): aiortc's video and audio receivers, and a small video
# buffer so that packets beyond the capacity (smart_remove) happen often.
CONFIGS = [(512, 0, True), (16, 4, False), (32, 0, True), (64, 2, False)]
MAX_BEHIND_LOW = 90  # some restarts less than aiortc's MAX_MISORDER (100) behind


def _packet(seq: int, timestamp: int, payload: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=96, sequence_number=seq & 0xFFFF, timestamp=timestamp)
    packet._data = payload  # type: ignore[attr-defined]  # what the receiver's depayload sets
    return packet


def _sent(rng: random.Random, count: int, capacity: int) -> list[RtpPacket]:
    """Packets as a sender emits them: frames of 1 to 70 packets (at most half the buffer,
    sometimes one bigger than the buffer); now and then the sequence restarts behind, a
    burst is missing, or the timestamp jumps."""
    seq = rng.choice([0, 0xFFFF - rng.randrange(300), rng.randrange(0x10000)])
    timestamp = rng.randrange(1 << 32)
    sizes = [s for s in (1, 1, 2, 3, 5, 8, 13, 40, 70) if s <= capacity // 2]
    packets: list[RtpPacket] = []
    while len(packets) < count:
        event = rng.random()
        if event < 0.01:
            seq -= rng.randrange(MAX_BEHIND_LOW, 3000)  # sender restarted behind
        elif event < 0.02:
            seq += rng.randrange(capacity, 3 * capacity)  # a burst never arrived
        elif event < 0.03:
            timestamp = rng.randrange(1 << 32)
        elif event < 0.035:
            seq += 0x8000  # exactly half the sequence space away
        size = rng.choice(sizes)
        if rng.random() < 0.01:
            size = capacity + rng.randrange(1, 20)
        for _ in range(size):
            packets.append(_packet(seq, timestamp, rng.randbytes(rng.randrange(0, 4))))
            seq += 1
        timestamp = (timestamp + rng.choice([960, 3000, 3000, 3003])) & 0xFFFFFFFF
    return packets[:count]


def _received(rng: random.Random, sent: list[RtpPacket]) -> list[RtpPacket]:
    """What the network delivers: lost, reordered (near and, rarely, far), duplicated."""
    loss = rng.choice([0.0, 0.01, 0.05, 0.2])
    out = [p for p in sent if rng.random() >= loss]
    for i in range(len(out)):
        r = rng.random()
        if r < 0.05:
            j = min(len(out) - 1, i + rng.randrange(1, 8))
            out[i], out[j] = out[j], out[i]
        elif r < 0.052:
            j = min(len(out) - 1, i + rng.randrange(50, 200))
            out.insert(j, out.pop(i))  # a packet far late
    duplicated: list[RtpPacket] = []
    for p in out:
        duplicated.append(p)
        r = rng.random()
        if r < 0.02:
            duplicated.append(p)  # the same packet twice
        elif r < 0.025:
            # the same sequence number again with the payload of a retransmission
            duplicated.append(_packet(p.sequence_number, p.timestamp, p._data))  # type: ignore[attr-defined]
        elif r < 0.026:
            # the same sequence number with another timestamp (no real sender does this)
            duplicated.append(_packet(p.sequence_number, p.timestamp + 1, b"?"))
    return duplicated


def _same_all_along(packets: list[RtpPacket], capacity: int, prefetch: int, video: bool) -> int:
    theirs = JitterBuffer(capacity=capacity, prefetch=prefetch, is_video=video)
    # Video gives up on holes as the tap installs it; with a clock that never moves no hole
    # is ever stale, so it must behave exactly as aiortc's, its bookkeeping included.
    ours = FrameBuffer(
        capacity=capacity,
        prefetch=prefetch,
        is_video=video,
        give_up_after=GIVE_UP_SECONDS if video else None,
        clock=lambda: 0.0,
    )
    frames = 0
    for i, packet in enumerate(packets):
        their_pli, their_frame = theirs.add(packet)
        our_pli, our_frame = ours.add(packet)
        where = f"packet {i} (seq {packet.sequence_number}, ts {packet.timestamp})"
        assert our_pli == their_pli, where
        if their_frame is None:
            assert our_frame is None, where
        else:
            assert our_frame is not None, where
            assert (our_frame.data, our_frame.timestamp) == (
                their_frame.data,
                their_frame.timestamp,
            ), where
            frames += 1
        # the same packets held at the same places, from the same origin
        assert ours._origin == theirs._origin, where
        assert ours._packets == theirs._packets, where
    return frames


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"cap{c[0]}-pre{c[1]}-v{int(c[2])}")
@pytest.mark.parametrize("seed", range(40))
def test_same_frames_as_aiortc(seed: int, config: tuple[int, int, bool]) -> None:
    capacity, prefetch, video = config
    rng = random.Random(seed * 1000 + capacity)
    packets = _received(rng, _sent(rng, 1500, capacity))
    assert _same_all_along(packets, capacity, prefetch, video) > 0


def test_keyframe_in_order_comes_out_whole_once_the_next_frame_starts() -> None:
    """The common case, spelled out: a 60-packet keyframe across the sequence wrap."""
    buffer = FrameBuffer(capacity=512, is_video=True)
    key = [_packet(65500 + i, 1000, bytes([i])) for i in range(60)]
    assert all(buffer.add(p) == (False, None) for p in key)
    pli, frame = buffer.add(_packet(65560, 4000, b"next"))
    assert not pli and frame is not None
    assert (frame.data, frame.timestamp) == (bytes(range(60)), 1000)
    assert buffer._origin == 65560 & 0xFFFF


def test_a_lost_packet_holds_the_frame_until_it_is_retransmitted() -> None:
    buffer = FrameBuffer(capacity=512, is_video=True)
    first = [_packet(10 + i, 0, bytes([i])) for i in range(5)]
    second = [_packet(15 + i, 3000, b"b") for i in range(3)]
    for p in [first[0], first[1], first[3], first[4], *second]:
        assert buffer.add(p) == (False, None)
    _, frame = buffer.add(first[2])  # the retransmission
    assert frame is not None and frame.data == bytes(range(5))


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hole_waited_for_too_long_is_given_up_and_counted_as_a_loss() -> None:
    """The retransmission of a lost packet was lost too: the frame behind the hole comes out
    half a second later, not after 512 more packets."""
    clock = _Clock()
    buffer = FrameBuffer(capacity=512, is_video=True, give_up_after=0.5, clock=clock)
    lost = _packet(12, 0, b"x")
    frame_a = [p for p in (_packet(10 + i, 0, b"a") for i in range(5)) if p.sequence_number != 12]
    frame_b = [_packet(15 + i, 3000, b"b") for i in range(3)]
    frame_c = [_packet(18 + i, 6000, b"c") for i in range(3)]
    for p in [*frame_a, *frame_b, *frame_c]:
        assert buffer.add(p) == (False, None)
    clock.now += 0.3  # within a round trip: still waited for
    assert buffer.add(_packet(21, 9000, b"d")) == (False, None)
    clock.now += 0.21
    pli, frame = buffer.add(_packet(22, 9000, b"d"))
    # Frame A (its hole) is dropped, B leaves whole, and the loss is counted (the tap's
    # consumer asks for a keyframe; the PLI flag stays aiortc's, unlimited).
    assert not pli and frame is not None and (frame.data, frame.timestamp) == (b"bbb", 3000)
    assert buffer.losses == 1
    # C follows on the next packet; the late retransmission of the hole is ignored.
    _, frame = buffer.add(_packet(23, 12000, b"e"))
    assert frame is not None and frame.data == b"ccc"
    assert buffer.add(lost) == (False, None)
    assert buffer.losses == 1


def test_a_hole_filled_in_time_loses_nothing() -> None:
    clock = _Clock()
    buffer = FrameBuffer(capacity=512, is_video=True, give_up_after=0.5, clock=clock)
    for p in [_packet(10, 0, b"a"), _packet(12, 0, b"c"), _packet(13, 3000, b"d")]:
        assert buffer.add(p) == (False, None)
    clock.now += 0.45
    assert buffer.add(_packet(11, 0, b"b")) == (False, _any_frame(b"abc"))  # type: ignore[comparison-overlap]
    assert buffer.losses == 0


class _any_frame:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        return getattr(other, "data", None) == self.data


@pytest.mark.parametrize("seed", range(30))
def test_giving_up_only_ever_drops_whole_frames(seed: int) -> None:
    """On randomized lossy streams (5 % of packets never arrive), with time passing (10 ms a
    packet), every frame that leaves is a frame the sender sent, whole, in the order sent;
    every drop is counted."""
    rng = random.Random(seed)
    clock = _Clock()
    buffer = FrameBuffer(capacity=512, is_video=True, give_up_after=0.5, clock=clock)
    sent: dict[int, bytes] = {}
    packets: list[RtpPacket] = []
    seq, timestamp = rng.randrange(0x10000), rng.randrange(1 << 32)
    for _ in range(600):
        size = rng.choice([1, 2, 3, 5, 8, 20])
        payloads = [rng.randbytes(3) for _ in range(size)]
        sent[timestamp] = b"".join(payloads)
        packets += [_packet(seq + i, timestamp, payloads[i]) for i in range(size)]
        seq += size
        timestamp = (timestamp + 3000) & 0xFFFFFFFF
    # (The first packet arrives: a stream whose first packet is lost starts mid-frame, in
    # aiortc's buffer as in ours.)
    received = packets[:1] + [p for p in packets[1:] if rng.random() >= 0.05]
    order: list[int] = []
    for packet in received:
        clock.now += 0.01
        _, frame = buffer.add(packet)
        if frame is not None:
            assert frame.data == sent[frame.timestamp]
            order.append(frame.timestamp)
    assert order and all(((b - a) & 0xFFFFFFFF) < (1 << 31) for a, b in itertools.pairwise(order))
    assert buffer.losses > 0
    # Nothing waits 512 packets: frames kept leaving all along (most of the 600).
    assert len(order) > 0.6 * len(sent)


def test_takes_over_held_packets() -> None:
    """Installed on a receiver that already holds packets, it carries on from them."""
    theirs = JitterBuffer(capacity=512, is_video=True)
    for p in [_packet(100, 0, b"a"), _packet(101, 0, b"b")]:
        theirs.add(p)
    ours = FrameBuffer.taking_over(512, 0, True, theirs._origin, theirs._packets)
    _, frame = ours.add(_packet(102, 3000, b"c"))
    assert frame is not None and frame.data == b"ab"


def test_capacity_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError):
        FrameBuffer(capacity=500)
