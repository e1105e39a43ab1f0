"""A server killed mid-call and started again on its data (start-up recovery), and a server
asked to stop (SIGTERM drain), both through ``python server.py`` in a process of its own."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from typing import Any

import av

from kuaichu.appkeys import center_key
from sim.client import ELIGIBLE_ANSWERS, PatternVideoTrack, SimDriver, SimOfficer
from tests.conftest import LIVE_SETTINGS
from tests.support.servers import ROOT

PHONE = "13800138000"


def decoded_span(path: str) -> tuple[int, float]:
    """Frames decoded from the video stream and the last frame's time."""
    with av.open(path) as container:
        video = container.streams.video[0]
        frames, last = 0, 0.0
        for frame in container.decode(video):
            frames += 1
            last = float(frame.time or 0.0)
    return frames, last


async def report_again(driver: SimDriver) -> dict[str, Any]:
    """What the driver page sends from its "ended" screen after an interruption: a report
    naming the interrupted call and its resume token."""
    previous = {"call_id": driver.call_id, "resume_token": driver.resume_token}
    payload = {"eligibility": dict(ELIGIBLE_ANSWERS), "previous": previous}
    return dict(await driver.call("report", payload))


def evidence_verify(server: Any, case_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "server.py"),
            "evidence",
            "verify",
            case_id,
            "--data-dir",
            str(server.data_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_sigkill_mid_call_then_restart_recovers(process_server_factory: Any) -> None:
    first = process_server_factory(**LIVE_SETTINGS)
    officer = await SimOfficer(first.url, first.officer_username, first.officer_password).connect()
    # 30 frames a second: the recording's frame count below is a phone's rate.
    driver = await SimDriver(first.url, video=PatternVideoTrack(fps=30)).connect()
    waiting = await SimDriver(first.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report()
        await officer.accept((await officer.wait_offer())["call_id"])
        await driver.wait_state("in_call")
        await officer.wait_for(lambda: officer.frames("video") > 10)
        answered = time.monotonic()
        # A second driver waits in the queue (the officer is busy) when the server dies.
        queued = await waiting.report(phone=PHONE)
        assert queued["ok"], queued
        await asyncio.sleep(4)
        kill_at = time.monotonic()
        assert first.proc is not None
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    finally:
        await officer.close()
        await waiting.close()
        await driver._close_pc()

    second = process_server_factory(data_dir=first.data_dir, **LIVE_SETTINGS)
    call_id, case_id = ack["call_id"], ack["case_id"]

    # The live recording was finalized, registered with its hash and true duration...
    rec = second.rows("select * from recordings where call_id = ?", call_id)
    assert len(rec) == 1, second.log()[-3000:]
    frames, last = decoded_span(rec[0]["path"])
    assert rec[0]["path"].endswith(".mp4")
    assert frames > 60
    assert last > (kill_at - answered) - 1.2, (last, kill_at - answered)
    assert abs(rec[0]["duration_s"] - last) < 1.0, (rec[0]["duration_s"], last)
    # ... and listed in the case's signed manifest: the folder verifies.
    verified = evidence_verify(second, case_id)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    lines = (second.data_dir / "recordings" / case_id / "manifest.jsonl").read_text().splitlines()
    listed = [e for e in map(json.loads, lines) if e["kind"] == "recording"]
    assert [e["meta"]["call_id"] for e in listed] == [call_id]

    # The calls are closed as interrupted; the answered case stays where the officer
    # continues it, the waiting one is abandoned and its caller told by SMS.
    calls = {r["id"]: r for r in second.rows("select id, state, end_reason from calls")}
    assert calls[call_id]["state"] == "ended"
    assert calls[call_id]["end_reason"] == "interrupted"
    assert calls[queued["call_id"]]["end_reason"] == "interrupted"
    status = dict(second.rows("select id, status from cases"))
    assert status[case_id] == "in_call"
    assert status[queued["case_id"]] == "abandoned"
    trail = second.rows(
        "select what, detail from case_audit where case_id = ? order by seq", case_id
    )
    assert trail[-1]["what"] == "call_ended"
    assert json.loads(trail[-1]["detail"])["reason"] == "interrupted"
    sms = second.rows(
        "select template from outbox where case_id = ? order by id", queued["case_id"]
    )
    assert [r["template"] for r in sms] == ["queued", "call_interrupted"]

    # The driver's page comes back: its resume gets the clear answer, and its report
    # rejoins the same case instead of opening a duplicate.
    driver.url = second.url
    officer = await SimOfficer(
        second.url, second.officer_username, second.officer_password
    ).connect()
    try:
        resumed = await driver.resume()
        assert resumed["ok"] is False
        assert resumed["error"]["code"] == "call_interrupted"
        assert resumed["error"]["detail"]["case_id"] == case_id
        again = await report_again(driver)
        assert again["ok"], again
        assert again["case_id"] == case_id
        await officer.set_available()
        offer = await officer.wait_offer()
        assert offer["case_id"] == case_id
    finally:
        await driver.close()
        await officer.close()
    assert len(second.rows("select id from cases")) == 2
    assert len(second.rows("select id from calls where case_id = ?", case_id)) == 2
    whats = [
        r["what"]
        for r in second.rows("select what from case_audit where case_id = ? order by seq", case_id)
    ]
    assert whats[-1] == "rejoined"


async def test_sigterm_drains_within_the_bound(process_server_factory: Any) -> None:
    bound = 12
    server = process_server_factory(**LIVE_SETTINGS, shutdown_timeout=bound)
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    driver = await SimDriver(server.url).connect()
    late = await SimDriver(server.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report()
        await officer.accept((await officer.wait_offer())["call_id"])
        await driver.wait_state("in_call")
        await officer.wait_for(lambda: officer.frames("video") > 30)
        assert server.proc is not None
        stopped_at = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        # Every page is told, before its socket closes.
        for client in (driver, officer, late):
            notice = await client.wait_event("server_restarting", timeout=bound)
            assert notice["reason"] == "shutdown"
        ended = await driver.wait_state("ended", timeout=bound)
        assert ended["reason"] == "server_shutdown"
        await officer.wait_event(
            "call_ended", timeout=bound, where=lambda d: d["reason"] == "server_shutdown"
        )
        code = await asyncio.to_thread(server.proc.wait, bound + 5)
        took = time.monotonic() - stopped_at
    finally:
        for client in (driver, officer, late):
            await client.close()
    assert code == 0, server.log()[-3000:]
    assert took < bound, took
    rec = server.rows("select * from recordings where call_id = ?", ack["call_id"])
    assert len(rec) == 1, server.log()[-3000:]
    frames, _last = decoded_span(rec[0]["path"])
    assert frames > 10
    row = server.rows("select state, end_reason from calls where id = ?", ack["call_id"])[0]
    assert (row["state"], row["end_reason"]) == ("ended", "server_shutdown")
    verified = evidence_verify(server, ack["case_id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_a_report_while_draining_is_refused(server_factory: Any) -> None:
    # The drain itself takes a moment only, too short to race a report against it from
    # outside: the call centre is put in the draining state the way the drain starts.
    server = await server_factory(**LIVE_SETTINGS)
    driver = await SimDriver(server.url).connect()
    try:
        assert server.app is not None
        server.app[center_key].stop_reports()
        refused = await driver.report()
        assert refused["ok"] is False
        assert refused["error"]["code"] == "server_restarting"
        assert driver.errors[-1]["code"] == "server_restarting"
    finally:
        await driver.close()
    assert server.rows("select id from cases") == []
