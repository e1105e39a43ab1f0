"""A real SQLite registry with one record per verdict, and real HTTP servers on free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.storage.db import make_engine
from kuaichu.verification import LocalRegistry
from kuaichu.verification.demo import id_check_char
from kuaichu.verification.records import (
    LicenceRecord,
    LicenceStatus,
    PlateColourCode,
    PolicyKind,
    PolicyRecord,
    VehicleRecord,
    VehicleStatus,
)

TODAY = date(2025, 6, 1)


def id_no(body: str) -> str:
    return body + id_check_char(body)


@dataclass(frozen=True)
class People:
    """Licence numbers of the fixture registry, one per licence verdict."""

    ok: str = id_no("11010519900101123")  # 张三, C1, normal
    expired: str = id_no("31011519850202234")  # 李四, ended 2025-05-31
    suspended: str = id_no("44030519880303345")
    revoked: str = id_no("50010319790404456")
    future: str = id_no("23010320000505567")  # valid from 2025-07-01
    long_term: str = id_no("51190219600606678")  # 长期
    c1_trucker: str = id_no("42010619820707789")  # C1, drives a heavy truck
    a2_trucker: str = id_no("61011319750808890")  # A2, drives a heavy truck


PEOPLE = People()


def _licence(
    no: str, name: str, cls: str, frm: date, until: date | None, st: str = "normal"
) -> LicenceRecord:
    return LicenceRecord(no, name, cls, date(2010, 1, 1), frm, until, LicenceStatus(st))


def _vehicle(
    plate: str, st: str = "normal", inspection: date = date(2026, 3, 31), **kw: str
) -> VehicleRecord:
    return VehicleRecord(
        plate=plate,
        plate_colour=PlateColourCode(kw.get("colour", "blue")),
        vehicle_type=kw.get("vtype", "小型轿车"),
        brand_model="大众牌SVW7152",
        body_colour="白",
        owner_name=kw.get("owner", "张三"),
        vin="LSVAB2180E2123456",
        registered_on=date(2018, 3, 1),
        inspection_valid_until=inspection,
        status=VehicleStatus(st),
    )


def _policy(no: str, plate: str, frm: date, until: date, kind: str = "compulsory") -> PolicyRecord:
    return PolicyRecord(no, plate, "中国人保财险", PolicyKind(kind), frm, until)


LICENCES = [
    _licence(PEOPLE.ok, "张三", "C1", date(2020, 1, 1), date(2030, 1, 1)),
    _licence(PEOPLE.expired, "李四", "C1", date(2015, 6, 1), date(2025, 5, 31)),
    _licence(PEOPLE.suspended, "王五", "C1", date(2020, 1, 1), date(2030, 1, 1), "suspended"),
    _licence(PEOPLE.revoked, "赵六", "C2", date(2020, 1, 1), date(2030, 1, 1), "revoked"),
    _licence(PEOPLE.future, "孙七", "C1", date(2025, 7, 1), date(2031, 6, 30)),
    _licence(PEOPLE.long_term, "欧阳娜", "C1", date(2016, 1, 1), None),
    _licence(PEOPLE.c1_trucker, "周八", "C1", date(2020, 1, 1), date(2030, 1, 1)),
    _licence(PEOPLE.a2_trucker, "吴九", "A2", date(2020, 1, 1), date(2030, 1, 1)),
]
VEHICLES = [
    _vehicle("京A·12345"),
    _vehicle("粤B·D12345", colour="green", owner="欧阳娜"),
    _vehicle("沪A·S0001", "stolen"),
    _vehicle("沪A·S0002", "scrapped"),
    _vehicle("沪A·S0003", "seized"),
    _vehicle("沪A·S0004", inspection=date(2025, 5, 31)),
    _vehicle("沪A·L0001"),
    _vehicle("沪A·N0001"),
    _vehicle("沪A·F0001"),
    _vehicle("渝A·T0001", colour="yellow", vtype="重型货车", owner="重庆顺达物流有限公司"),
]
POLICIES = [
    _policy("PDZA202400000001", "京A·12345", date(2024, 9, 1), date(2025, 8, 31)),
    _policy("PDZA202300000001", "京A·12345", date(2023, 9, 1), date(2024, 8, 31)),
    _policy("PDZA202400000002", "京A·12345", date(2024, 9, 1), date(2025, 8, 31), "commercial"),
    _policy("PDZA202400000003", "粤B·D12345", date(2024, 6, 2), date(2025, 6, 1)),
    *[
        _policy(f"PDZA20240000010{i}", p, date(2025, 1, 1), date(2025, 12, 31))
        for i, p in enumerate(("沪A·S0001", "沪A·S0002", "沪A·S0003", "沪A·S0004", "渝A·T0001"))
    ],
    _policy("PDZA202400000004", "沪A·L0001", date(2024, 5, 2), date(2025, 5, 1)),
    # Only a commercial policy: no 交强险.
    _policy("PDZA202400000005", "沪A·N0001", date(2025, 1, 1), date(2025, 12, 31), "commercial"),
    _policy("PDZA202500000006", "沪A·F0001", date(2025, 7, 1), date(2026, 6, 30)),
]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kuaichu.sqlite3'}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def local(engine: AsyncEngine) -> LocalRegistry:
    registry = LocalRegistry(engine)
    await registry.ensure_schema()
    await registry.load({"licences": LICENCES, "vehicles": VEHICLES, "policies": POLICIES})
    return registry


Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start an aiohttp application on a free port; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def people() -> People:
    return PEOPLE


@pytest.fixture
def today() -> date:
    return TODAY
