"""The case's other paths through the real server: a self-negotiated agreement confirmed on
each party's phone and approved by the officer; two reports of one accident linked into one
case; the evidence manifest checked through the API and the command."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from sim.client import SimDriver, SimOfficer
from tests.e2e.conftest import rear_end_form
from tests.support.eventually import eventually

ROOT = Path(__file__).resolve().parents[2]


async def status_of(server: Any, case_id: str) -> str:
    return str(server.rows("select status from cases where id = ?", case_id)[0][0])


async def party_links(server: Any, case_id: str, template: str) -> dict[str, str]:
    """The progress links the SMS of one template carried, by party (read from the outbox
    the way a phone reads its text)."""
    rows = server.rows(
        "select party, body from outbox where case_id = ? and template = ?", case_id, template
    )
    out = {}
    for row in rows:
        url = row["body"].split("http", 1)[1]
        out[row["party"]] = "http" + url.split()[0].rstrip("。，")
    return out


async def test_agreement_confirmed_on_each_phone_and_approved(
    case_server: Any, parties: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = parties
    officer = await SimOfficer(
        case_server.url, case_server.officer_username, case_server.officer_password
    ).connect()
    driver = await SimDriver(case_server.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report(phone=a["phone"])
        case_id = ack["case_id"]
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        status, view = await officer.api("GET", f"/api/cases/{case_id}")
        form = rear_end_form(view["form"], a, b)
        status, body = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, body
        for key in ("A", "B"):
            await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": key})
        await officer.api(
            "POST",
            f"/api/cases/{case_id}/decisions",
            {"party": "B", "item": "insurance", "decision": "accept", "reason": "已出示保单"},
        )
        status, body = await officer.api("POST", f"/api/cases/{case_id}/information", {})
        assert status == 200, body
        # The officer hangs up first; the driver's page, still open on its "ended" screen,
        # gets the leave-the-scene notice all the same.
        assert (await officer.hangup(offer["call_id"]))["ok"]
        await driver.wait_state("ended")
        status, body = await officer.api("POST", f"/api/cases/{case_id}/leave-scene", {})
        assert status == 200 and body["pushed"] == 1, body
        assert (await driver.wait_event("leave_scene"))["case_id"] == case_id
        status, body = await officer.api("POST", f"/api/cases/{case_id}/agreement", {})
        assert status == 200 and body["status"] == "agreement_pending", body

        links = await party_links(case_server, case_id, "agreement_confirm")
        assert set(links) == {"A", "B"}
        async with aiohttp.ClientSession() as http:
            async with http.get(links["A"] + "/status") as r:
                mine = await r.json()
            assert mine["agreement"]["liabilities"] == {"A": "full", "B": "none"}
            assert mine["agreement"]["mine_confirmed"] is False
            async with http.post(links["A"] + "/agreement", json={"action": "confirm"}) as r:
                assert r.status == 200
            # Confirming twice is refused; the officer cannot approve before B confirms.
            async with http.post(links["A"] + "/agreement", json={"action": "confirm"}) as r:
                assert r.status == 409
            status, body = await officer.api(
                "POST", f"/api/cases/{case_id}/agreement/decision", {"approve": True}
            )
            assert status == 409, body
            async with http.post(links["B"] + "/agreement", json={"action": "confirm"}) as r:
                assert (await r.json())["status"] == "agreement_confirmed"
        status, body = await officer.api(
            "POST", f"/api/cases/{case_id}/agreement/decision", {"approve": True}
        )
        assert status == 200 and body["status"] == "closed", body
        approved = case_server.rows(
            "select phone from outbox where case_id = ? and template = 'agreement_approved'",
            case_id,
        )
        assert {r[0] for r in approved} == {a["phone"], b["phone"]}
        # No determination for an agreed case.
        assert case_server.rows("select * from determinations where case_id = ?", case_id) == []
    finally:
        await driver.close()
        await officer.close()


async def test_two_reports_of_one_accident_are_linked(live_server: Any) -> None:
    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    first = await SimDriver(live_server.url).connect()
    second = await SimDriver(live_server.url).connect()
    try:
        await officer.set_available()
        ack1 = await first.report(phone="13800000001")
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        ack2 = await second.report(phone="13800000002")  # the other driver, still waiting
        assert ack2["ok"]
        status, body = await officer.api(
            "POST", f"/api/cases/{ack1['case_id']}/link", {"case_id": ack2["case_id"]}
        )
        assert status == 200, body
        assert body["parties"] == {"A": "B"}
        status, view = await officer.api("GET", f"/api/cases/{ack1['case_id']}")
        phones = {p["key"]: p["phone"] for p in view["form"]["parties"]}
        assert phones == {"A": "13800000001", "B": "13800000002"}
        assert {c["id"] for c in view["calls"]} == {ack1["call_id"], ack2["call_id"]}
        assert await status_of(live_server, ack2["case_id"]) == "cancelled"
        # The second driver's progress link now shows the merged case, as party B.
        async with aiohttp.ClientSession() as http:
            async with http.get(live_server.url + ack2["progress_url"] + "/status") as r:
                theirs = await r.json()
        assert theirs["case_id"] == ack1["case_id"] and theirs["party"] == "B"
        # A case cannot be linked twice, nor to itself.
        status, _ = await officer.api(
            "POST", f"/api/cases/{ack1['case_id']}/link", {"case_id": ack2["case_id"]}
        )
        assert status == 409
        status, _ = await officer.api(
            "POST", f"/api/cases/{ack1['case_id']}/link", {"case_id": ack1["case_id"]}
        )
        assert status == 400
        # The second driver's call, still waiting, is answered into the merged case: the
        # case does not move back, the answer is in its trail.
        seen = len(officer.events)
        assert (await officer.hangup(ack1["call_id"]))["ok"]
        await officer.set_available()
        offer = await officer.wait_offer(timeout=20, after=seen)
        assert offer["call_id"] == ack2["call_id"]
        assert (await officer.accept(ack2["call_id"]))["ok"]
        await second.wait_state("in_call")
        assert await status_of(live_server, ack1["case_id"]) == "in_call"
        answers = live_server.rows(
            "select what from case_audit where case_id = ? and detail like ?",
            ack1["case_id"],
            f"%{ack2['call_id']}%",
        )
        assert [r[0] for r in answers][-1] == "call_answered"
    finally:
        for c in (first, second, officer):
            await c.close()


async def test_evidence_manifest_verifies_and_points_at_a_tampered_file(
    case_server: Any, drive_to_notified: Any
) -> None:
    officer = await SimOfficer(
        case_server.url, case_server.officer_username, case_server.officer_password
    ).connect()
    driver = await SimDriver(case_server.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report(phone="13800138000")
        case_id = ack["case_id"]
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await officer.wait_for(lambda: officer.frames("video") >= 15, timeout=20)
        assert (await officer.hangup(offer["call_id"]))["ok"]
        await case_server.wait_recording(offer["call_id"])

        async def listed() -> bool:  # the recording is listed right after its row
            _, report = await officer.api("GET", f"/api/cases/{case_id}/evidence/verify")
            return bool(report.get("entries"))

        await eventually(listed, 5, "the recording is not in the evidence manifest")
        await drive_to_notified(case_server, officer, case_id)
        status, report = await officer.api("GET", f"/api/cases/{case_id}/evidence/verify")
        assert status == 200 and report["ok"] is True, report
        assert report["entries"] == 2  # the recording and the determination

        # The determination lists the recording with its hash.
        status, view = await officer.api("GET", f"/api/cases/{case_id}")
        rec_sha = case_server.rows(
            "select sha256 from recordings where call_id = ?", offer["call_id"]
        )[0][0]
        status, html = await officer.api("GET", view["determinations"][0]["html_url"])
        assert rec_sha[:12] in html.decode()

        folder = case_server.data_dir / "recordings" / case_id
        recording = next(p for p in folder.iterdir() if p.suffix in (".mp4", ".mkv"))
        with recording.open("r+b") as fh:
            fh.seek(2000)
            byte = fh.read(1)
            fh.seek(2000)
            fh.write(bytes([byte[0] ^ 0xFF]))
        (folder / "extra.jpg").write_bytes(b"\xff\xd8\xff")
        status, report = await officer.api("GET", f"/api/cases/{case_id}/evidence/verify")
        assert report["ok"] is False
        assert report["first"]["kind"] == "altered" and report["first"]["path"] == recording.name
        assert {p["kind"] for p in report["problems"]} == {"altered", "added"}
        command = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                str(ROOT / "server.py"),
                "--data-dir",
                str(case_server.data_dir),
                "evidence",
                "verify",
                case_id,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert command.returncode == 1
        assert recording.name in command.stdout
    finally:
        await driver.close()
        await officer.close()
