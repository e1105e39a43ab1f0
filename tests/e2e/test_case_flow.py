"""The six steps end to end through the real server: eligibility, call, form, verification
against the local registry, leave-the-scene push, liability, document, SMS, progress page,
review within the window and refused after it.

One scenario, one test per step: each test takes the steps before it (with their checks)
as its set-up, so the first broken step fails its own test and every later step still
reports on itself."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sim.client import SimDriver, SimOfficer
from tests.e2e.conftest import report_and_answer
from tests.support.eventually import eventually

PHONE_A = "13800138000"


def party(data: dict[str, str], key: str, **more: Any) -> dict[str, Any]:
    return {
        "key": key,
        "reporter": key == "A",
        "name": data["name"],
        "phone": data["phone"],
        "licence_no": data["licence_no"],
        "plate": data["plate"],
        "vehicle_type": "small_car",
        **more,
    }


def full_form(
    view: dict[str, Any], a: dict[str, str], b: dict[str, str], **liab: Any
) -> dict[str, Any]:
    form = dict(view["form"])
    form.update(
        address="哈尔滨市南岗区红军街15号附近",
        description="A车在红军街由南向北行驶时追尾前方等红灯的B车，两车尾部、前部轻微受损。",
    )
    form["parties"] = [
        party(a, "A", **liab.get("A", {})),
        party(b, "B", **liab.get("B", {})),
    ]
    return form


async def http_get(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, resp.content_type, await resp.read()


async def http_post(url: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        return resp.status, await resp.json()


@dataclass
class Flow:
    """One case on its way through the steps, and what the steps hand on."""

    server: Any
    driver: SimDriver
    officer: SimOfficer
    ack: dict[str, Any]
    parties: tuple[dict[str, str], dict[str, str]]
    number: str = ""
    pdf: Path = field(default_factory=Path)
    doc_pdf: bytes = b""
    code_v1: str = ""

    @property
    def case_id(self) -> str:
        return str(self.ack["case_id"])

    @property
    def progress(self) -> str:
        return str(self.server.url + self.ack["progress_url"])


@pytest.fixture
async def flow(
    case_server: Any, parties: tuple[dict[str, str], dict[str, str]]
) -> AsyncIterator[Flow]:
    """A call answered by the officer: step 1 (eligibility, report, call) done."""
    driver, officer, ack = await report_and_answer(case_server, PHONE_A)
    try:
        yield Flow(case_server, driver, officer, ack, parties)
    finally:
        await driver.close()
        await officer.close()


async def step_form(f: Flow) -> None:
    """Step 2: the case form."""
    officer = f.officer
    case_id = f.case_id
    PARTY_A, PARTY_B = f.parties
    # Step 2: the case form. The report already filled party A's phone, cause, GPS.
    status, view = await officer.api("GET", f"/api/cases/{case_id}")
    assert status == 200, view
    assert view["case"]["status"] == "in_call"
    assert view["form"]["cause"] == "rear_end"
    assert view["form"]["parties"][0]["phone"] == PHONE_A
    assert view["form"]["lat"] == pytest.approx(45.7567)
    form = full_form(
        view,
        PARTY_A,
        PARTY_B,
        A={"liability": "full", "fault": "未与前车保持安全距离"},
        B={"liability": "none"},
    )
    status, saved = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200, saved
    assert saved["missing"] == []
    assert saved["form"]["parties"][1]["plate"] == "黑A·D12345"


async def step_verification(f: Flow) -> None:
    """Step 3: verification against the local registry."""
    officer = f.officer
    case_id = f.case_id
    # Information cannot be complete before verification.
    status, refused = await officer.api("POST", f"/api/cases/{case_id}/information", {})
    assert status == 409 and refused["error"]["detail"]["reason"] == "verification_pending"

    status, a = await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "A"})
    assert status == 200, a
    assert {i["item"]: i["status"] for i in a["result"]["items"]} == {
        "licence": "valid",
        "vehicle": "valid",
        "insurance": "valid",
    }
    status, b = await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "B"})
    items_b = {i["item"]: i for i in b["result"]["items"]}
    assert items_b["insurance"]["status"] != "valid"  # B's policy lapsed in the registry
    status, refused = await officer.api("POST", f"/api/cases/{case_id}/information", {})
    assert status == 409
    assert any("insurance" in b for b in refused["error"]["detail"]["blockers"])
    status, _ = await officer.api(
        "POST",
        f"/api/cases/{case_id}/decisions",
        {
            "party": "B",
            "item": "insurance",
            "decision": "accept",
            "reason": "当事人出示了续保的电子保单，系统尚未同步",
        },
    )
    assert status == 200
    status, done = await officer.api("POST", f"/api/cases/{case_id}/information", {})
    assert status == 200 and done["status"] == "evidence_collected", done


async def step_leave_scene(f: Flow) -> None:
    """Step 4: leave the scene, pushed to the driver's page and sent by SMS."""
    server = f.server
    officer = f.officer
    driver = f.driver
    case_id = f.case_id
    _, PARTY_B = f.parties
    status, pushed = await officer.api("POST", f"/api/cases/{case_id}/leave-scene", {})
    assert status == 200, pushed
    assert pushed["pushed"] == 1
    notice = await driver.wait_event("leave_scene")
    assert notice["case_id"] == case_id
    leave_sms = await eventually(
        lambda: server.rows(
            "select * from outbox where case_id = ? and template = 'leave_scene'", case_id
        ),
        15,
        "no leave-the-scene SMS queued",
    )
    assert {r["phone"] for r in leave_sms} == {PHONE_A, PARTY_B["phone"]}
    assert (await officer.hangup())["ok"]
    await driver.wait_state("ended")


async def step_determination(f: Flow) -> None:
    """Step 5: liability, the electronic determination, its SMS and the pages."""
    server = f.server
    officer = f.officer
    case_id = f.case_id
    progress = f.progress
    PARTY_A, PARTY_B = f.parties
    # Step 5: liability and the electronic determination.
    status, issued = await officer.api("POST", f"/api/cases/{case_id}/determinations", {})
    assert status == 201, issued
    number = issued["number"]
    assert number == f"哈公交认字[{case_id[2:6]}]第{case_id}号"
    pdf = server.data_dir / "recordings" / case_id / "determination-v1.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = (
        await asyncio.to_thread(
            subprocess.run,
            ["pdftotext", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        )
    ).stdout
    assert case_id in text and PARTY_A["name"] in text and PARTY_B["name"] in text
    assert "全部责任" in text

    # The SMS goes out (log gateway) and the case counts as served: notified.
    await eventually(
        lambda: server.rows("select status from cases where id = ?", case_id)[0][0] == "notified",
        15,
        "the case was not served (notified)",
    )
    sms = server.rows(
        "select * from outbox where case_id = ? and template = 'determination_issued'",
        case_id,
    )
    assert len(sms) == 2 and all(r["status"] == "sent" for r in sms)
    # One SMS segment (issue 12): the link, no longer the document number.
    assert all("/p/" in r["body"] for r in sms)

    # The progress page (the link from the report) shows the determination.
    code, _, raw = await http_get(progress + "/status")
    party_view = json.loads(raw)
    assert party_view["status"] == "notified"
    assert party_view["determination"]["number"] == number
    assert party_view["review"]["open"] is True
    code, _, doc = await http_get(progress + "/document")
    assert code == 200 and PARTY_A["name"] in doc.decode()
    code, _, doc_pdf = await http_get(progress + "/document.pdf")
    assert code == 200 and doc_pdf == pdf.read_bytes()

    # The public authenticity page: by number and code, without personal data.
    status, view = await officer.api("GET", f"/api/cases/{case_id}")
    code_v1 = view["determinations"][0]["code"]
    code, _, page = await http_get(f"{server.url}/verify?n={number}&c={code_v1}")
    html = page.decode()
    assert code == 200 and number in html
    assert PARTY_A["name"] not in html and PARTY_B["plate"] not in html
    # issue 12: the PDF prints a short address one can type (host/v/<case id>/<code>), which
    # the check accepts, and no badge line for an officer without a badge number (it used to
    # print the login name as 警号).
    assert f"{server.url}/v/{case_id}/{code_v1}" in "".join(text.split())
    assert "/verify?" not in text and "%" not in text and "警号" not in text
    code, _, page = await http_get(f"{server.url}/v/{case_id}/{code_v1.lower()}")
    assert code == 200 and number in page.decode() and "未找到" not in page.decode()
    for wrong in (f"/v/{case_id}/ZZZZZZZZ", f"/v/{case_id}/x", f"/v/KC1/{code_v1}"):
        code, _, page = await http_get(server.url + wrong)
        assert code == 200 and "未找到相符的认定书" in page.decode(), wrong
    f.number, f.pdf, f.doc_pdf, f.code_v1 = number, pdf, doc_pdf, code_v1


async def step_review(f: Flow) -> None:
    """Step 6: review within the window, once, decided by a supervisor."""
    server = f.server
    officer = f.officer
    case_id = f.case_id
    progress = f.progress
    PARTY_A, PARTY_B = f.parties
    number = f.number
    pdf = f.pdf
    doc_pdf = f.doc_pdf
    code_v1 = f.code_v1
    # Review (复核) within the window, decided by a supervisor as revised → version 2.
    status, requested = await http_post(
        progress + "/review", {"reason": "对方变道在先，我方不应负全部责任"}
    )
    assert status == 200 and requested["status"] == "review_requested", requested
    supervisor = SimOfficer(server.url, server.supervisor_username, server.supervisor_password)
    status, queue = await supervisor.api("GET", "/api/reviews")
    assert [r["case_id"] for r in queue["reviews"]] == [case_id]
    status, decided = await supervisor.api(
        "POST",
        f"/api/cases/{case_id}/review-decision",
        {"outcome": "revised", "text": "经复核视频，B车变道未让行，改为主次责任。"},
    )
    assert status == 200 and decided["status"] == "review_decided", decided
    status, view = await officer.api("GET", f"/api/cases/{case_id}")
    form = full_form(
        view,
        PARTY_A,
        PARTY_B,
        A={"liability": "major", "fault": "未与前车保持安全距离"},
        B={"liability": "minor", "fault": "变道未让行"},
    )
    status, _ = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200
    status, second = await officer.api("POST", f"/api/cases/{case_id}/determinations", {})
    assert status == 201 and second["version"] == 2 and second["number"] == number
    v1 = pdf.read_bytes()
    assert v1 == doc_pdf  # the issued version is never edited
    code, _, page = await http_get(f"{server.url}/verify?n={number}&c={code_v1}")
    assert "superseded" in page.decode() or "已被" in page.decode()
    await eventually(
        lambda: server.rows("select status from cases where id = ?", case_id)[0][0] == "notified",
        15,
        "the case was not served (notified)",
    )
    # Review is once only.
    status, again = await http_post(progress + "/review", {"reason": "再次申请"})
    assert status == 409, again

    trail = server.rows("select what from case_audit where case_id = ? order by seq", case_id)
    whats = [r[0] for r in trail]
    for step in (
        "report",
        "answer",
        "form_saved",
        "verified",
        "verification_decision",
        "collect_evidence",
        "clear_scene",
        "determine",
        "notify",
        "request_review",
        "decide_review",
    ):
        assert step in whats, (step, whats)
    timings = (await officer.api("GET", f"/api/cases/{case_id}"))[1]["timings"]
    assert timings["to_information_s"] > 0 and timings["to_determination_s"] > 0
    code, ctype, page = await http_get(progress)
    assert code == 200 and ctype == "text/html"
    assert "progress.js" in page.decode()  # rendered in the browser (tests/browser)


async def test_step_2_the_report_fills_the_form_and_it_saves(flow: Flow) -> None:
    await step_form(flow)


async def test_step_3_verification_holds_information_until_decided(flow: Flow) -> None:
    await step_form(flow)
    await step_verification(flow)


async def test_step_4_leave_the_scene_reaches_the_phone_and_both_parties(flow: Flow) -> None:
    await step_form(flow)
    await step_verification(flow)
    await step_leave_scene(flow)


async def test_step_5_determination_is_issued_served_and_shown(flow: Flow) -> None:
    await step_form(flow)
    await step_verification(flow)
    await step_leave_scene(flow)
    await step_determination(flow)


async def test_step_6_review_once_within_the_window_gives_version_2(flow: Flow) -> None:
    await step_form(flow)
    await step_verification(flow)
    await step_leave_scene(flow)
    await step_determination(flow)
    await step_review(flow)
