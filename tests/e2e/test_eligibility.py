"""Eligibility before the call, checked by the real server: refused reports queue nothing and
say why; service hours and areas come from configuration; bad configuration stops start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sim.client import ELIGIBLE_ANSWERS, SimDriver, SimOfficer

ROOT = Path(__file__).resolve().parents[2]
CHINA = timezone(timedelta(hours=8))
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Shenzhen, Futian: a service area that does not contain the simulated drivers in Harbin.
FUTIAN = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "福田区"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [113.98, 22.50],
                        [114.10, 22.50],
                        [114.10, 22.59],
                        [113.98, 22.59],
                        [113.98, 22.50],
                    ]
                ],
            },
        }
    ],
}


def nothing_written(server: Any) -> None:
    assert server.rows("select count(*) from cases")[0][0] == 0
    assert server.rows("select count(*) from calls")[0][0] == 0
    assert server.rows("select count(*) from case_audit")[0][0] == 0


async def service_info(server: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/api/service") as r:
            assert r.status == 200
            return dict(await r.json())


INELIGIBLE = [
    ({"injuries": True}, "injuries", "call_120_and_122"),
    ({"vehicles_movable": False}, "not_movable", "call_122"),
    ({"vehicle_to_vehicle": False}, "not_vehicle_to_vehicle", "call_122"),
    ({"all_insured": False}, "uninsured", "call_122"),
    ({"cause": "other"}, "other_cause", "call_122"),
    ({"drunk_driving": True}, "drunk_driving", "call_122"),
    ({"unlicensed": True}, "unlicensed", "call_122"),
    ({"hit_and_run": True}, "hit_and_run", "call_122"),
]


async def test_each_ineligible_answer_is_refused_and_nothing_is_queued(live_server: Any) -> None:
    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    try:
        await officer.set_available()
        for change, reason, action in INELIGIBLE:
            driver = await SimDriver(live_server.url).connect()
            try:
                ack = await driver.report(eligibility={**ELIGIBLE_ANSWERS, **change})
                assert ack["ok"] is False, (change, ack)
                error = ack["error"]
                assert error["code"] == "not_eligible"
                assert error["reason"] == reason
                assert error["action"] == action
                assert error["advice"] == f"elig_{reason}"
                # Nothing to hang up: no call was queued for this driver.
                assert (await driver.hangup())["error"]["code"] == "not_found"
            finally:
                await driver.close()
        # Several reasons at once: the most urgent decides what the driver is told.
        driver = await SimDriver(live_server.url).connect()
        try:
            ack = await driver.report(
                eligibility={**ELIGIBLE_ANSWERS, "all_insured": False, "injuries": True}
            )
            assert ack["error"]["reason"] == "injuries"
            assert ack["error"]["reasons"] == ["injuries", "uninsured"]
        finally:
            await driver.close()
        nothing_written(live_server)
        assert not any(ev == "call_offered" for ev, _ in officer.events)

        # An eligible report is queued and offered.
        driver = await SimDriver(live_server.url).connect()
        try:
            ack = await driver.report()
            assert ack["ok"], ack
            offer = await officer.wait_offer()
            assert offer["call_id"] == ack["call_id"]
            (case,) = live_server.rows("select * from cases")
            assert case["id"] == ack["case_id"] and case["status"] == "queued"
            offers = [d for ev, d in officer.events if ev == "call_offered"]
            assert [o["call_id"] for o in offers] == [ack["call_id"]]
        finally:
            await driver.close()
    finally:
        await officer.close()


async def test_forged_or_oversized_eligibility_is_an_invalid_message(live_server: Any) -> None:
    driver = await SimDriver(live_server.url).connect()
    try:
        bad_payloads: list[Any] = [
            {},  # no answers at all: the page cannot skip the questions
            {"eligibility": None},
            {"eligibility": [True, False]},
            {"eligibility": {**ELIGIBLE_ANSWERS, "admin": True}},
            {"eligibility": {k: v for k, v in ELIGIBLE_ANSWERS.items() if k != "drunk_driving"}},
            {"eligibility": {**ELIGIBLE_ANSWERS, "injuries": "false"}},
            {"eligibility": {**ELIGIBLE_ANSWERS, "injuries": 0}},
            {"eligibility": {**ELIGIBLE_ANSWERS, "cause": "hovercraft"}},
            {"eligibility": {**ELIGIBLE_ANSWERS, "cause": "rear_end" * 1000}},
            {"eligibility": {**ELIGIBLE_ANSWERS, "cause": None}},
        ]
        for payload in bad_payloads:
            ack = await driver.call("report", payload)
            assert ack["ok"] is False, payload
            assert ack["error"]["code"] == "invalid_message", (payload, ack)
            assert "eligibility" in ack["error"]["message"]
        ack = await driver.call("report", {"eligibility": {**ELIGIBLE_ANSWERS, "x": "y" * 70_000}})
        assert ack["error"]["code"] == "message_too_large"
        nothing_written(live_server)
    finally:
        await driver.close()


def hours_excluding_now(now: datetime) -> str:
    """Open every day except today and tomorrow (China time), so the check cannot race
    midnight."""
    today = now.weekday()
    closed = {today, (today + 1) % 7}
    return ",".join(d for i, d in enumerate(DAYS) if i not in closed) + " 08:00-18:00"


async def test_outside_service_hours_is_refused_with_the_next_opening(
    server_factory: Any,
) -> None:
    # One instant for the hours and the expectation: if the server answers after midnight,
    # its today is our tomorrow (closed too) and its next opening is still the day after.
    now = datetime.now(CHINA)
    server = await server_factory(service_hours=hours_excluding_now(now), timezone="+08:00")
    info = await service_info(server)
    assert info["always_open"] is False and info["open_now"] is False
    assert info["today"] == "closed"
    opening = datetime.fromisoformat(info["next_open"])
    assert opening.strftime("%H:%M") == "08:00"
    assert opening.date() == (now + timedelta(days=2)).date()
    assert info["weekly"][DAYS[opening.weekday()]] == ["08:00-18:00"]

    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report()
        error = ack["error"]
        assert error["code"] == "not_eligible" and error["reason"] == "outside_hours"
        assert error["action"] == "call_122"
        assert error["params"]["next_open"] == info["next_open_text"]
        assert error["params"]["hours"] == "closed"
    finally:
        await driver.close()
    nothing_written(server)


async def test_outside_service_area_is_refused_inside_is_queued(
    server_factory: Any, tmp_path: Path
) -> None:
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(FUTIAN, ensure_ascii=False))
    server = await server_factory(service_area=area)
    info = await service_info(server)
    assert info["area_limited"] is True and info["areas"] == ["福田区"]
    assert info["always_open"] is True and info["open_now"] is True

    harbin = await SimDriver(server.url).connect()
    futian = await SimDriver(server.url).connect()
    try:
        ack = await harbin.report(lat=45.7567, lng=126.6424)
        assert ack["error"]["code"] == "not_eligible"
        assert ack["error"]["reason"] == "outside_area"
        nothing_written(server)

        ack = await futian.report(lat=22.54, lng=114.05)
        assert ack["ok"], ack
        (row,) = server.rows("select detail from case_audit where what = 'report'")
        detail = json.loads(row["detail"])
        assert detail["district"] == "福田区" and detail["area_checked"] is True
    finally:
        await harbin.close()
        await futian.close()


def run_server(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "server.py"),
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            "1",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--service-hours", "mon-fri 07:00-25:00"], "--service-hours"),
        (["--service-hours", "mon-fri 19:00-07:00"], "ends before it starts"),
        (["--service-hours", "weekdays 07:00-19:00"], "expected days like mon-fri"),
        (["--service-hours", "mon-fri 07:00-19:00; fri 08:00-09:00"], "fri is already given"),
        (["--service-hours", '{"default": "07:00-19:00", "funday": []}'], "funday"),
        (["--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--service-area", "/nonexistent/area.geojson"], "cannot read"),
    ],
)
def test_bad_service_config_stops_the_server(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = run_server(tmp_path, *args)
    assert result.returncode != 0
    assert "invalid configuration" in result.stderr
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_geojson_names_the_flag_and_the_json_path(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(FUTIAN))
    ring = broken["features"][0]["geometry"]["coordinates"][0]
    ring[-1] = [113.99, 22.50]  # not closed
    area = tmp_path / "broken.geojson"
    area.write_text(json.dumps(broken))
    result = run_server(tmp_path, "--service-area", str(area))
    assert result.returncode != 0
    assert "--service-area" in result.stderr
    assert "features[0].geometry.coordinates[0]" in result.stderr
    assert "not closed" in result.stderr
    # Environment variables are checked the same way.
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--data-dir", str(tmp_path / "d2")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "KUAICHU_SERVICE_HOURS": "mon 7-19"},
    )
    assert result.returncode != 0 and "KUAICHU_SERVICE_HOURS" in result.stderr
