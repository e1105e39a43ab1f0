"""Which cases an insurer may see: its policyholder is a party, and liability is set."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.cases.states import AuditEntry, CaseEvent, apply
from kuaichu.errors import NotFound
from kuaichu.insurers import InsurerScope, NotYourCase, load_insurers
from kuaichu.storage.caseindex import backfill
from kuaichu.storage.db import create_schema, make_engine
from kuaichu.storage.tables import case_files
from tests.casework.seed import CST, insert_cases, notified_trail

DIRECTORY = load_insurers("")
PICC = DIRECTORY.require("picc")
PINGAN = DIRECTORY.require("pingan")
CPIC = DIRECTORY.require("cpic")


def _in_call_trail(at: datetime) -> list[AuditEntry]:
    trail: list[AuditEntry] = []
    for i, (event, who) in enumerate(
        [(CaseEvent.REPORT, "driver"), (CaseEvent.QUEUE, "system"), (CaseEvent.ANSWER, "officer:1")]
    ):
        trail.append(apply(trail, event, who, at + timedelta(minutes=i), {}, zone=CST))
    return trail


def _form(a: str, b: str) -> str:
    return json.dumps(
        {
            "parties": [
                {"key": "A", "insurer": a, "liability": "full"},
                {"key": "B", "insurer": b, "liability": "none"},
            ]
        },
        ensure_ascii=False,
    )


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'scope.sqlite3'}")
    await create_schema(engine)
    now = datetime.now(CST)
    await insert_cases(
        engine,
        {
            "KC1DETERMINED": notified_trail(now - timedelta(days=1)),
            "KC2INCALL": _in_call_trail(now),
            "KC3OTHERS": notified_trail(now - timedelta(hours=5)),
        },
    )
    async with engine.begin() as conn:
        await conn.execute(
            insert(case_files),
            [
                {
                    "case_id": c,
                    "revision": 1,
                    "data": d,
                    "updated_at": time.time(),
                    "updated_by": "t",
                }
                for c, d in (
                    ("KC1DETERMINED", _form("中国人保财险", "平安产险")),
                    ("KC2INCALL", _form("中国人保财险", "")),
                    ("KC3OTHERS", _form("太平洋产险", "国寿财险")),
                )
            ],
        )
        # Forms written straight into the table: index them as CaseStore.write_form would.
        await conn.run_sync(backfill)
    yield engine
    await engine.dispose()


async def test_each_insurer_sees_its_policyholders_cases_after_liability(
    engine: AsyncEngine,
) -> None:
    scope = InsurerScope(engine)
    picc_cases = await scope.cases(PICC)
    assert [(c.case_id, c.parties) for c in picc_cases] == [("KC1DETERMINED", ("A",))]
    pingan_cases = await scope.cases(PINGAN)
    assert [(c.case_id, c.parties) for c in pingan_cases] == [("KC1DETERMINED", ("B",))]
    assert [c.case_id for c in await scope.cases(CPIC)] == ["KC3OTHERS"]
    assert (await scope.require(PICC, "KC1DETERMINED")).parties == ("A",)


async def test_refusals_name_their_reason(engine: AsyncEngine) -> None:
    scope = InsurerScope(engine)
    with pytest.raises(NotYourCase) as other:
        await scope.require(PICC, "KC3OTHERS")
    assert other.value.detail["reason"] == "not_policyholder"
    with pytest.raises(NotYourCase) as early:
        await scope.require(PICC, "KC2INCALL")
    assert early.value.detail["reason"] == "liability_not_set"
    with pytest.raises(NotFound):
        await scope.require(PICC, "KC9NONE")
    assert not await scope.may_see(PICC, "KC3OTHERS")
    assert await scope.may_see(PINGAN, "KC1DETERMINED")
