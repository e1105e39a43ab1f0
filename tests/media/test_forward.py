"""EncodedTrack: bounded queue, slow consumer drops to the next keyframe and asks for one."""

from __future__ import annotations

import asyncio
import itertools
import tracemalloc

import av

from kuaichu.media.forward import EncodedTrack


def _feed(track: EncodedTrack, start: int, count: int, gop: int = 30) -> None:
    for i in range(start, start + count):
        track.push(bytes([i % 256]) * 10_000, i * 3000, keyframe=i % gop == 0)


async def test_slow_consumer_drops_to_keyframe_and_asks_for_one() -> None:
    asked: list[int] = []
    track = EncodedTrack("video", maxsize=20, request_keyframe=lambda: asked.append(1))
    tracemalloc.start()
    _feed(track, 0, 2980)  # nobody reads: 100 s of video, ends 10 frames after a keyframe
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert track.depth <= 20
    assert track.max_depth <= 20
    assert peak < 20 * 10_000 * 3  # a few queues' worth, not 3000 frames
    assert asked, "the source was asked for a keyframe"
    assert track.frames_dropped > 2900
    # what is queued starts at a keyframe and is contiguous from there
    assert track.depth == 10
    first = await asyncio.wait_for(track.recv(), 1)
    assert isinstance(first, av.Packet)
    assert first.time_base.denominator == 90000
    assert bytes(first)[0] in {i % 256 for i in range(0, 3000, 30)}
    rest = [await track.recv() for _ in range(track.depth)]
    pts = [first.pts] + [p.pts for p in rest]
    assert pts == sorted(pts) and all(b - a == 3000 for a, b in itertools.pairwise(pts))
    track.stop()


async def test_new_video_source_waits_for_keyframe_and_keeps_time_going() -> None:
    asked: list[int] = []
    track = EncodedTrack("video", request_keyframe=lambda: asked.append(1))
    track.push(b"p", 0, keyframe=False)  # a fresh decoder cannot start on this
    assert track.depth == 0 and asked == [1]
    track.push(b"k", 3000, keyframe=True)
    track.push(b"p", 6000, keyframe=False)
    track.new_source()  # next officer: its timestamps restart at 0
    track.push(b"p", 0, keyframe=False)
    track.push(b"k", 3000, keyframe=True)
    got = [await track.recv() for _ in range(3)]
    assert [bytes(p) for p in got] == [b"k", b"p", b"k"]
    assert [p.pts for p in got] == [0, 3000, 6000]


async def test_audio_drops_oldest_and_recv_ends_on_stop() -> None:
    track = EncodedTrack("audio", maxsize=5)
    for i in range(50):
        track.push(bytes([i]), i * 960)
    assert track.depth == 5
    packet = await track.recv()
    assert bytes(packet) == bytes([45]) and packet.time_base.denominator == 48000
    waiter = asyncio.create_task(track.recv())
    for _ in range(4):
        await asyncio.sleep(0)
    track.stop()
    try:
        await asyncio.wait_for(waiter, 1)
    except Exception as exc:  # MediaStreamError once stopped
        assert type(exc).__name__ == "MediaStreamError"


async def test_timeline_runs_on_across_a_32_bit_wrap_and_a_restarted_source() -> None:
    # RTP timestamps start at a random 32-bit value, so a long call can wrap around; and a
    # driver who rejoins sends from a new encoder whose timestamps may lie behind the old
    # ones. Either way the officer's timeline goes on at the source's pace, never stuck.
    track = EncodedTrack("video")
    start = (1 << 32) - 2 * 3000
    for i in range(4):
        track.push(b"k" if i == 0 else b"p", (start + i * 3000) % (1 << 32), keyframe=i == 0)
    for ts in (3_000_000_000, 3_000_003_000):  # restarted far behind, without new_source()
        track.push(b"k", ts, keyframe=True)
    got = [await track.recv() for _ in range(6)]
    assert [p.pts for p in got] == [0, 3000, 6000, 9000, 12000, 15000]
