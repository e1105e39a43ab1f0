"""``registry`` commands through run() with parsed arguments, on a real database file."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kuaichu.verification import LocalRegistry, make_registry_app
from kuaichu.verification.commands import add_parser, run
from kuaichu.verification.demo import generate_demo

TODAY = "2025-06-01"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kuaichu")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return parser.parse_args(["registry", *argv])


@pytest.fixture(autouse=True)
def no_configured_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUAICHU_REGISTRY_URL", raising=False)
    monkeypatch.delenv("KUAICHU_REGISTRY_TOKEN", raising=False)


async def test_demo_then_check(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(parse("demo", "--count", "200", "--seed", "4", "--today", TODAY), db_url) == 0
    out, err = capsys.readouterr()
    assert "loaded 200 licences, 200 vehicles" in out
    assert "writing licences 200/200 rows (100%)" in err  # the progress bar, on stderr
    demo = generate_demo(200, 4, date(2025, 6, 1))
    good = demo.samples["valid"]
    assert f"--plate {good.plate} --licence {good.licence_no} --name {good.name}" in out

    args = ["check", "--plate", str(good.plate), "--licence", str(good.licence_no)]
    assert await run(parse(*args, "--name", str(good.name), "--date", TODAY), db_url) == 0
    out, _ = capsys.readouterr()
    assert "all valid" in out and "licence    valid" in out

    lapsed = demo.samples["policy_lapsed"]
    args = ["check", "--plate", str(lapsed.plate), "--licence", str(lapsed.licence_no)]
    assert await run(parse(*args, "--date", TODAY), db_url) == 3
    out, _ = capsys.readouterr()
    assert "insurance  invalid (policy_lapsed)" in out
    assert "needs the officer's decision: insurance" in out

    assert await run(parse("check", "--plate", "京A·00000", "--json", "--date", TODAY), db_url) == 3
    body = json.loads(capsys.readouterr().out)
    assert [i["reason"] for i in body["items"]] == [
        "missing_input",
        "not_registered",
        "not_registered",
    ]


async def test_demo_csv_then_import(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_dir = tmp_path / "csv"
    args = parse(
        "demo", "--count", "50", "--seed", "1", "--today", TODAY, "--csv-dir", str(csv_dir)
    )
    assert await run(args, db_url) == 0
    out, _ = capsys.readouterr()
    assert str(csv_dir / "policies.csv") in out
    for kind in ("licences", "vehicles", "policies"):
        assert await run(parse("import", kind, str(csv_dir / f"{kind}.csv")), db_url) == 0
        out, err = capsys.readouterr()
        assert out.startswith("imported ") and " new, 0 updated" in out
        assert f"{kind} {kind}.csv: writing" in err
    assert await run(parse("import", "licences", str(csv_dir / "licences.csv")), db_url) == 0
    assert "0 new, 50 updated" in capsys.readouterr().out


async def test_bad_file_is_one_line_and_exit_1(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "vehicles.csv"
    bad.write_text("plate,colour\n京A·12345,blue\n", encoding="utf-8")
    assert await run(parse("import", "vehicles", str(bad)), db_url) == 1
    _, err = capsys.readouterr()
    assert err.splitlines()[0].startswith("error: vehicles.csv line 1: missing column(s) ")
    assert await run(parse("import", "vehicles", str(tmp_path / "missing.csv")), db_url) == 1
    _, err = capsys.readouterr()
    assert err.strip() == (
        "error: missing.csv: cannot read the file: No such file or directory; nothing was imported"
    )


async def test_check_through_an_upstream(
    local: LocalRegistry, serve: Any, db_url: str, people: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    base = await serve(make_registry_app(local, "tok"))
    args = ["check", "--plate", "京A·12345", "--licence", people.ok, "--date", TODAY]
    assert await run(parse(*args, "--upstream", base, "--token", "tok"), db_url) == 0
    assert "registry check for 2025-06-01 (upstream)" in capsys.readouterr().out
    assert await run(parse(*args, "--upstream", base, "--token", "bad"), db_url) == 3
    out = capsys.readouterr().out
    assert "licence    unavailable (upstream_error)" in out


async def test_serve_answers_until_cancelled(local: LocalRegistry, db_url: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    task = asyncio.create_task(run(parse("serve", "--bind", f"127.0.0.1:{port}"), db_url))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.post(
                        f"http://127.0.0.1:{port}/verify",
                        json={"plate": "沪A·S0001", "accident_date": TODAY},
                    ) as resp:
                        body = await resp.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("registry serve did not come up")
        assert [i["reason"] for i in body["items"]] == ["missing_input", "stolen", None]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_bad_rows_are_listed_under_the_error_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "policy_no,plate,insurer,kind,valid_from,valid_until"
    bad = [f"P{i:04d},京A·1234,人保,compulsory,2025-01-01,2025-12-31" for i in range(12)]
    path = tmp_path / "policies.csv"
    path.write_text("\n".join([header, *bad]) + "\n", encoding="utf-8")
    assert await run(parse("import", "policies", str(path)), db_url) == 1
    err = capsys.readouterr().err.splitlines()
    lines = err[next(n for n, line in enumerate(err) if line.startswith("error:")) :]
    assert lines[0].startswith("error: policies.csv line 2, plate: invalid plate")
    assert lines[0].endswith("(and 11 more); nothing was imported")
    assert lines[1].startswith("  line 3, plate: ") and lines[10].startswith("  line 12, plate")
    assert lines[11:] == ["  ... 1 more"]
