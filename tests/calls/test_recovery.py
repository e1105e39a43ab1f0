"""Start-up recovery against a real database, ledger and recording files: what a killed
process left (a live Matroska, open calls, a waiting case) is finished once, and a second
start finds nothing more to do. The same through ``python server.py``: tests/e2e/test_restart.py."""

from __future__ import annotations

import fractions
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from kuaichu.calls.recovery import Recovery, RecoveryReport
from kuaichu.calls.resume import ResumeTokens
from kuaichu.cases.actors import DRIVER, SYSTEM
from kuaichu.cases.states import CHINA_TIME, CaseEvent, apply
from kuaichu.evidence.ledger import Ledger
from kuaichu.evidence.manifest import EvidenceManifest
from kuaichu.evidence.signing import ServerKey
from kuaichu.storage.db import Database, create_schema, make_engine

ZONE = CHINA_TIME


class Notice:
    """Records the SMS recovery asks for, as the case work would queue them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def call_interrupted(self, conn: AsyncConnection, case_id: str, key: str) -> None:
        self.sent.append((case_id, key))


class Bell:
    def __init__(self) -> None:
        self.rung = 0

    def ring(self) -> None:
        self.rung += 1


def write_live(path: Path, frames: int = 60) -> None:
    """An H.264 Matroska as the recorder leaves it at a kill (30 fps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = fractions.Fraction(1, 30)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(
                np.full((120, 160, 3), i * 4 % 255, np.uint8), format="rgb24"
            ).reformat(format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


async def new_case(db: Database, case_id: str, call_id: str, *, answered: bool) -> None:
    at = datetime.now(ZONE)
    entry = apply([], CaseEvent.REPORT, DRIVER, at, {"call_id": call_id}, zone=ZONE)
    await db.create_case_and_call(case_id, call_id, at.timestamp(), None, None, entry)
    await db.case_event(case_id, CaseEvent.QUEUE, SYSTEM, at, {"call_id": call_id}, zone=ZONE)
    if answered:
        await db.case_event(case_id, CaseEvent.ANSWER, "officer:1", at, {}, zone=ZONE)
        await db.update_call(call_id, state="in_call", answered_at=at.timestamp())


def rows(db_path: Path, sql: str, *args: Any) -> list[Any]:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def test_recovery_finishes_what_a_killed_process_left_once(tmp_path: Path) -> None:
    db_path = tmp_path / "kuaichu.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{db_path}")
    await create_schema(engine)
    db = Database(engine)
    recordings = tmp_path / "recordings"
    key = ServerKey.generate()
    notice, bell = Notice(), Bell()
    recovery = Recovery(
        db, Ledger(recordings, key), notice, bell, recordings_dir=recordings, zone=ZONE
    )
    try:
        await new_case(db, "KC20260101AAAAAA", "callAnswered01", answered=True)
        await new_case(db, "KC20260101BBBBBB", "callWaiting001", answered=False)
        live = recordings / "KC20260101AAAAAA" / "callAnswered01.live.mkv"
        write_live(live)
        # A remux the kill interrupted, and a file of no known call: left alone / removed.
        stale = live.parent / ".callAnswered01.mp4.part"
        stale.write_bytes(b"half")
        stranger = live.parent / "someoneElse99.live.mkv"
        write_live(stranger, frames=5)

        report = await recovery.run()

        assert report.recordings == ["callAnswered01"]
        assert sorted(report.interrupted) == ["callAnswered01", "callWaiting001"]
        assert report.abandoned == ["KC20260101BBBBBB"]
        assert notice.sent == [("KC20260101BBBBBB", "callWaiting001")]
        assert bell.rung == 1
        assert not live.exists() and not stale.exists() and stranger.exists()
        final = live.parent / "callAnswered01.mp4"
        (path, sha, size, duration, streams) = rows(
            db_path,
            "select path, sha256, size_bytes, duration_s, streams from recordings "
            "where call_id = 'callAnswered01'",
        )[0]
        assert path == str(final)
        assert sha == hashlib.sha256(final.read_bytes()).hexdigest()
        assert size == final.stat().st_size
        assert abs(duration - 2.0) < 0.2, duration
        assert json.loads(streams) == ["video:h264"]
        entries = EvidenceManifest(live.parent, key).entries()
        assert [(e.path, e.kind, e.sha256) for e in entries] == [
            ("callAnswered01.mp4", "recording", sha)
        ]
        assert entries[0].meta["partial"] == "interrupted"
        calls = dict(rows(db_path, "select id, state || ':' || end_reason from calls order by id"))
        assert calls == {
            "callAnswered01": "ended:interrupted",
            "callWaiting001": "ended:interrupted",
        }
        status = dict(rows(db_path, "select id, status from cases"))
        # Answered: stays where the officer continues it; waiting: abandoned.
        assert status == {"KC20260101AAAAAA": "in_call", "KC20260101BBBBBB": "abandoned"}
        last = {
            case: (what, json.loads(detail))
            for case, what, detail in rows(
                db_path, "select case_id, what, detail from case_audit order by seq"
            )
        }
        assert last["KC20260101AAAAAA"] == (
            "call_ended",
            {"call_id": "callAnswered01", "reason": "interrupted"},
        )
        assert last["KC20260101BBBBBB"] == (
            "abandon",
            {"call_id": "callWaiting001", "reason": "interrupted"},
        )
        trail = rows(db_path, "select count(*) from case_audit")[0][0]

        # A second start: nothing more.
        again = await recovery.run()
        assert again == RecoveryReport() and not again
        assert rows(db_path, "select count(*) from case_audit")[0][0] == trail
        assert rows(db_path, "select count(*) from recordings")[0][0] == 1
        assert len(EvidenceManifest(live.parent, key).entries()) == 1
        assert notice.sent == [("KC20260101BBBBBB", "callWaiting001")]
    finally:
        await db.close()


def test_resume_tokens_outlive_the_process(tmp_path: Path) -> None:
    first = ResumeTokens.load_or_create(tmp_path)
    token = first.mint("callAnswered01")
    assert len(token) == 32
    # A new process reads the same secret and recognises the token; nothing else does.
    second = ResumeTokens.load_or_create(tmp_path)
    assert second.check("callAnswered01", token)
    assert not second.check("callWaiting001", token)
    assert not second.check("callAnswered01", "x" * 32)
    assert not ResumeTokens.random().check("callAnswered01", token)
    assert (tmp_path / "resume-secret.key").stat().st_mode & 0o777 == 0o600
    assert "secret" not in repr(second).replace("<secret>", "")
