"""The officer's badge number (警号, issue 12): set with ``officer add --badge`` or ``officer
badge``, kept in its own column (migration 11), never the login name."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, text

from kuaichu.accounts.model import Role
from kuaichu.accounts.service import Accounts
from kuaichu.errors import InvalidMessage
from kuaichu.storage.db import Database, create_schema, make_engine
from kuaichu.storage.tables import schema_version

ROOT = Path(__file__).resolve().parents[2]


def officer(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "server.py", "--data-dir", str(data), "officer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_officer_add_badge_and_officer_badge_on_the_command_line(tmp_path: Path) -> None:
    added = officer(tmp_path, "add", "zhang", "--name", "张伟", "--badge", "012345",
                    "--password", "long-enough-1")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "zhang\tofficer\t张伟\t警号 012345" in officer(tmp_path, "list").stdout
    changed = officer(tmp_path, "badge", "zhang", "--badge", "230101")
    assert changed.returncode == 0, changed.stderr
    assert "警号 230101" in officer(tmp_path, "list").stdout
    bad = officer(tmp_path, "badge", "zhang", "--badge", "12 34;")
    assert bad.returncode == 2 and "badge must be 2-16 letters or digits" in bad.stderr
    assert officer(tmp_path, "badge", "zhang", "--badge", "").returncode == 0
    assert "警号" not in officer(tmp_path, "list").stdout


async def test_the_badge_is_the_accounts_own_and_validated(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}")
    await create_schema(engine)
    accounts = Accounts(Database(engine), 3600)
    try:
        li = await accounts.add_officer("li", "long-enough-1", "李警官", badge=" 0815ab ")
        plain = await accounts.add_officer("wang", "long-enough-1", "王警官")
        assert (li.badge, plain.badge) == ("0815AB", None)
        token = await accounts.open_session(li)
        found = await accounts.officer_for_token(token)
        assert found is not None and found.badge == "0815AB"
        for wrong in ("1", "x" * 17, "警号1", "12-34"):
            with pytest.raises(InvalidMessage, match="badge"):
                await accounts.add_officer("zhao", "long-enough-1", badge=wrong)
        with pytest.raises(InvalidMessage, match="badge"):
            await accounts.add_officer("ins", "long-enough-1", "", Role.INSURER, "picc", "0001")
        with pytest.raises(InvalidMessage, match="no police officer"):
            await accounts.set_badge("nobody", "0001")
        assert [o.username for o in await accounts.list_officers()] == ["li", "wang"]
    finally:
        accounts.close()
        await engine.dispose()


async def test_migration_11_adds_the_badge_column_to_a_version_10_database(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v10.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    async with engine.begin() as conn:  # as a version-10 database has it
        await conn.execute(delete(schema_version).where(schema_version.c.version >= 11))
        await conn.execute(text("ALTER TABLE officers DROP COLUMN badge"))
        await conn.execute(text("DROP TABLE rejoin_links"))  # migration 12's
        await conn.execute(
            text(
                "INSERT INTO officers (username, display_name, password_hash, role, created_at,"
                " disabled) VALUES ('zhang', '张伟', 'x', 'officer', 0, 0)"
            )
        )
    await create_schema(engine)
    await engine.dispose()
    db = sqlite3.connect(path)
    assert db.execute("select username, badge from officers").fetchall() == [("zhang", None)]
    assert (11,) in db.execute("select version from schema_version").fetchall()
