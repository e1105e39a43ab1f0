"""A small local registry for the case-flow tests, loaded the way an operator loads one: CSV
files through the ``registry import`` command's code (in-process; the command line itself is
tested in test_cli.py)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from kuaichu.cases.form import id_number_valid
from tests.support.eventually import eventually
from tests.support.registry import import_registry

PARTY_A: dict[str, str] = {
    "name": "张伟",
    "phone": "13800138000",
    "licence_no": "11010519491231002X",
    "plate": "黑A·12345",
}
PARTY_B: dict[str, str] = {
    "name": "李娜",
    "phone": "13900139000",
    "licence_no": "230103198506120039",
    "plate": "黑A·D12345",
}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


async def seed_registry(data_dir: Path, work: Path) -> None:
    """A's licence, car and policy are in order; B's compulsory policy lapsed last month."""
    today = date.today()
    year = timedelta(days=365)
    licences = _write(
        work / "licences.csv",
        [
            {
                "licence_no": p["licence_no"],
                "name": p["name"],
                "licence_class": "C1",
                "first_issued": (today - 8 * year).isoformat(),
                "valid_from": (today - 2 * year).isoformat(),
                "valid_until": (today + 4 * year).isoformat(),
                "status": "normal",
            }
            for p in (PARTY_A, PARTY_B)
        ],
    )
    vehicles = _write(
        work / "vehicles.csv",
        [
            {
                "plate": p["plate"],
                "plate_colour": colour,
                "vehicle_type": "小型轿车",
                "brand_model": model,
                "body_colour": "白",
                "owner_name": p["name"],
                "vin": vin,
                "registered_on": (today - 3 * year).isoformat(),
                "inspection_valid_until": (today + year).isoformat(),
                "status": "normal",
            }
            for p, colour, model, vin in (
                (PARTY_A, "blue", "大众朗逸", "LSVAU2180N2123456"),
                (PARTY_B, "green", "比亚迪秦PLUS", "LGXCE4CB5N0123456"),
            )
        ],
    )
    policies = _write(
        work / "policies.csv",
        [
            {
                "policy_no": "PDZA202623010000001",
                "plate": PARTY_A["plate"],
                "insurer": "中国人保财险",
                "kind": "compulsory",
                "valid_from": (today - timedelta(days=100)).isoformat(),
                "valid_until": (today + timedelta(days=265)).isoformat(),
            },
            {
                "policy_no": "PICC202523010000002",
                "plate": PARTY_B["plate"],
                "insurer": "平安产险",
                "kind": "compulsory",
                "valid_from": (today - timedelta(days=400)).isoformat(),
                "valid_until": (today - timedelta(days=35)).isoformat(),
            },
        ],
    )
    await import_registry(
        data_dir, {"licences": licences, "vehicles": vehicles, "policies": policies}
    )


@pytest.fixture
def parties() -> tuple[dict[str, str], dict[str, str]]:
    return PARTY_A, PARTY_B


@pytest.fixture
async def case_server(server_factory: Any, tmp_path: Path) -> Any:
    """A server whose local registry knows parties A and B."""
    assert id_number_valid(PARTY_A["licence_no"]) and id_number_valid(PARTY_B["licence_no"])
    server = await server_factory(
        reservation_timeout=5,
        wrapup_seconds=2,
        driver_grace_seconds=1,
        authority="哈尔滨市公安局交通警察支队",
        document_prefix="哈公交认字",
    )
    await seed_registry(server.data_dir, tmp_path)
    return server


def rear_end_form(
    form: dict[str, Any], a: dict[str, str], b: dict[str, str]
) -> dict[str, Any]:
    """``form`` (a case view's) filled in for a two-car scrape: A reversed into B."""
    out = dict(form, address="红军街15号", description="倒车时刮擦，双方无争议")
    out["parties"] = [
        {**{k: a[k] for k in ("name", "phone", "licence_no", "plate")}, "key": "A",
         "reporter": True, "vehicle_type": "small_car", "liability": "full",
         "fault": "倒车未确认安全"},
        {**{k: b[k] for k in ("name", "phone", "licence_no", "plate")}, "key": "B",
         "vehicle_type": "small_car", "liability": "none"},
    ]  # fmt: skip
    return out


async def report_and_answer(server: Any, phone: str | None) -> tuple[Any, Any, dict[str, Any]]:
    """A simulated driver reports (with ``phone``) and the test officer answers: the driver,
    the officer (both to close) and the report's answer."""
    from sim.client import SimDriver, SimOfficer

    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    driver = await SimDriver(server.url).connect()
    await officer.set_available()
    ack = await driver.report(lat=45.7567, lng=126.6424, phone=phone)
    assert ack["ok"], ack
    offer = await officer.wait_offer()
    assert (await officer.accept(offer["call_id"]))["ok"]
    await driver.wait_state("in_call")
    return driver, officer, ack


async def fill_and_verify(officer: Any, case_id: str) -> None:
    """The form with parties A and B, both verified, B's lapsed policy accepted."""
    status, view = await officer.api("GET", f"/api/cases/{case_id}")
    assert status == 200, view
    form = rear_end_form(view["form"], PARTY_A, PARTY_B)
    form["description"] = "追尾"
    form["parties"][0]["fault"] = "未保持安全距离"
    status, body = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200, body
    for key in ("A", "B"):
        status, body = await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": key})
        assert status == 200, body
    status, body = await officer.api(
        "POST",
        f"/api/cases/{case_id}/decisions",
        {"party": "B", "item": "insurance", "decision": "accept", "reason": "出示了新保单"},
    )
    assert status == 200, body


async def _drive_to_notified(server: Any, officer: Any, case_id: str) -> None:
    """Form, verification, information, leave the scene, determination, served."""
    await fill_and_verify(officer, case_id)
    for step in ("information", "leave-scene", "determinations"):
        status, body = await officer.api("POST", f"/api/cases/{case_id}/{step}", {})
        assert status in (200, 201), (step, body)
    await eventually(
        lambda: server.rows("select status from cases where id = ?", case_id)[0][0] == "notified",
        10,
        "the determination was not served",
    )


@pytest.fixture
def drive_to_notified() -> Any:
    return _drive_to_notified
