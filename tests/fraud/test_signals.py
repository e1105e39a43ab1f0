"""Fraud signals on a real server: repeat cases built through the case work (tests/api/cases.py)
are flagged, unrelated ones are not; the officer's case API, the supervisors' /fraud page and
the insurers' API case show the same flags. The evidence rows a call or a photo report would
leave (a plate read from a still, a photo's EXIF time and place) are written as those
services store them."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import insert

from kuaichu.accounts.web import COOKIE
from kuaichu.appkeys import accounts_key, api_keys_key, open_api_key
from kuaichu.storage.tables import calls, captures
from tests.api.cases import cleared_case, determined_case, id_number, party, supervisor
from tests.casework.seed import CST, case_id
from tests.conftest import ServerFactory

FIRST, REPEAT, PAIR_1, PAIR_2, PLAIN, PHOTOS = (case_id(9300 + n) for n in range(6))
HOME = (45.7500, 126.6500)


def people(n: int, liability: str) -> dict[str, str]:
    return dict(
        licence=id_number(f"2301031990{n:02d}01{n:03d}0"[:17]),
        phone=f"1360000{n:04d}",
        liability=liability,
    )


async def add_still(app: Any, case: str, n: int, **values: Any) -> None:
    """A still as the capture desk stores it, on a call of the case."""
    engine = app[open_api_key].engine
    call = f"call{n:08d}"
    async with engine.begin() as conn:
        await conn.execute(
            insert(calls).values(id=call, case_id=case, state="ended", queued_at=time.time())
        )
        await conn.execute(
            insert(captures).values(
                case_id=case,
                call_id=call,
                kind=values.pop("kind", "plate"),
                source=values.pop("source", "video_frame"),
                path=f"{case}/still-{n}.jpg",
                sha256="0" * 64,
                width=1280,
                height=720,
                captured_at=time.time(),
                **values,
            )
        )


async def test_repeat_cases_are_flagged_everywhere_and_unrelated_ones_are_not(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory()
    app = server.app
    assert app is not None
    now = datetime.now(CST)
    # The same car and driver twice within days (FIRST, REPEAT).
    driver = people(1, "full")
    await determined_case(
        app,
        FIRST,
        [
            party("A", "刘一", "黑A·77777", "人保财险", **driver),
            party("B", "陈二", "黑A·10001", "平安产险", **people(2, "none")),
        ],
        at=now - timedelta(days=5),
    )
    await determined_case(
        app,
        REPEAT,
        [
            party("A", "刘一", "黑A·77777", "太平洋产险", **driver),
            party("B", "杨三", "黑A·10002", "人保财险", **people(3, "none")),
        ],
        at=now - timedelta(hours=2),
    )
    # Two other people who keep colliding with each other (different cars each time).
    for n, case in enumerate((PAIR_1, PAIR_2)):
        await cleared_case(
            app,
            case,
            [
                party("A", "黄四", f"黑B·2000{n}", "人保财险", **people(4, "full")),
                party("B", "赵五", f"黑B·3000{n}", "平安产险", **people(5, "none")),
            ],
            at=now - timedelta(days=10 - n),
        )
    # Strangers, declared where the phone was.
    await cleared_case(
        app,
        PLAIN,
        [
            party("A", "孙六", "黑C·40000", "人保财险", **people(6, "full")),
            party("B", "周七", "黑C·50000", "平安产险", **people(7, "none")),
        ],
        at=now - timedelta(hours=1),
    )
    # A case declared 7 km from where the phone reported, a plate read that nobody declared,
    # a photo taken five hours before the accident and one taken 15 km away.
    await cleared_case(
        app,
        PHOTOS,
        [
            party("A", "吴八", "黑D·60000", "人保财险", **people(8, "full")),
            party("B", "郑九", "黑D·70000", "平安产险", **people(9, "none")),
        ],
        at=now - timedelta(minutes=30),
        report=HOME,
        declared=(45.80, 126.72),
    )
    plate = {"plate": "黑D·99999", "colour": "blue", "confidence": 0.93, "box": [1, 2, 3, 4]}
    await add_still(app, PHOTOS, 1, plate=json.dumps(plate, ensure_ascii=False))
    await add_still(
        app,
        PHOTOS,
        2,
        kind="scene",
        source="photo",
        exif_taken_at=(now - timedelta(hours=5, minutes=30)).timestamp(),
        exif_lat=45.80,
        exif_lng=126.72,
    )
    await add_still(
        app,
        PHOTOS,
        3,
        kind="damage",
        source="photo",
        exif_taken_at=(now - timedelta(minutes=31)).timestamp(),
        exif_lat=45.93,
        exif_lng=126.72,
    )

    boss = await supervisor(app)
    cookie = await app[accounts_key].open_session(boss)
    async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http:

        async def flags(case: str) -> list[str]:
            async with http.get(f"{server.url}/api/cases/{case}/fraud") as resp:
                assert resp.status == 200
                return sorted({f["code"] for f in (await resp.json())["flags"]})

        assert await flags(REPEAT) == ["repeat_person", "repeat_plate"]
        assert await flags(FIRST) == ["repeat_person", "repeat_plate"]
        assert "repeat_pair" in await flags(PAIR_2)
        assert await flags(PLAIN) == []
        assert await flags(PHOTOS) == ["gps_far", "photo_gps", "photo_time", "plate_mismatch"]

        async with http.get(f"{server.url}/fraud") as resp:
            page = await resp.text()
            assert resp.status == 200
        for case in (FIRST, REPEAT, PAIR_1, PAIR_2, PHOTOS):
            assert f'data-case="{case}"' in page
        assert PLAIN not in page
        assert "同一车辆近期多次出险" in page  # the flag's label, in the page's language

        async with http.get(f"{server.url}/api/fraud/flagged?days=0") as resp:
            assert resp.status == 400

    # An officer who did not handle the case may not read its flags.
    officer = next(o for o in await app[accounts_key].list_officers() if not o.is_supervisor)
    cookie = await app[accounts_key].open_session(officer)
    async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http:
        async with http.get(f"{server.url}/api/cases/{REPEAT}/fraud") as resp:
            assert resp.status == 403
        async with http.get(f"{server.url}/fraud") as resp:
            assert resp.status == 403

    # The insurer of the repeat case's policyholder gets the flags with the case.
    _, token = await app[api_keys_key].create("picc")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{server.url}/api/v1/cases/{REPEAT}", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            case = await resp.json()
            assert resp.status == 200, case
    assert sorted({f["code"] for f in case["fraud_flags"]}) == ["repeat_person", "repeat_plate"]
    repeat = next(f for f in case["fraud_flags"] if f["code"] == "repeat_plate")
    # How many other cases, not which: they may be another insurer's.
    assert repeat["detail"]["other_cases"] == 1 and "cases" not in repeat["detail"]
    assert FIRST not in json.dumps(case)
