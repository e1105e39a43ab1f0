"""A photo report started but never sent: void after ``--photo-draft-minutes`` with an SMS to
its driver, swept on a ManualClock against a real server (no waiting)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from kuaichu.appkeys import photo_reports_key
from kuaichu.clock import ManualClock
from kuaichu.photoreports.drafts import DraftSweeper
from tests.photoreports.images import jpeg
from tests.photoreports.test_api import PHONE, Driver
from tests.support.eventually import eventually

PERIOD = 60.0


async def test_a_report_never_sent_is_void_after_its_time_with_an_sms_to_the_driver(
    server_factory: Callable[..., Any],
) -> None:
    server = await server_factory(photo_draft_minutes=30)
    reports = server.app[photo_reports_key]
    assert reports.config.draft_expire_seconds == 1800
    async with aiohttp.ClientSession() as http:
        driver = Driver(server, http)
        status, body = await driver.report()
        assert status == 201, body
        started = server.rows(
            "select created_at from photo_reports where case_id = ?", driver.case_id
        )[0][0]
        clock = ManualClock(start=started)
        sweeper = DraftSweeper(reports, clock, PERIOD)
        for shot in ("vehicles", "damage"):
            status, body = await driver.put(shot, jpeg(800, 600))
            assert status == 201, body

        async def sweep_after(seconds: float) -> None:
            # The next sweep is scheduled when one ends: one pending timer says it is over.
            clock.advance(seconds)
            await eventually(lambda: clock.pending() == 1)

        def case() -> tuple[Any, ...]:
            row = server.rows("select status from cases where id = ?", driver.case_id)[0]
            report = server.rows(
                "select status from photo_reports where case_id = ?", driver.case_id
            )[0]
            return row[0], report[0]

        sweeper.start()
        try:
            await sweep_after(0)
            # 29 minutes on: the driver may still be taking photos; nothing happens.
            for _ in range(29):
                await sweep_after(PERIOD)
            assert case() == ("reported", "collecting")
            assert server.rows("select * from outbox where case_id = ?", driver.case_id) == []
            status, body = await driver.put("plate_a", jpeg(800, 600))
            assert status == 201, body

            # Past 30 minutes: void, and the driver told how to report again.
            await sweep_after(PERIOD + 1)
            assert case() == ("abandoned", "expired")
        finally:
            await sweeper.close()
        sms = server.rows(
            "select template, phone, body from outbox where case_id = ?", driver.case_id
        )
        assert [(m["template"], m["phone"]) for m in sms] == [("photo_not_sent", PHONE)]
        assert "拍照报警未提交，请重报或拨122" in sms[0]["body"] and "/p/" in sms[0]["body"]
        trail = server.rows(
            "select what, who, detail from case_audit where case_id = ? order by seq",
            driver.case_id,
        )
        last = trail[-1]
        assert (last["what"], last["who"]) == ("abandon", "system")
        assert '"photos_not_sent"' in last["detail"] and '"photos": 3' in last["detail"]
        # The photos taken stay as evidence.
        assert len(driver.captures()) == 3 and len(driver.files()) == 3

        # The page that comes back later is told plainly; nothing more is stored.
        status, body = await driver.put("plate_b", jpeg(800, 600))
        assert status == 409 and body["error"]["detail"]["reason"] == "expired", body
        assert "not sent in time" in body["error"]["message"]
        status, body = await driver.submit()
        assert status == 409 and body["error"]["detail"]["reason"] == "expired", body
        assert len(driver.captures()) == 3
        # A second sweep finds nothing more to do: one SMS, not two.
        assert await sweeper.sweep() == []
        assert len(server.rows("select * from outbox where case_id = ?", driver.case_id)) == 1
