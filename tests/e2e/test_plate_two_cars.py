"""A two-car case through a real call: the plate read from the driver's video is offered for
the party whose plate it is, or for the party whose plate is not typed yet; never flagged as a
mismatch against the other car."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sim.client import LoopVideoTrack, SimDriver, SimOfficer
from sim.plates import scene_frames
from tests.e2e.conftest import PARTY_A, PARTY_B

SEEN = "黑A·D23456"  # the car in the driver's video: party B's


@pytest.fixture(scope="module")
def plate_frames() -> list[np.ndarray[Any, Any]]:
    return list(scene_frames(SEEN.replace("·", ""), "green", seed=7, n=30))


async def put_parties(officer: SimOfficer, case_id: str, plate_b: str) -> None:
    status, view = await officer.api("GET", f"/api/cases/{case_id}")
    assert status == 200, view
    form = dict(view["form"])
    form["parties"] = [
        {
            **{k: PARTY_A[k] for k in ("name", "phone", "licence_no", "plate")},
            "key": "A",
            "reporter": True,
            "vehicle_type": "small_car",
        },
        {
            **{k: PARTY_B[k] for k in ("name", "phone", "licence_no")},
            "plate": plate_b,
            "key": "B",
            "vehicle_type": "small_car",
        },
    ]
    status, body = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200, body


async def test_the_second_cars_plate_is_offered_for_party_b_then_matches_it(
    live_server: Any, plate_frames: list[np.ndarray[Any, Any]]
) -> None:
    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    driver = await SimDriver(live_server.url, video=LoopVideoTrack(plate_frames)).connect()
    try:
        await officer.set_available()
        ack = await driver.report(phone=PARTY_A["phone"])
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await officer.wait_for(lambda: officer.frames("video") >= 20, timeout=20)
        case_id, call_id = ack["case_id"], offer["call_id"]

        # A's plate typed, B's not yet: B's car in the video is offered for B.
        await put_parties(officer, case_id, "")
        result = await officer.call("capture", {"call_id": call_id, "kind": "plate"}, timeout=20)
        assert result["ok"], result
        capture = result["capture"]
        assert capture["plate"]["plate"] == SEEN
        assert capture["plate"]["sure"] is True
        assert capture["plate_check"] == {"status": "propose", "party": "B"}

        # Both typed: the plate is B's, not a mismatch with A's (the case page's list checks
        # each stored proposal against the form as it is now).
        await put_parties(officer, case_id, SEEN)
        status, listed = await officer.api("GET", f"/api/cases/{case_id}/captures")
        assert status == 200, listed
        [item] = listed["captures"]
        assert item["plate"]["plate"] == SEEN
        assert item["plate_check"] == {"status": "matches", "party": "B"}
    finally:
        await driver.close()
        await officer.close()
