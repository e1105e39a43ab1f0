"""A full disk during a call, through the real server: the recordings directory on a small
tmpfs (a real ENOSPC, not a mock), filled while the call goes on.

The officer is told the recording stopped, the call goes on and the hang-up succeeds, what is
registered is what PyAV decodes from the file (marked partial), the manifest is never left
empty while verify says ok, the log says it once, and while the disk is below its threshold
new calls are refused with ``disk_full`` until space is back.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from kuaichu.evidence.manifest import MANIFEST_NAME, verify_command
from sim.client import SimDriver
from tests.e2e.test_call import answered_call
from tests.support.eventually import eventually
from tests.support.servers import start_in_process
from tests.support.tmpfs import fill, small_tmpfs


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB disk for the recordings; requested before the server, so it is unmounted
    only after the server has closed."""
    with small_tmpfs(tmp_path / "disk", "24m") as mounted:
        yield mounted


def _decoded_seconds(path: Path) -> float:
    """Where the last decodable frame of any stream ends (the recording starts at 0)."""
    end = 0.0
    with av.open(str(path)) as container:
        for stream in [*container.streams.video, *container.streams.audio]:
            container.seek(0)
            for frame in container.decode(stream):
                assert frame.time is not None
                length = (
                    frame.samples / frame.sample_rate
                    if isinstance(frame, av.AudioFrame)
                    else 1 / 30
                )
                end = max(end, float(frame.time) + length)
    return end


async def test_a_full_disk_mid_call(disk: Path, server_factory: Any) -> None:
    server = await server_factory(
        recordings_dir=disk,
        disk_min_free_mb=4,
        disk_check_seconds=0.3,
        reservation_timeout=5,
        wrapup_seconds=2,
        driver_grace_seconds=1,
    )
    driver, officer, call_id = await answered_call(server)
    late = SimDriver(server.url)
    filler: Path | None = None
    try:
        await officer.wait_for(lambda: officer.frames("video") >= 45, timeout=20)
        filler = fill(disk)  # the disk is full from here on

        # The officer is told, once, and the call goes on.
        stopped = await officer.wait_event("recording_stopped", timeout=15)
        assert stopped == {"call_id": call_id, "reason": "disk_full"}
        low = await officer.wait_event("disk_space", where=lambda d: d["low"], timeout=10)
        assert low["min_free_bytes"] == 4 << 20
        # Two seconds more of the driver's video reach the officer after the stop (frames
        # still on their way when the event came are at most a few hundred ms under load):
        # the recording must end well before the call does (asserted below).
        frames = officer.frames("video")
        await officer.wait_for(lambda: officer.frames("video") > frames + 60, timeout=15)

        # No new call while the disk is full: refused with a code the driver page shows.
        await late.connect()
        refused = await late.report()
        assert not refused["ok"] and refused["error"]["code"] == "disk_full", refused

        # The hang-up succeeds and the call is finalized.
        assert (await officer.hangup(call_id))["ok"]
        ended = await driver.wait_state("ended")
        assert ended["reason"] == "officer_hangup"
        rec = await server.wait_recording(call_id)
    finally:
        await driver.close()
        await officer.close()

    assert server.rows("select state from calls where id = ?", call_id)[0]["state"] == "ended"
    # Registered is what was written: partial, measured from the file.
    assert rec["partial"] == 1 and rec["failure"] == "disk_full"
    path = Path(rec["path"])
    assert path.is_file() and not path.name.endswith(".live.mkv")
    data = path.read_bytes()
    assert rec["size_bytes"] == len(data)
    assert rec["sha256"] == hashlib.sha256(data).hexdigest()
    decoded = _decoded_seconds(path)
    assert decoded > 1.0
    assert abs(rec["duration_s"] - decoded) < 0.15, (rec["duration_s"], decoded)
    call_row = server.rows("select * from calls where id = ?", call_id)[0]
    assert rec["duration_s"] < call_row["ended_at"] - call_row["answered_at"] - 0.5

    # The manifest: never an empty file that verifies; an unlisted recording is reported.
    case_dir = path.parent
    manifest = case_dir / MANIFEST_NAME
    assert not manifest.exists() or manifest.stat().st_size > 0
    out = io.StringIO()
    status = verify_command(case_dir.name, server.data_dir, disk, out=out, err=io.StringIO())
    listed = manifest.exists() and path.name in manifest.read_text(encoding="utf-8")
    assert status == (0 if listed else 1), out.getvalue()
    if not listed:
        assert path.name in out.getvalue()  # "added": the recording nobody could list

    # One line says the recording stopped: no line per packet, no traceback.
    log = server.log()
    # (one line per event: the stop, each remux tried, the manifest; 2,457 lines before)
    assert log.count("No space left on device") <= 6, log[-3000:]
    assert sum(call_id in line for line in log.splitlines()) < 40, log[-3000:]
    assert log.count("recording stopped") == 1, log[-3000:]
    assert log.count("packet not recorded") == 0
    assert log.count("new calls are refused") == 1

    # A console that connects while the disk is full is told at once; when space is back,
    # calls are taken again and the consoles are told.
    again = officer.__class__(server.url, server.officer_username, server.officer_password)
    watcher = await SimDriver(server.url).connect()
    try:
        await again.connect()
        await again.wait_event("disk_space", where=lambda d: d["low"], timeout=10)
        assert filler is not None
        filler.unlink()
        back = await again.wait_event("disk_space", where=lambda d: not d["low"], timeout=10)
        assert back["free_bytes"] >= 4 << 20
        ack = await watcher.report()
        assert ack["ok"], ack
        assert (await watcher.hangup())["ok"]
    finally:
        await watcher.close()
        await again.close()
        await late.close()


async def test_a_full_disk_under_the_database_too(disk: Path) -> None:
    """The whole data folder (database included) on the disk that fills: the hang-up still
    succeeds and the recording is finalized; what the database cannot take is not claimed."""
    server = await start_in_process(
        disk / "data",
        disk_min_free_mb=1,
        disk_check_seconds=0.3,
        reservation_timeout=5,
        wrapup_seconds=2,
        driver_grace_seconds=1,
        progress_link_code=False,
    )
    try:
        driver, officer, call_id = await answered_call(server)
        try:
            await officer.wait_for(lambda: officer.frames("video") >= 45, timeout=20)
            fill(disk)
            stopped = await officer.wait_event("recording_stopped", timeout=15)
            assert stopped["reason"] == "disk_full"
            assert (await officer.hangup(call_id))["ok"]
            assert (await driver.wait_state("ended"))["reason"] == "officer_hangup"
        finally:
            await driver.close()
            await officer.close()
        live = disk / "data" / "recordings"
        await eventually(
            lambda: not list(live.rglob("*.live.mkv")), 20, lambda: server.log()[-3000:]
        )
        recordings = [p for p in live.rglob("*.mkv")] + [p for p in live.rglob("*.mp4")]
        assert len(recordings) == 1 and recordings[0].stat().st_size > 0
        rows = server.rows("select * from recordings where call_id = ?", call_id)
        # Registered partial, or (the database being full too) not at all: never as whole.
        assert not rows or rows[0]["partial"] == 1
        assert server.log().count("recording stopped") == 1
    finally:
        await server.close()
    # No traceback from the recording's path. (The queue event log, kuaichu.drain, logs one
    # per event it cannot store: known, left to its owner.)
    ours = [p for p in server.problems() if "kuaichu.drain" not in p.splitlines()[0]]
    assert ours == [], ours
