"""Server CPU per bridged and recorded 720p call, fps delivered to officers, and the time
from an officer's accept to the first driver video frame.

    .venv/bin/python benchmarks/call_load.py --calls 1 5 10 --seconds 20

The server runs as its own process pinned to CPU 0 (taskset); this harness runs the simulated
drivers and officers on CPU 1. Drivers send a pre-encoded 720p30 H.264 clip (keyframe every
second) with MediaPlayer(decode=False), so they cost almost nothing; officers count the encoded
frames they receive without decoding them (kuaichu.media.aiortc_tap), which is the rate a
browser would be handed. Server CPU comes from /proc/PID/stat over a steady window.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaPlayer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server_cpu import (  # noqa: E402
    ThreadCensus,
    cpu_seconds,
    loop_thread_schedstat,
    set_autogroup_nice,
)
from kuaichu.media import aioice_tap  # noqa: E402
from kuaichu.media.aiortc_tap import EncodedFrame, tap_receiver  # noqa: E402
from sim.client import SimDriver, SimOfficer  # noqa: E402
from tests.support.servers import SUPERVISOR, start_server  # noqa: E402

# 90 s: ten calls set up on a loaded machine took ~20 s, and a 40 s clip then ended inside
# the measured window (the drivers stopped sending).
CLIP = ROOT / "benchmarks" / "out" / "clip-720p30-90s.ts"
VOICE = ROOT / "benchmarks" / "out" / "voice-90s.ogg"


def make_voice(path: Path, seconds: int = 90) -> Path:
    """Opus in Ogg, 20 ms packets: pre-encoded so the simulated peers do not encode audio."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with av.open(str(tmp), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.layout = "mono"
        n = 960
        for i in range(seconds * 50):
            t = (np.arange(n) + i * n) / 48000
            pcm = (np.sin(2 * np.pi * 300 * t) * 6000).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = 48000
            frame.pts = i * n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.rename(path)
    return path


def make_clip(path: Path, seconds: int = 90, fps: int = 30) -> Path:
    """A 720p30 H.264 constrained-baseline MPEG-TS clip with a keyframe every second."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with av.open(str(tmp), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.bit_rate = 2_000_000
        stream.codec_context.gop_size = fps
        stream.options = {
            "profile": "baseline",
            "tune": "zerolatency",
            "preset": "veryfast",
            "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0",
        }
        rng = np.random.default_rng(1)
        base = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            img = np.roll(base, i * 6, axis=1)
            img[300:420, (i * 10) % 1180 : (i * 10) % 1180 + 100] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = fractions.Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.rename(path)
    return path


class CountingOfficer(SimOfficer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.video_frames = 0
        self.pieces = 0
        self.freezes = 0
        self.frozen_s = 0.0
        self._last_timestamp: int | None = None
        self._last_picture_at: float | None = None
        self.first_video_at: float | None = None

    def prepare_peer(self, pc: RTCPeerConnection) -> None:
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                tap_receiver(transceiver.receiver, self._on_video)
            else:
                tap_receiver(transceiver.receiver, lambda _f: None)

    def _on_video(self, frame: EncodedFrame) -> None:
        if self.first_video_at is None:
            self.first_video_at = time.monotonic()
        # A picture is one RTP timestamp (what a viewer sees); pieces counts what aiortc hands
        # over, to show it is one per picture.
        now = time.monotonic()
        if frame.timestamp != self._last_timestamp:
            self._last_timestamp = frame.timestamp
            self.video_frames += 1
            # A viewer notices a gap, not an average: a picture more than 250 ms after the
            # one before is a freeze. Frames per second alone hides it: after a stall a
            # pre-encoded clip is sent late in a burst (MediaPlayer catches up), so a 30 fps
            # clip can count 33-37 "fps" over a window that holds a burst.
            if self._last_picture_at is not None and now - self._last_picture_at > 0.25:
                self.freezes += 1
                self.frozen_s += now - self._last_picture_at
            self._last_picture_at = now
        self.pieces += 1


def udp_errors() -> dict[str, int]:
    """The kernel's UDP counters (whole machine: server and harness), IPv4 and IPv6 (the
    calls may run over either): datagrams dropped because a socket's receive buffer was
    full, and all receive errors."""
    snmp = Path("/proc/net/snmp").read_text().splitlines()
    lines = [ln.split() for ln in snmp if ln.startswith("Udp:")]
    values = dict(zip(lines[0][1:], (int(v) for v in lines[1][1:]), strict=True))
    v6 = dict(ln.split() for ln in Path("/proc/net/snmp6").read_text().splitlines() if ln)
    return {
        "RcvbufErrors": values["RcvbufErrors"] + int(v6.get("Udp6RcvbufErrors", 0)),
        "InErrors": values["InErrors"] + int(v6.get("Udp6InErrors", 0)),
    }


def udp_socket_drops() -> dict[int, int]:
    """Datagrams each UDP socket dropped since it was opened (the "drops" column of
    /proc/net/udp and udp6), by socket inode."""
    drops: dict[int, int] = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            drops[int(fields[9])] = int(fields[-1])
    return drops


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds open."""
    inodes: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


class UdpDrops:
    """Where the kernel dropped datagrams for a full receive buffer: per process (server or
    harness), from the per-socket counters, over a window. A socket opened inside the window
    counts from zero; one closed inside it is not seen (calls are steady in the window)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = self._snapshot()

    def _snapshot(self) -> dict[str, dict[int, int]]:
        table = udp_socket_drops()
        return {
            side: {i: table[i] for i in socket_inodes(pid) if i in table}
            for side, pid in self.pids.items()
        }

    def since(self) -> dict[str, int]:
        end = self._snapshot()
        return {
            side: sum(n - self.start[side].get(i, 0) for i, n in end[side].items())
            for side in self.pids
        }


def receive_buffer_cap() -> int:
    """net.core.rmem_max: the most a socket may ask for with SO_RCVBUF."""
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


async def loop_lag(server: Any, window: float) -> dict[str, Any]:
    """The server's event-loop lag over the last ``window`` seconds (GET /api/metrics)."""
    supervisor = SimOfficer(server.url, server.supervisor_username, server.supervisor_password)
    status, body = await supervisor.api("GET", f"/api/metrics?window={int(window)}")
    if status != 200:
        raise RuntimeError(f"/api/metrics answered {status}: {body}")
    lag = dict(body["loop_lag"])
    lag["gc"] = body["gc"]  # the collector's pauses over the same window, per generation
    return lag


async def media_totals(server: Any) -> dict[str, Any]:
    """The server's media counters since start-up (GET /api/metrics): per leg packets lost,
    NACKs and PLIs, and the keyframes forwarded to officers."""
    supervisor = SimOfficer(server.url, server.supervisor_username, server.supervisor_password)
    status, body = await supervisor.api("GET", "/api/metrics?window=1")
    if status != 200:
        raise RuntimeError(f"/api/metrics answered {status}: {body}")
    return dict(body["media"]["totals"])


def media_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the counters rose by over the window, flattened (``driver_packets_lost``...)."""
    out: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            for name, n in value.items():
                out[f"{key}_{name}"] = n - before[key][name]
        else:
            out[key] = value - before[key]
    return out


async def run(
    n: int, seconds: float, server: Any, thread_names: Path | None = None
) -> dict[str, Any]:
    officers = [CountingOfficer(server.url, f"bench{i}", f"bench{i}-password") for i in range(n)]
    drivers: list[SimDriver] = []
    players: list[MediaPlayer] = []
    try:
        for o in officers:
            voice = MediaPlayer(str(VOICE), decode=False)
            players.append(voice)
            o.audio = voice.audio
            await o.connect()
            await o.set_available()
        for _ in range(n):
            player = MediaPlayer(str(CLIP), decode=False)
            voice = MediaPlayer(str(VOICE), decode=False)
            players += [player, voice]
            drivers.append(
                await SimDriver(server.url, video=player.video, audio=voice.audio).connect()
            )
        for d in drivers:
            await d.report()
        for o in officers:
            offer = await o.wait_offer(timeout=30)
            await o.accept(offer["call_id"])
        await asyncio.gather(
            *(o.wait_for(lambda o=o: o.video_frames > 30, timeout=60) for o in officers)
        )
        await asyncio.sleep(2)
        f0 = [o.video_frames for o in officers]
        p0 = [o.pieces for o in officers]
        z0 = [(o.freezes, o.frozen_s) for o in officers]
        m0 = await media_totals(server)
        c0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
        run0, wait0 = loop_thread_schedstat(server.proc.pid)
        k0 = time.process_time()
        u0 = udp_errors()
        drops = UdpDrops({"server": server.proc.pid, "harness": os.getpid()})
        census = ThreadCensus(server.proc.pid, thread_names)
        wall0 = time.time()
        await asyncio.sleep(seconds)
        c1, t1 = cpu_seconds(server.proc.pid), time.monotonic()
        run1, wait1 = loop_thread_schedstat(server.proc.pid)
        k1 = time.process_time()
        u1 = udp_errors()
        side_drops = drops.since()
        threads = census.since(t1 - t0)
        lag = await loop_lag(server, seconds)
        fps = [(o.video_frames - f) / (t1 - t0) for o, f in zip(officers, f0, strict=True)]
        pieces = sum(o.pieces - p for o, p in zip(officers, p0, strict=True))
        pictures = sum(o.video_frames - f for o, f in zip(officers, f0, strict=True))
        freezes = [o.freezes - z[0] for o, z in zip(officers, z0, strict=True)]
        frozen = [o.frozen_s - z[1] for o, z in zip(officers, z0, strict=True)]
        # issue 9 (bandwidth): where packets were lost and what was asked for again.
        media = media_delta(m0, await media_totals(server))
        first = [
            o.first_video_at - o.accepted_at for o in officers if o.first_video_at and o.accepted_at
        ]
        hangups_failed = 0
        for o in officers:
            try:
                await o.hangup()
            except Exception:  # a socket lost on an overloaded machine
                hangups_failed += 1
        return {
            # Sockets lost before the hang-up (ping timeouts): the machine was overloaded and
            # the figures of this run are not to be trusted.
            "hangups_failed": hangups_failed,
            "calls": n,
            "server_cores": (c1 - c0) / (t1 - t0),
            # The loop thread's own CPU, the rest (workers: OCR, decoding, recording), and
            # how long per second the loop was ready but waited for the core.
            "loop_cores": (run1 - run0) / (t1 - t0),
            "loop_wait_ms_per_s": (wait1 - wait0) / (t1 - t0) * 1000,
            "cpu_per_call": (c1 - c0) / (t1 - t0) / n,
            # The simulated peers share one core: near 1.0 they, not the server, limit fps.
            "client_cores": (k1 - k0) / (t1 - t0),
            "fps_min": min(fps),
            "fps_each": [round(f, 1) for f in fps],
            "fps_mean": statistics.mean(fps),
            # More than 1.0: aiortc handed over more than one piece for some pictures.
            "pieces_per_picture": pieces / pictures if pictures else 0.0,
            # Pictures more than 250 ms after the one before: all officers together, and the
            # worst officer's frozen share of the window.
            "freezes": sum(freezes),
            "frozen_share_max": max(frozen) / (t1 - t0) if frozen else 0.0,
            "first_frame_s_median": statistics.median(first),
            "first_frame_s_max": max(first),
            "udp_rcvbuf_errors": u1["RcvbufErrors"] - u0["RcvbufErrors"],
            "udp_in_errors": u1["InErrors"] - u0["InErrors"],
            "udp_drops_server": side_drops["server"],
            "udp_drops_harness": side_drops["harness"],
            "loop_lag": lag,
            "media": media,
            "threads": threads,
            "window": (wall0, wall0 + (t1 - t0)),
        }
    finally:
        for c in [*drivers, *officers]:
            await c.close()
        for p in players:
            for track in (p.audio, p.video):
                if track is not None:
                    track.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--seconds", type=float, default=20)
    # The server's default: a plate read from each call's video every 15 s (0: off).
    parser.add_argument("--auto-plate-seconds", type=float, default=15)
    # Diagnostic: the server times its loop turns and samples the stack of the long ones
    # into this JSON file (one per number of calls: FILE.<calls>), benchmarks/stallwatch.
    parser.add_argument("--stall-log", type=Path, default=None)
    # Print which of the server's threads ran over the window, by name (the names need the
    # server started with benchmarks/stallwatch on its path: this flag does it).
    parser.add_argument("--threads", action="store_true")
    # On a machine shared with other work: shift the nice value of the server's threads and
    # of this harness by this much (e.g. -15: ahead of the others' work; needs root), so that
    # a comparison of two trees is not decided by whoever else wants the cores. The server's
    # threads keep their order (a worker at +10 from its loop stays 10 behind it), and the
    # session's autogroup is shifted too (set_autogroup_nice). Say so with the figures: it is
    # not how a server runs.
    parser.add_argument("--nice", type=int, default=0)
    # Keep each run's server log in this folder (--server-log-level and above).
    parser.add_argument("--keep-logs", type=Path, default=None)
    parser.add_argument("--server-log-level", default="WARNING")
    args = parser.parse_args()
    make_clip(CLIP)
    make_voice(VOICE)
    os.sched_setaffinity(0, {1})
    # The simulated peers' sockets read in batches and have big buffers too, as the server's:
    # the harness must not be where datagrams are lost.
    aioice_tap.install()
    print(f"net.core.rmem_max {receive_buffer_cap()} bytes", flush=True)
    results = []
    for n in args.calls:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            accounts = [(f"bench{i}", f"bench{i}-password", "officer") for i in range(n)]
            # The supervisor reads the server's loop lag from /api/metrics.
            accounts.append((SUPERVISOR[0], SUPERVISOR[1], "supervisor"))
            for username, password, role in accounts:
                subprocess.run(
                    [
                        sys.executable,
                        str(ROOT / "server.py"),
                        "--data-dir",
                        str(data),
                        "officer",
                        "add",
                        username,
                        "--password",
                        password,
                        "--role",
                        role,
                    ],
                    check=True,
                    capture_output=True,
                )
            thread_names = data / "thread-names" if args.threads else None
            if args.stall_log is not None:
                os.environ["KUAICHU_STALL_LOG"] = f"{args.stall_log.resolve()}.{n}"
            if thread_names is not None:
                os.environ["KUAICHU_THREAD_NAMES"] = str(thread_names)
            path = os.environ.get("PYTHONPATH")
            if args.stall_log is not None or thread_names is not None:
                watch = str(ROOT / "benchmarks" / "stallwatch")
                os.environ["PYTHONPATH"] = f"{watch}{os.pathsep}{path}" if path else watch
            server = start_server(
                data,
                officers=1,
                reservation_timeout=60,
                log_level=args.server_log_level,
                auto_plate_seconds=args.auto_plate_seconds,
            )
            os.environ.pop("KUAICHU_STALL_LOG", None)
            os.environ.pop("KUAICHU_THREAD_NAMES", None)
            if path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = path
            os.sched_setaffinity(server.proc.pid, {0})
            # The server started with this harness's nice value (inherited).
            inherited = os.getpriority(os.PRIO_PROCESS, 0)
            for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
                tid = int(task.name)
                try:
                    os.sched_setaffinity(tid, {0})
                    if args.nice:
                        now = os.getpriority(os.PRIO_PROCESS, tid)
                        os.setpriority(os.PRIO_PROCESS, tid, max(-20, args.nice + now - inherited))
                except ProcessLookupError:
                    pass  # a short-lived thread that ended meanwhile
            group_nice = None
            if args.nice:
                os.setpriority(os.PRIO_PROCESS, 0, args.nice)
                group_nice = set_autogroup_nice(server.proc.pid, args.nice)
            try:
                result = asyncio.run(run(n, args.seconds, server, thread_names))
            finally:
                if group_nice is not None:
                    Path("/proc/self/autogroup").write_text(str(group_nice))
                server.stop()
                if args.keep_logs is not None:
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    stamp = time.strftime("%H%M%S")
                    shutil.copy(server.log_path, args.keep_logs / f"server-{n}-{stamp}.log")
            results.append(result)
            lag = result["loop_lag"]
            print(
                f"{n:>3} calls: server {result['server_cores']:.2f} cores "
                f"({result['cpu_per_call'] * 100:.1f}% of a core per call), "
                f"loop thread {result['loop_cores']:.2f} cores, waited for the CPU "
                f"{result['loop_wait_ms_per_s']:.0f} ms/s, "
                f"clients {result['client_cores']:.2f} cores, "
                f"officer fps min {result['fps_min']:.1f} mean {result['fps_mean']:.1f} "
                f"({result['pieces_per_picture']:.2f} pieces a picture), "
                f"freezes > 250 ms {result['freezes']} (worst officer frozen "
                f"{result['frozen_share_max'] * 100:.1f} % of the window), "
                f"accept->first frame median {result['first_frame_s_median'] * 1000:.0f} ms "
                f"max {result['first_frame_s_max'] * 1000:.0f} ms, "
                f"UDP receive-buffer drops {result['udp_rcvbuf_errors']} "
                f"(server's sockets {result['udp_drops_server']}, "
                f"harness's {result['udp_drops_harness']}; "
                f"all UDP receive errors {result['udp_in_errors']}), "
                f"server loop lag p50 {lag['p50_ms']:.1f} ms "
                f"p99 {lag['p99_ms']:.1f} ms max {lag['max_ms']:.1f} ms, "
                f"collector pauses per generation {lag['gc']['collections']} "
                f"(longest {lag['gc']['max_ms']} ms, total {lag['gc']['total_ms']} ms)"
                + (
                    f" — {result['hangups_failed']} officer socket(s) lost before hang-up: "
                    "overloaded, do not trust this run"
                    if result["hangups_failed"]
                    else ""
                ),
                flush=True,
            )
            print("      fps per officer: " + ", ".join(str(f) for f in result["fps_each"]))
            # Packets lost per leg, NACKs/PLIs sent and received, keyframes forwarded.
            print(
                "      media: " + ", ".join(f"{k} {v}" for k, v in result["media"].items()),
                flush=True,
            )
            if args.threads:
                w0, w1 = result["window"]
                print(
                    "      server threads over the window "
                    f"({time.strftime('%H:%M:%S', time.gmtime(w0))}-"
                    f"{time.strftime('%H:%M:%S', time.gmtime(w1))} UTC, epoch {w0:.1f}-{w1:.1f}; "
                    "CPU / waited for it, ms per s; runs per s; nice):"
                )
                for row in result["threads"]:
                    if row["cpu"] * 1000 >= 0.5 or row["name"] == "loop":
                        print(
                            f"        {row['name']:<44} x{row['threads']:<3} "
                            f"{row['cpu'] * 1000:6.1f} / {row['wait'] * 1000:5.1f} ms/s "
                            f"{row['runs']:7.0f} runs/s nice {row['nice']}",
                            flush=True,
                        )


if __name__ == "__main__":
    main()
