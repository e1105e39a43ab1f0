"""Soak: a bounded run of call churn against a real server process, and what it leaves behind.

    .venv/bin/python benchmarks/soak.py --seconds 120

``python server.py`` runs as a subprocess (tests/support/servers.py). Two simulated officers
(sim/client.py) answer whatever they are offered while simulated drivers arrive, at most
``--drivers`` at a time: most report, are answered, stream video, get a capture taken and a
phone still requested (and upload it), drop their socket and resume the call, and are hung
up on by the officer; some abandon their report (hang up while waiting, or close the page and
let the grace period expire). After ``--seconds`` (or ``--max-calls`` answered calls) no new
driver arrives, the last calls end, and the server is measured again: threads, file
descriptors and RSS from /proc/PID, its UDP sockets (every aiortc peer connection holds its
ICE sockets; none should remain), its TCP sockets, and the live calls on the supervisors'
wallboard. The start figures are taken after one warm-up call, so lazily loaded codecs and
models do not read as growth. Prints the table and the growth per answered call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.client import PatternVideoTrack, SimDriver, SimOfficer, ToneAudioTrack  # noqa: E402
from tests.support.servers import LiveServer, start_server  # noqa: E402

SETTINGS: dict[str, Any] = dict(
    reservation_timeout=5, wrapup_seconds=0.5, decline_cooldown=1, driver_grace_seconds=4
)


# --- what the server holds -------------------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _inodes_in(pid: int, table: str) -> set[str]:
    out = set()
    with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if len(parts) > 9:
                out.add(parts[9])
    return out


def process_figures(pid: int) -> dict[str, int]:
    """Threads, fds, RSS (KiB) and UDP/TCP sockets of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    sockets = _socket_inodes(pid)
    udp = _inodes_in(pid, "udp") | _inodes_in(pid, "udp6")
    tcp = _inodes_in(pid, "tcp") | _inodes_in(pid, "tcp6")
    return {
        "threads": int(fields["Threads"].strip()),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "rss_kib": int(fields["VmRSS"].split()[0]),
        "udp_sockets": len(sockets & udp),
        "tcp_sockets": len(sockets & tcp),
    }


def fd_targets(pid: int) -> Counter[str]:
    """What the process's descriptors point at, sockets and pipes by kind only."""
    out: Counter[str] = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            out[target.split("[", 1)[0] if target.endswith("]") else target] += 1
    return out


def thread_names(pid: int) -> Counter[str]:
    out: Counter[str] = Counter()
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            out[Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()] += 1
    return out


def difference(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    return {
        k: after[k] - before[k] for k in sorted(set(before) | set(after)) if after[k] != before[k]
    }


async def wallboard(server: LiveServer, cookie: str) -> dict[str, Any]:
    """A fresh snapshot: the supervisors' namespace sends one on connect."""
    sio = socketio.AsyncClient(reconnection=False)
    got: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @sio.on("wallboard", namespace="/supervisor")  # type: ignore[misc,untyped-decorator]
    async def _snapshot(data: dict[str, Any]) -> None:
        if not got.done():
            got.set_result(data)

    await sio.connect(
        server.url,
        namespaces=["/supervisor"],
        transports=["websocket"],
        headers={"Cookie": cookie},
    )
    try:
        return await asyncio.wait_for(got, 10)
    finally:
        await sio.disconnect()


async def measure(server: LiveServer, cookie: str) -> dict[str, int]:
    assert server.proc is not None
    figures = process_figures(server.proc.pid)
    board = await wallboard(server, cookie)
    figures["live_calls"] = len(board["calls"])
    open_calls = server.rows("select count(*) from calls where ended_at is null")[0][0]
    figures["calls_not_ended_in_db"] = int(open_calls)
    return figures


# --- the churn -------------------------------------------------------------------------------


def still_jpeg() -> bytes:
    """A 1280x720 JPEG, as a phone's photo (a little smaller)."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = 1280, 720, "yuvj420p"
    out = io.BytesIO()
    for packet in [*codec.encode(frame), *codec.encode(None)]:
        out.write(bytes(packet))
    return out.getvalue()


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def error(self, where: str, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        self.errors[f"{where}: {text[:100]}"] += 1


async def driver_life(
    server: LiveServer, jpeg: bytes, tally: Tally, rng: random.Random, abandon: str | None
) -> None:
    """One driver from report to the end of the call (or to abandoning it)."""
    driver = SimDriver(server.url, video=PatternVideoTrack(320, 240, 15), audio=ToneAudioTrack(440))
    try:
        await driver.connect()
        ack = await driver.report(phone="13800138000")
        if not ack.get("ok"):
            tally.error("report", str(ack.get("error")))
            return
        tally.counts["reports"] += 1
        if abandon == "hangup":
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            await driver.hangup()
            tally.counts["abandoned_by_hangup"] += 1
            return
        if abandon == "close":
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            await driver.close()
            tally.counts["abandoned_by_closing"] += 1
            return
        await driver.wait_state("in_call", timeout=40)
        request = await driver.wait_event("still_requested", timeout=30)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                server.url + request["upload_url"],
                params={"kind": request["kind"]},
                data=jpeg,
                headers={"X-Call-Token": driver.resume_token or "", "Content-Type": "image/jpeg"},
            ) as resp,
        ):
            if resp.status == 201:
                tally.counts["stills_uploaded"] += 1
            else:
                tally.error("still upload", f"HTTP {resp.status} {await resp.text()}")
        # The network changes under the phone: the socket goes, the page resumes the call.
        await driver.drop_connection()
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        resumed = await driver.resume()
        if resumed.get("ok"):
            tally.counts["resumed"] += 1
        else:
            tally.error("resume", str(resumed.get("error")))
        await driver.wait_state("ended", timeout=60)
    except Exception as exc:
        tally.error("driver", exc)
    finally:
        with contextlib.suppress(Exception):
            await driver.close()


async def officer_life(officer: SimOfficer, stop: asyncio.Event, tally: Tally) -> None:
    """Answer whatever is offered: wait for video, take a capture, ask for a phone still,
    give the driver time to drop and resume, hang up; until ``stop``."""
    while not stop.is_set():
        try:
            mark = len(officer.events)
            ack = await officer.set_available()
            if not ack.get("ok"):
                await asyncio.sleep(0.5)
                continue
            try:
                offer = await officer.wait_offer(timeout=2, after=mark)
            except TimeoutError:
                continue
            call_id = offer["call_id"]
            accepted = await officer.accept(call_id)
            if not accepted.get("ok"):
                tally.counts["accept_refused"] += 1  # abandoned meanwhile
                continue
            tally.counts["answered"] += 1

            def ended(call_id: str = call_id, since: int = mark) -> bool:
                return any(
                    ev == "call_ended" and d.get("call_id") == call_id
                    for ev, d in officer.events[since:]
                )

            await officer.wait_for(lambda: officer.frames("video") >= 15 or ended(), timeout=30)
            if ended():
                tally.counts["ended_before_video"] += 1  # a driver who had closed the page
                await officer._close_pc()
                continue
            capture = await officer.call("capture", {"call_id": call_id, "kind": "scene"}, 20)
            if capture.get("ok"):
                tally.counts["captures"] += 1
            else:
                tally.error("capture", str(capture.get("error")))
            mark = len(officer.events)
            asked = await officer.call("request_still", {"call_id": call_id, "kind": "damage"})
            if asked.get("ok"):
                with contextlib.suppress(TimeoutError):
                    await officer.wait_event(
                        "capture_stored",
                        timeout=30,
                        where=lambda d: d.get("source") == "phone_still",
                        after=mark,
                    )
            else:
                tally.error("request_still", str(asked.get("error")))
            await asyncio.sleep(3)  # the driver drops its socket and resumes meanwhile
            hung = await officer.hangup(call_id)
            if hung.get("ok"):
                tally.counts["hung_up"] += 1
            else:
                tally.error("hangup", str(hung.get("error")))
            await officer._close_pc()
            await asyncio.sleep(0.7)  # wrap-up
        except Exception as exc:
            tally.error(f"officer {officer.username}", exc)
            with contextlib.suppress(Exception):
                await officer._close_pc()
            await asyncio.sleep(1)
    with contextlib.suppress(Exception):
        await officer.call("set_status", {"status": "break"})


async def churn(
    server: LiveServer,
    officers: list[SimOfficer],
    seconds: float,
    max_calls: int,
    drivers: int,
    tally: Tally,
    seed: int,
    abandon_share: float = 0.25,
) -> None:
    rng = random.Random(seed)
    jpeg = still_jpeg()
    stop = asyncio.Event()
    workers = [asyncio.create_task(officer_life(o, stop, tally)) for o in officers]
    lives: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(drivers)
    deadline = time.monotonic() + seconds
    started = 0
    while time.monotonic() < deadline and started < max_calls:
        await slots.acquire()
        roll = rng.random()
        abandon = (
            "hangup" if roll < abandon_share / 2 else "close" if roll < abandon_share else None
        )
        started += abandon is None
        task = asyncio.create_task(driver_life(server, jpeg, tally, rng, abandon))
        lives.add(task)
        task.add_done_callback(lives.discard)
        task.add_done_callback(lambda _t: slots.release())
        await asyncio.sleep(rng.uniform(0.3, 1.5))
    # No new arrivals: let the calls in progress finish, then stop the officers.
    if lives:
        await asyncio.wait(lives, timeout=90)
    stop.set()
    await asyncio.wait(workers, timeout=40)


async def run(seconds: float, max_calls: int, drivers: int, seed: int, keep: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", **SETTINGS)
        assert server.proc is not None
        try:
            supervisor = SimOfficer(
                server.url, server.supervisor_username, server.supervisor_password
            )
            cookie = await supervisor.login()
            officers = [
                await SimOfficer(
                    server.url, server.officer_username, server.officer_password
                ).connect(),
                await SimOfficer(server.url, *server.extra_officers[0]).connect(),
            ]
            cold = await measure(server, cookie)
            warm_tally = Tally()
            await churn(server, officers[:1], 0.1, 1, 1, warm_tally, seed, abandon_share=0)
            await asyncio.sleep(3)
            start = await measure(server, cookie)
            pid = server.proc.pid
            fds_before, threads_before = fd_targets(pid), thread_names(pid)
            tally = Tally()
            began = time.monotonic()
            peak = dict(start)

            rss_series: list[int] = []

            async def sample() -> None:
                while True:
                    await asyncio.sleep(5)
                    now = await measure(server, cookie)
                    rss_series.append(now["rss_kib"] // 1024)
                    for k, v in now.items():
                        peak[k] = max(peak[k], v)

            sampler = asyncio.create_task(sample())
            await churn(server, officers, seconds, max_calls, drivers, tally, seed + 1)
            elapsed = time.monotonic() - began
            sampler.cancel()
            # Calls are over; give the recorders and the grace timers time to finish.
            for _ in range(30):
                end = await measure(server, cookie)
                if end["live_calls"] == 0:
                    break
                await asyncio.sleep(1)
            await asyncio.sleep(5)
            end = await measure(server, cookie)
            for officer in officers:
                await officer.close()
            report(cold, start, peak, end, tally, warm_tally, elapsed)
            print(f"\nRSS every 5 s during the churn (MiB): {rss_series}")
            print(f"descriptors end − start: {difference(fds_before, fd_targets(pid))}")
            print(f"threads end − start: {difference(threads_before, thread_names(pid))}")
            if "Traceback" in server.log():
                print("\nthe server logged a traceback:\n" + server.log()[-3000:])
            if keep:
                print(f"\nserver log: {server.log_path}")
                await asyncio.to_thread(input, "press Enter to remove the data folder")
        finally:
            server.stop()


def report(
    cold: dict[str, int],
    start: dict[str, int],
    peak: dict[str, int],
    end: dict[str, int],
    tally: Tally,
    warm: Tally,
    elapsed: float,
) -> None:
    answered = max(1, tally.counts["answered"])
    print(f"churn: {elapsed:.0f} s, {dict(sorted(tally.counts.items()))}")
    if warm.errors or tally.errors:
        print("errors:", dict(warm.errors + tally.errors))
    print(
        "\n| figure | cold | start (after warm-up) | peak | end | end − start | per answered call |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in start:
        delta = end[key] - start[key]
        print(
            f"| {key} | {cold[key]} | {start[key]} | {peak.get(key, '-')} | {end[key]} "
            f"| {delta:+d} | {delta / answered:+.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120, help="how long drivers arrive")
    parser.add_argument("--max-calls", type=int, default=200, help="at most this many calls")
    parser.add_argument("--drivers", type=int, default=3, help="drivers at the same time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="pause before removing the data")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.max_calls, args.drivers, args.seed, args.keep))


if __name__ == "__main__":
    main()
