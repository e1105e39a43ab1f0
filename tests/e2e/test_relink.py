"""A re-report of one accident linked into the call the officer is on (issue 12, item 3),
through the real server: the first call's video capture (annotated) and phone still, its
recording and its trail reach the surviving case; the officer who handled both calls still
opens the old case; the caller who called twice stays one party; a wrongly added reporting
party can be removed; both evidence folders still verify against their signed manifests."""

from __future__ import annotations

from typing import Any

import aiohttp

from sim.client import SimDriver, SimOfficer
from tests.e2e.test_capture import jpeg
from tests.support.eventually import eventually

PHONE = "13800000007"
OTHER = "13900000008"


async def test_a_re_report_linked_keeps_evidence_access_and_one_party(live_server: Any) -> None:
    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    first = await SimDriver(live_server.url).connect()
    second = await SimDriver(live_server.url).connect()
    bystander = await SimDriver(live_server.url).connect()
    try:
        # The first call: a video capture the officer annotates, and a phone still.
        await officer.set_available()
        ack1 = await first.report(phone=PHONE)
        old = ack1["case_id"]
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await officer.wait_for(lambda: officer.frames("video") >= 15, timeout=20)
        result = await officer.call(
            "capture", {"call_id": ack1["call_id"], "kind": "damage"}, timeout=20
        )
        assert result["ok"], result
        frame_id = result["capture"]["id"]
        status, _ = await officer.api(
            "PUT",
            f"/api/captures/{frame_id}/annotation",
            {"regions": [{"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.25}], "note": "左前门凹陷"},
        )
        assert status == 200
        assert (
            await officer.call("request_still", {"call_id": ack1["call_id"], "kind": "damage"})
        )["ok"]
        await first.wait_event("still_requested")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{live_server.url}/api/calls/{ack1['call_id']}/stills?kind=damage",
                data=jpeg(),
                headers={"X-Call-Token": first.resume_token or ""},
            ) as r:
                assert r.status == 201, await r.text()
                still_id = (await r.json())["id"]
        # The officer took the caller's name and ID number before the line dropped.
        status, view = await officer.api("GET", f"/api/cases/{old}")
        form = dict(view["form"])
        form["parties"] = [
            {**view["form"]["parties"][0], "name": "王伟", "licence_no": "11010519491231002X"}
        ]
        status, body = await officer.api(
            "PUT", f"/api/cases/{old}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, body
        assert (await officer.hangup(ack1["call_id"]))["ok"]
        await live_server.wait_recording(ack1["call_id"])

        # The same driver calls again; the officer answers and links the first report in.
        await officer.set_available()
        seen = len(officer.events)
        ack2 = await second.report()  # this time without the phone number
        new = ack2["case_id"]
        offer = await officer.wait_offer(after=seen)
        assert (await officer.accept(offer["call_id"]))["ok"]
        # The officer asks for the ID number again; the console proposes the first report:
        # same ID number, same place, within the hour.
        status, view = await officer.api("GET", f"/api/cases/{new}")
        form = dict(view["form"])
        form["parties"] = [{**view["form"]["parties"][0], "licence_no": "11010519491231002x"}]
        status, body = await officer.api(
            "PUT", f"/api/cases/{new}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, body
        status, body = await officer.api("GET", f"/api/cases/{new}/link-candidates")
        assert status == 200, body
        (proposed,) = body["candidates"]
        assert proposed["case_id"] == old
        assert proposed["reasons"] == ["id_number", "nearby"] and proposed["distance_m"] == 0
        status, body = await officer.api("POST", f"/api/cases/{new}/link", {"case_id": old})
        assert status == 200, body

        status, view = await officer.api("GET", f"/api/cases/{new}")
        assert status == 200
        # One party for the one person (same ID number), with what the first call learnt.
        parties = view["form"]["parties"]
        assert [(p["key"], p["phone"], p["name"]) for p in parties] == [("A", PHONE, "王伟")]
        assert parties[0]["licence_no"] == "11010519491231002X"
        # Both calls, so both recordings.
        assert {c["id"] for c in view["calls"]} == {ack1["call_id"], ack2["call_id"]}
        # The first call's stills, the annotation kept.
        status, listed = await officer.api("GET", f"/api/cases/{new}/captures")
        by_id = {c["id"]: c for c in listed["captures"]}
        assert set(by_id) == {frame_id, still_id}
        assert by_id[frame_id]["note"] == "左前门凹陷" and len(by_id[frame_id]["regions"]) == 1
        assert by_id[still_id]["source"] == "phone_still"
        status, _ = await officer.api("GET", f"/api/captures/{frame_id}.jpg")
        assert status == 200
        # The old case's trail is reachable from the surviving case.
        linked = view["linked_cases"]
        assert [c["id"] for c in linked] == [old]
        whats = [e["what"] for e in linked[0]["trail"]]
        assert "evidence_annotated" in whats and "form_saved" in whats
        # The officer who handled both calls still opens the old case and its evidence.
        status, old_view = await officer.api("GET", f"/api/cases/{old}")
        assert status == 200, old_view
        assert old_view["case"]["status"] == "cancelled"
        assert old_view["merged_into"] == new
        status, report = await officer.api("GET", f"/api/cases/{old}/evidence/verify")
        assert status == 200 and report["ok"], report
        assert report["entries"] == 3  # the first recording, the frame, the still
        # The merged re-report is the same accident, not a second case of the same person:
        # the fraud signals do not flag the surviving case against it.
        status, fraud = await officer.api("GET", f"/api/cases/{new}/fraud")
        assert status == 200, fraud
        assert not [f for f in fraud["flags"] if f["code"].startswith("repeat")], fraud

        status, body = await officer.api("GET", f"/api/cases/{new}/link-candidates")
        assert body["candidates"] == []  # linked: no longer proposed

        # A bystander's report wrongly linked: a second reporting party, then removed.
        ack3 = await bystander.report(phone=OTHER)
        status, body = await officer.api("GET", f"/api/cases/{new}/link-candidates")
        assert [(c["case_id"], c["reasons"]) for c in body["candidates"]] == [
            (ack3["case_id"], ["nearby"])
        ]
        status, body = await officer.api(
            "POST", f"/api/cases/{new}/link", {"case_id": ack3["case_id"]}
        )
        assert status == 200 and body["parties"] == {"A": "B"}, body
        status, view = await officer.api("GET", f"/api/cases/{new}")
        b = next(p for p in view["form"]["parties"] if p["key"] == "B")
        assert b["reporter"] and b["phone"] == OTHER
        assert view["removable"] == ["B"]
        form = dict(view["form"])
        form["parties"] = [p for p in form["parties"] if p["key"] == "A"]
        status, body = await officer.api(
            "PUT", f"/api/cases/{new}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, body
        status, view = await officer.api("GET", f"/api/cases/{new}")
        assert [p["key"] for p in view["form"]["parties"]] == ["A"]

        # The second call ends: its recording is listed in the surviving case's folder, and
        # both folders verify.
        assert (await officer.hangup(ack2["call_id"]))["ok"]
        await live_server.wait_recording(ack2["call_id"])

        async def listed() -> bool:  # the recording is listed right after its row
            _, report = await officer.api("GET", f"/api/cases/{new}/evidence/verify")
            return bool(report.get("entries"))

        done: bool = await eventually(listed, 5, "the second recording is not in the manifest")
        assert done
        for case_id, entries in ((new, 1), (old, 3)):
            status, report = await officer.api("GET", f"/api/cases/{case_id}/evidence/verify")
            assert status == 200 and report["ok"] and report["entries"] == entries, report
        # Each call's recording plays from the surviving case.
        for call_id in (ack1["call_id"], ack2["call_id"]):
            status, _ = await officer.api("GET", f"/api/calls/{call_id}/recording")
            assert status == 200, call_id
    finally:
        for c in (first, second, bystander, officer):
            await c.close()
