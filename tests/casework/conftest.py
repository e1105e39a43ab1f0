"""CaseWork in-process on a temporary SQLite file, with the fakes of tests/casework/seed.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kuaichu.casework import CaseWork, CaseWorkConfig
from kuaichu.notify import Doorbell, Outbox
from kuaichu.storage.casefiles import CaseStore
from kuaichu.storage.db import Database, create_schema, make_engine
from tests.casework.seed import CST, Bench, FakeLedger, FakeLive, FakeRegistry, FakeRenderer


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cases.sqlite3'}")
    await create_schema(engine)
    db = Database(engine)
    store = CaseStore(engine)
    live = FakeLive()
    doorbell = Doorbell()
    work = CaseWork(
        db,
        store,
        FakeRegistry(),
        FakeRenderer(),
        CaseWorkConfig(
            base_url="https://kuaichu.test",
            authority="测试交警大队",
            document_prefix="测公交认字",
            sms_signature="【快处】",
            recordings_dir=tmp_path / "recordings",
            zone=CST,
        ),
        live=live,
        doorbell=doorbell,
        outbox=Outbox(engine),
        ledger=FakeLedger(),
    )
    try:
        yield Bench(engine, db, store, work, live, doorbell)
    finally:
        await db.close()
