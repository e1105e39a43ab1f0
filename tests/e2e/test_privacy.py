"""What the server keeps private, through the real server: its log carries no progress-link
tokens, resume tokens, passwords, phone numbers, names or licence numbers over a whole case;
the first admin password is only in its 0600 file; and every file the server writes under its
data folder is the owner's alone."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sim.client import SimOfficer
from tests.e2e.conftest import PARTY_A, PARTY_B, report_and_answer
from tests.support.servers import OFFICER, SUPERVISOR


async def test_the_log_of_a_whole_case_has_no_secrets_or_personal_data(
    case_server: Any, drive_to_notified: Any
) -> None:
    server = case_server
    supervisor = await SimOfficer(server.url, *SUPERVISOR[:2]).connect()
    driver, officer, ack = await report_and_answer(server, PARTY_A["phone"])
    try:
        case_id = ack["case_id"]
        await drive_to_notified(server, officer, case_id)
        # The party reads the document and asks for a review; the supervisor decides.
        link = server.url + ack["progress_url"]
        async with aiohttp.ClientSession() as http:
            async with http.get(link + "/document") as resp:
                assert resp.status == 200
            async with http.post(link + "/review", json={"reason": "对方变道在先"}) as resp:
                assert resp.status == 200, await resp.text()
        status, body = await supervisor.api(
            "POST",
            f"/api/cases/{case_id}/review-decision",
            {"outcome": "upheld", "text": "经复核维持"},
        )
        assert status == 200, body
        await officer.hangup()
    finally:
        await driver.close()
        await officer.close()
        await supervisor.close()

    tokens = {ack["progress_url"].rsplit("/", 1)[-1], ack["resume_token"]}
    for row in server.rows("select body from outbox where case_id = ?", case_id):
        tokens.update(re.findall(r"/p/([A-Za-z0-9_-]{16,64})", row["body"]))
    assert len(tokens) > 3  # the report's link, its resume token and the SMS links
    secrets = {
        **{f"token {t[:4]}…": t for t in tokens},
        "officer password": OFFICER[1],
        "supervisor password": SUPERVISOR[1],
    }
    for party in (PARTY_A, PARTY_B):
        for field in ("phone", "name", "licence_no"):
            secrets[f"{field} of {party['name'][:1]}"] = party[field]
    log = server.log()
    assert "SMS" in log and case_id in log  # the log was captured and speaks of the case
    leaked = [what for what, value in secrets.items() if value in log]
    assert leaked == [], f"in the log: {leaked}"


async def test_the_first_admin_password_is_only_in_its_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from kuaichu.accounts.first_account import ensure_first_account
    from kuaichu.accounts.service import Accounts
    from kuaichu.settings import Settings
    from kuaichu.storage.db import Database, create_schema, make_engine

    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings.database)
    try:
        await create_schema(engine)
        with caplog.at_level(logging.INFO):
            await ensure_first_account(Accounts(Database(engine), 3600), settings.data_dir)
    finally:
        await engine.dispose()
    path = tmp_path / "initial-admin-password.txt"
    password = re.search(r"password: (\S+)", path.read_text()).group(1)  # type: ignore[union-attr]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password not in caplog.text
    assert str(path) in caplog.text


def _modes(root: Path) -> dict[str, int]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


async def test_every_data_file_is_owner_only_after_a_call(
    process_server: Any,
) -> None:
    server = process_server
    driver, officer, ack = await report_and_answer(server, PARTY_A["phone"])
    try:
        # The party's page is opened through the command line's server: no access log line
        # (nor any other) carries the link's token.
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + ack["progress_url"] + "/status") as resp:
                assert resp.status == 200
        # Media has flowed (a recording is written) before the hang-up.
        await officer.wait_for(lambda: officer.frames("video") > 30, 20)
        await officer.hangup(ack["call_id"])
        await server.wait_recording(ack["call_id"])
    finally:
        await driver.close()
        await officer.close()
    token = ack["progress_url"].rsplit("/", 1)[-1]
    assert token not in server.log() and ack["resume_token"] not in server.log()
    modes = _modes(server.data_dir)
    # The subprocess's stdout log is the test harness's file, not the server's.
    modes = {p: m for p, m in modes.items() if not re.fullmatch(r"server-\d+\.log", p)}
    assert any(p.endswith(".sqlite3") for p in modes)
    assert any(p.startswith("recordings/") and not (server.data_dir / p).is_dir() for p in modes)
    assert any("key" in p for p in modes)
    loose = {
        p: oct(m)
        for p, m in modes.items()
        if m != (0o700 if (server.data_dir / p).is_dir() else 0o600)
    }
    assert loose == {}
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
