"""Progress links through the real server: a corrected phone replaces the party's links at
once, and a link opens on another device only after the one-time code sent to the party's
phone (the reporting device excepted)."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sim.client import SimDriver, SimOfficer
from tests.e2e.conftest import report_and_answer
from tests.support.eventually import eventually

PHONE_A = "13800138000"
NEW_PHONE_A = "13700137000"


async def _answered(
    server: Any, phone: str | None = PHONE_A
) -> tuple[SimDriver, SimOfficer, dict[str, Any]]:
    driver, officer, ack = await report_and_answer(server, phone)
    return driver, officer, ack


def _browser() -> aiohttp.ClientSession:
    # A browser keeps cookies from 127.0.0.1; aiohttp's jar does only when told.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url, allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def test_a_corrected_phone_replaces_the_old_link_at_once(server_factory: Any) -> None:
    server = await server_factory()
    driver, officer, ack = await _answered(server)
    try:
        case_id = ack["case_id"]
        old = server.url + ack["progress_url"]
        async with aiohttp.ClientSession() as http:
            assert (await _get(http, old + "/status"))[0] == 200
            status, view = await officer.api("GET", f"/api/cases/{case_id}")
            form = dict(view["form"])
            form["parties"] = [{**form["parties"][0], "phone": NEW_PHONE_A}]
            status, body = await officer.api(
                "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
            )
            assert status == 200, body
            # The old SMS link: a clear page, no status, no document, no review.
            status, page = await _get(http, old)
            assert status == 410
            assert 'id="link-replaced"' in page
            for path in ("/status", "/document"):
                status, text = await _get(http, old + path)
                assert (status, "link_replaced") == (
                    404,
                    re.search("link_replaced", text) and "link_replaced",
                ), text
            async with http.post(old + "/review", json={"reason": "x"}) as resp:
                assert resp.status == 404
        # A new link went to the new number, through the outbox, and it works.
        rows = server.rows(
            "select phone, body from outbox where case_id = ? and template = 'link_replaced'",
            case_id,
        )
        assert [r["phone"] for r in rows] == [NEW_PHONE_A]
        found = re.search(r"/p/[A-Za-z0-9_-]{16,64}", rows[0]["body"])
        assert found is not None
        async with aiohttp.ClientSession() as http:
            status, text = await _get(http, server.url + found.group(0) + "/status")
            assert status == 200, text
        # The save's audit entry names the replaced links.
        _, view = await officer.api("GET", f"/api/cases/{case_id}")
        saved = [e for e in view["trail"] if e["what"] == "form_saved"][-1]
        assert saved["detail"]["links_replaced"] == ["A"]
    finally:
        await driver.close()
        await officer.close()


def _code_in_log(server: Any) -> str:
    codes = re.findall(r"验证码(\d{6})", server.log())
    assert codes, "no code in the log"
    return str(codes[-1])


async def test_another_device_needs_the_code_sent_to_the_phone(server_factory: Any) -> None:
    server = await server_factory(progress_link_code=True)
    driver, officer, ack = await _answered(server)
    try:
        link = server.url + ack["progress_url"]
        # The reporting device proves itself with the report's resume token and opens it.
        async with _browser() as reporter:
            async with reporter.post(
                link + "/device",
                json={"call_id": ack["call_id"], "resume_token": ack["resume_token"]},
            ) as resp:
                assert resp.status == 200
            assert (await _get(reporter, link + "/status"))[0] == 200
        async with _browser() as other:
            # A wrong resume token does not make a device the reporting one.
            async with other.post(
                link + "/device", json={"call_id": ack["call_id"], "resume_token": "x" * 32}
            ) as resp:
                assert resp.status == 403
            status, page = await _get(other, link)
            assert status == 200 and "138****8000" in page and 'action="/p/' in page
            status, text = await _get(other, link + "/status")
            assert status == 403 and "device_unverified" in text
            async with other.post(link + "/review", json={"reason": "x"}) as resp:
                assert resp.status == 403
            # Another site cannot make a browser ask for (or guess) codes.
            for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
                async with other.post(link + "/code", data={"send": "1"}, headers=headers) as r:
                    assert r.status == 403
            # The code goes by SMS through the outbox (the log adapter writes it to the log).
            async with other.post(link + "/code", data={"send": "1"}) as resp:
                assert resp.status == 200
                assert 'data-reason="code_sent"' in await resp.text()
            await eventually(
                lambda: re.search(r"验证码\d{6}", server.log()) is not None, 10, "no code sent"
            )
            rows = server.rows(
                "select phone from outbox where case_id = ? and template = 'link_code'",
                ack["case_id"],
            )
            assert [r["phone"] for r in rows] == [PHONE_A]
            code = _code_in_log(server)
            # Asking again at once is refused (one code a minute).
            async with other.post(link + "/code", data={"send": "1"}) as resp:
                assert resp.status == 429
            wrong = "000000" if code != "000000" else "111111"
            async with other.post(link + "/verify", data={"code": wrong}) as resp:
                assert resp.status == 409
                assert 'data-reason="code_wrong"' in await resp.text()
            async with other.post(
                link + "/verify", data={"code": code}, allow_redirects=False
            ) as resp:
                assert resp.status == 303, await resp.text()
            assert (await _get(other, link + "/status"))[0] == 200
            # The code is spent.
            async with other.post(link + "/verify", data={"code": code}) as resp:
                assert resp.status == 409
    finally:
        await driver.close()
        await officer.close()


async def test_wrong_codes_back_off_and_then_the_code_dies(server_factory: Any) -> None:
    server = await server_factory(progress_link_code=True)
    driver, officer, ack = await _answered(server)
    try:
        link = server.url + ack["progress_url"]
        async with _browser() as other:
            async with other.post(link + "/code", data={"send": "1"}) as resp:
                assert resp.status == 200
            await eventually(
                lambda: re.search(r"验证码\d{6}", server.log()) is not None, 10, "no code sent"
            )
            code = _code_in_log(server)
            wrong = "000000" if code != "000000" else "111111"
            for _ in range(3):
                async with other.post(link + "/verify", data={"code": wrong}) as resp:
                    assert resp.status == 409
            # After the third wrong code: a wait, and even the right code waits.
            async with other.post(link + "/verify", data={"code": code}) as resp:
                assert resp.status == 429
                assert 'data-reason="try_later"' in await resp.text()
            assert (await _get(other, link + "/status"))[0] == 403
    finally:
        await driver.close()
        await officer.close()


async def test_a_report_without_a_phone_needs_the_code_once_the_form_has_one(
    server_factory: Any,
) -> None:
    server = await server_factory(progress_link_code=True)
    driver, officer, ack = await _answered(server, phone=None)
    try:
        link = server.url + ack["progress_url"]
        async with _browser() as reporter, _browser() as other:
            async with reporter.post(
                link + "/device",
                json={"call_id": ack["call_id"], "resume_token": ack["resume_token"]},
            ) as resp:
                assert resp.status == 200
            # No number to prove yet: the link only ever lived on the reporting page.
            assert (await _get(other, link + "/status"))[0] == 200
            status, view = await officer.api("GET", f"/api/cases/{ack['case_id']}")
            form = dict(view["form"])
            form["parties"] = [{**form["parties"][0], "phone": NEW_PHONE_A}]
            status, body = await officer.api(
                "PUT",
                f"/api/cases/{ack['case_id']}/form",
                {"revision": view["revision"], "form": form},
            )
            assert status == 200, body
            # Now there is: another browser is asked for the code sent to that number.
            status, text = await _get(other, link + "/status")
            assert status == 403 and "137****7000" in text
            assert (await _get(reporter, link + "/status"))[0] == 200
    finally:
        await driver.close()
        await officer.close()


async def test_a_code_expires_after_ten_minutes(
    server_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuaichu.casework import links

    server = await server_factory(progress_link_code=True)
    driver, officer, ack = await _answered(server)
    try:
        link = server.url + ack["progress_url"]
        async with _browser() as other:
            async with other.post(link + "/code", data={"send": "1"}) as resp:
                assert resp.status == 200
            await eventually(
                lambda: re.search(r"验证码\d{6}", server.log()) is not None, 10, "no code sent"
            )
            code = _code_in_log(server)
            # Eleven minutes later, as the link's guard sees the clock.
            later = time.time() + 11 * 60
            monkeypatch.setattr(links, "time", SimpleNamespace(time=lambda: later))
            async with other.post(link + "/verify", data={"code": code}) as resp:
                assert resp.status == 409
                assert 'data-reason="code_expired"' in await resp.text()
            # A new code may be asked for (the minute between codes has passed too).
            async with other.post(link + "/code", data={"send": "1"}) as resp:
                assert resp.status == 200
            assert (await _get(other, link + "/status"))[0] == 403
    finally:
        await driver.close()
        await officer.close()
