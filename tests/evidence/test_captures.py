"""A still is one step: its row, the trail's action and the manifest line are written together
or not at all (real SQLite, real files, a real key)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kuaichu.cases.actions import AuditAction
from kuaichu.cases.actors import DRIVER
from kuaichu.cases.states import CHINA_TIME, AuditEntry, CaseEvent, apply
from kuaichu.evidence.captures import CallFacts, CaptureDesk
from kuaichu.evidence.ledger import Ledger
from kuaichu.evidence.manifest import (
    MANIFEST_NAME,
    EvidenceManifest,
    ManifestBroken,
    verify_case_folder,
)
from kuaichu.evidence.signing import ServerKey
from kuaichu.media.picture import encode_jpeg
from kuaichu.storage.db import Database, create_schema, make_engine
from kuaichu.storage.tables import captures, officers

CASE_ID = "KC20240501K7M3QX"
CALL_ID = "call-1"
OFFICER = 7
FACTS = CallFacts(CALL_ID, CASE_ID, OFFICER, 31.2, 121.5, None)


class FailingTrail(Database):
    """The database with a trail that cannot be written (a full disk, a lost connection)
    for the evidence action only, after the step's other rows were written."""

    async def _insert_audit(
        self, conn: AsyncConnection, case_id: str, seq: int, entry: AuditEntry
    ) -> None:
        if entry.what == AuditAction.EVIDENCE_CAPTURED:
            raise RuntimeError("the trail cannot be written")
        await super()._insert_audit(conn, case_id, seq, entry)


def jpeg() -> bytes:
    picture = np.full((48, 64, 3), 120, np.uint8)
    return encode_jpeg(av.VideoFrame.from_ndarray(picture, format="rgb24"))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'kuaichu.db'}")
    await create_schema(eng)
    async with eng.begin() as conn:
        await conn.execute(
            insert(officers).values(
                id=OFFICER,
                username="li",
                display_name="Li",
                password_hash="x",
                created_at=time.time(),
            )
        )
    report = apply([], CaseEvent.REPORT, DRIVER, datetime.now(CHINA_TIME))
    await Database(eng).create_case_and_call(CASE_ID, CALL_ID, time.time(), None, None, report)
    yield eng
    await eng.dispose()


@pytest.fixture
def key() -> ServerKey:
    return ServerKey.generate()


def desk(engine: AsyncEngine, db: Database, key: ServerKey, recordings: Path) -> CaptureDesk:
    return CaptureDesk(engine, db, Ledger(recordings, key), recordings, reader=None)


async def stored_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(captures))).scalar_one())


async def test_a_still_is_row_trail_and_manifest_line(
    engine: AsyncEngine, key: ServerKey, tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    db = Database(engine)
    view = await desk(engine, db, key, recordings).phone_still(FACTS, "damage", jpeg())

    assert view["kind"] == "damage" and view["source"] == "phone_still"
    assert await stored_rows(engine) == 1
    action = (await db.case_trail(CASE_ID))[-1]
    assert action.what == AuditAction.EVIDENCE_CAPTURED
    assert action.detail["capture_id"] == view["id"]
    assert action.detail["sha256"] == view["sha256"]
    [entry] = EvidenceManifest(recordings / CASE_ID, key).entries()
    assert entry.kind == "phone_still" and entry.sha256 == view["sha256"]
    assert entry.meta["capture_id"] == view["id"] and entry.meta["kind"] == "damage"
    assert verify_case_folder(recordings / CASE_ID, key.public_key).ok


async def test_a_trail_that_cannot_be_written_leaves_no_row_no_manifest_line_no_file(
    engine: AsyncEngine, key: ServerKey, tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    failing = FailingTrail(engine)
    with pytest.raises(RuntimeError, match="trail cannot be written"):
        await desk(engine, failing, key, recordings).phone_still(FACTS, "plate", jpeg())

    assert await stored_rows(engine) == 0  # the row was inserted, then rolled back
    assert [e.what for e in await Database(engine).case_trail(CASE_ID)] == ["report"]
    folder = recordings / CASE_ID
    assert not (folder / MANIFEST_NAME).exists()
    assert list(folder.iterdir()) == []  # the JPEG is not left behind as unlisted evidence

    # The next still is stored normally, with its own id.
    view = await desk(engine, Database(engine), key, recordings).phone_still(FACTS, "plate", jpeg())
    assert await stored_rows(engine) == 1
    assert [e.meta["capture_id"] for e in EvidenceManifest(folder, key).entries()] == [view["id"]]


async def test_a_manifest_that_refuses_the_line_leaves_no_row_and_no_trail_entry(
    engine: AsyncEngine, key: ServerKey, tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    folder = recordings / CASE_ID
    folder.mkdir(parents=True)
    (folder / MANIFEST_NAME).write_bytes(b"not a manifest line\n")
    db = Database(engine)
    with pytest.raises(ManifestBroken):
        await desk(engine, db, key, recordings).phone_still(FACTS, "scene", jpeg())

    assert await stored_rows(engine) == 0
    assert [e.what for e in await db.case_trail(CASE_ID)] == ["report"]
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST_NAME]
