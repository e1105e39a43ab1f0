"""``python server.py officer add --role insurer --insurer CODE``: an insurer's staff account,
only for a configured insurer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kuaichu.accounts.model import Role
from kuaichu.accounts.service import Accounts
from kuaichu.errors import InvalidMessage
from kuaichu.storage.db import Database, create_schema, make_engine

ROOT = Path(__file__).resolve().parents[2]


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "server.py", "--data-dir", str(data), "officer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_insurer_account_of_a_configured_insurer(tmp_path: Path) -> None:
    added = run(tmp_path, "add", "picc.li", "--role", "insurer", "--insurer", "picc",
                "--password", "long-enough-1")
    assert added.returncode == 0, added.stderr
    assert "added insurer picc.li" in added.stdout and "of insurer picc" in added.stdout
    unknown = run(tmp_path, "add", "x.li", "--role", "insurer", "--insurer", "nosuch",
                  "--password", "long-enough-1")
    assert unknown.returncode == 2
    assert "unknown insurer 'nosuch'" in unknown.stderr and "picc" in unknown.stderr
    listed = run(tmp_path, "list")
    assert "picc.li\tinsurer\tpicc.li\tpicc" in listed.stdout
    assert "x.li" not in listed.stdout


async def test_an_insurer_account_needs_its_insurer_and_only_it_has_one(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}")
    await create_schema(engine)
    accounts = Accounts(Database(engine), 3600)
    try:
        for role, insurer in ((Role.INSURER, None), (Role.OFFICER, "picc")):
            with pytest.raises(InvalidMessage, match="--insurer CODE"):
                await accounts.add_officer("y.li", "long-enough-1", "", role, insurer)
        assert await accounts.list_officers() == []
    finally:
        accounts.close()
        await engine.dispose()
