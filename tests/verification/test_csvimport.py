"""CSV import: real files into a real SQLite database, all or nothing, upsert on re-import."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.verification import Item, LocalRegistry, PartyFacts
from kuaichu.verification.csvimport import (
    ProgressBar,
    RegistryImportError,
    import_csv,
    write_csv,
)
from kuaichu.verification.demo import id_check_char

ID_A = "11010519900101123" + id_check_char("11010519900101123")
ID_B = "44030519880303345" + id_check_char("44030519880303345")
LICENCE_HEADER = "licence_no,name,licence_class,first_issued,valid_from,valid_until,status"
VEHICLE_HEADER = (
    "plate,plate_colour,vehicle_type,brand_model,body_colour,owner_name,vin,registered_on,"
    "inspection_valid_until,status"
)
POLICY_HEADER = "policy_no,plate,insurer,kind,valid_from,valid_until"


def write(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


async def rows(engine: AsyncEngine, table: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        result = await conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
        return [tuple(r)[:-1] for r in result]  # without updated_at


async def test_import_literal_files_and_verify(engine: AsyncEngine, tmp_path: Path) -> None:
    lic = write(
        tmp_path / "licences.csv",
        "\ufeff" + LICENCE_HEADER,  # Excel's "CSV UTF-8" starts with a byte-order mark
        f"{ID_A},张三,C1,2010-01-01,2016-01-01,长期,normal",
        "",  # blank lines are skipped
        f"{ID_B.lower()}, 王五 ,a2d,2012-05-01,2018-05-01,2028-05-01,SUSPENDED",
    )
    veh = write(
        tmp_path / "vehicles.csv",
        # Columns in any order.
        "status,plate,plate_colour,vehicle_type,brand_model,body_colour,owner_name,vin,"
        "registered_on,inspection_valid_until",
        "normal,京a 12345,blue,小型轿车,大众牌SVW7152,白,张三,lsvab2180e2123456,2018-03-01,"
        "2026-03-31",
        'normal,粤B·D12345,green,小型轿车,"比亚迪牌BYD7006BEV",黑,张三,LGXCE4CB5N0123456,'
        "2022-06-01,2026-06-30",
    )
    pol = write(
        tmp_path / "policies.csv",
        POLICY_HEADER,
        "PDZA202400000001,京A12345,中国人保财险,compulsory,2024-09-01,2025-08-31",
        "pa2024000001,粤B·D12345,平安产险,commercial,2024-06-01,2025-05-31",
    )
    r1 = await import_csv(engine, "licences", lic)
    r2 = await import_csv(engine, "vehicles", veh)
    r3 = await import_csv(engine, "policies", pol)
    assert (r1.rows, r1.added, r1.updated) == (2, 2, 0)
    assert (r2.rows, r3.rows) == (2, 2)
    assert await rows(engine, "registry_licences") == [
        (ID_A, "张三", "C1", "2010-01-01", "2016-01-01", None, "normal"),
        (ID_B, "王五", "A2D", "2012-05-01", "2018-05-01", "2028-05-01", "suspended"),
    ]
    vehicles = await rows(engine, "registry_vehicles")
    assert [v[0] for v in vehicles] == ["京A·12345", "粤B·D12345"]
    assert vehicles[0][6] == "LSVAB2180E2123456"
    assert [p[:2] for p in await rows(engine, "registry_policies")] == [
        ("PA2024000001", "粤B·D12345"),
        ("PDZA202400000001", "京A·12345"),
    ]
    registry = LocalRegistry(engine)
    result = await registry.verify(PartyFacts("张三", ID_A, "京A·12345", date(2025, 6, 1)))
    assert result.needs_decision == ()
    green = await registry.verify(PartyFacts("张三", ID_A, "粤B·D12345", date(2025, 6, 1)))
    # Only a commercial policy was imported for the green car: no 交强险.
    assert green.get(Item.INSURANCE).reason == "no_policy"


async def test_bad_rows_are_all_reported_and_nothing_changes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    good = write(
        tmp_path / "good.csv", LICENCE_HEADER, f"{ID_A},张三,C1,2010-01-01,2016-01-01,,normal"
    )
    await import_csv(engine, "licences", good)
    before = await rows(engine, "registry_licences")
    bad = write(
        tmp_path / "licences.csv",
        LICENCE_HEADER,
        f"{ID_A},张三,C1,2010-01-01,2016-01-01,2026-01-01,revoked",  # would change a row
        f"{ID_A[:-1]}{'0' if ID_A[-1] != '0' else '1'},李四,C1,2010-01-01,2016-01-01,,normal",
        f"{ID_B},王五,Z9,2010-01-01,2016-01-01,,normal",
        f"{ID_B},王五,C1,2010/01/01,2016-01-01,,normal",
        f"{ID_B},王五,C1,2010-01-01,2016-01-01,2015-01-01,normal",
        f"{ID_B},,C1,2010-01-01,2016-01-01,,normal",
        f"{ID_B},王五,C1,2010-01-01,2016-01-01,,lost",
        f"{ID_B},王五,C1,2010-01-01",
        f"{ID_B},王五,C1,2010-01-01,2016-01-01,,normal",  # good
        f"{ID_B},王五,C1,2010-01-01,2016-01-01,,normal",  # a repeat of line 10
    )
    with pytest.raises(RegistryImportError) as info:
        await import_csv(engine, "licences", bad)
    problems = [(p.line, p.column) for p in info.value.problems]
    assert problems == [
        (3, "licence_no"),
        (4, "licence_class"),
        (5, "first_issued"),
        (6, "valid_until"),
        (7, "name"),
        (8, "status"),
        (9, None),
        (11, "licence_no"),
    ]
    err = info.value
    assert err.code == "registry_import_invalid"
    assert err.message.startswith("licences.csv line 3, licence_no: ")
    assert err.message.endswith("(and 7 more); nothing was imported")
    assert err.detail["error_count"] == 8
    assert "repeats line 10" in err.detail["errors"][-1]["message"]
    assert "2010/01/01" in err.detail["errors"][2]["message"]
    assert await rows(engine, "registry_licences") == before


@pytest.mark.parametrize(
    ("kind", "header", "expected"),
    [
        ("licences", LICENCE_HEADER.replace(",status", ""), "missing column(s) status"),
        ("licences", LICENCE_HEADER + ",phone", "unknown column(s) 'phone'"),
        ("licences", LICENCE_HEADER + ",name", "repeated column(s) name"),
        ("vehicles", LICENCE_HEADER, "missing column(s) plate, plate_colour"),
        ("policies", "", "missing column(s) policy_no"),
    ],
)
async def test_header_is_checked_strictly(
    engine: AsyncEngine, tmp_path: Path, kind: str, header: str, expected: str
) -> None:
    path = write(tmp_path / f"{kind}.csv", header)
    with pytest.raises(RegistryImportError) as info:
        await import_csv(engine, kind, path)
    assert info.value.problems[0].line == 1
    assert expected in info.value.message


async def test_cross_field_rules(engine: AsyncEngine, tmp_path: Path) -> None:
    vin = "LSVAB2180E2123456"
    veh = write(
        tmp_path / "vehicles.csv",
        VEHICLE_HEADER,
        f"京A·12345,green,小型轿车,大众牌,白,张三,{vin},2018-03-01,2026-03-31,normal",
        f"粤B·D12345,blue,小型轿车,比亚迪牌,白,张三,{vin},2018-03-01,2026-03-31,normal",
        f"京A·1234,blue,小型轿车,大众牌,白,张三,{vin},2018-03-01,2026-03-31,normal",
        "京A·12346,blue,小型轿车,大众牌,白,张三,LSVAB2180E212345O,2018-03-01,2026-03-31,normal",
        f"京A·12347,blue,小型轿车,大众牌,白,张三,{vin},2018-03-01,2017-03-31,normal",
        f"京A·1234学,yellow,小型轿车,大众牌,白,张三,{vin},2018-03-01,2026-03-31,normal",
    )
    with pytest.raises(RegistryImportError) as info:
        await import_csv(engine, "vehicles", veh)
    assert [(p.line, p.column) for p in info.value.problems] == [
        (2, "plate_colour"),
        (3, "plate_colour"),
        (4, "plate"),
        (5, "vin"),
        (6, "inspection_valid_until"),
    ]
    assert "ordinary plate cannot be green" in info.value.problems[0].message


async def test_gbk_file_is_refused_with_advice(engine: AsyncEngine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "licences.csv",
        LICENCE_HEADER,
        f"{ID_A},张三,C1,2010-01-01,2016-01-01,,normal",
        encoding="gbk",
    )
    with pytest.raises(RegistryImportError) as info:
        await import_csv(engine, "licences", path)
    assert info.value.problems[0].line == 2
    assert "GBK" in info.value.message and "CSV UTF-8" in info.value.message


async def test_missing_file_and_unknown_kind(engine: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(RegistryImportError) as info:
        await import_csv(engine, "licences", tmp_path / "nope.csv")
    assert "cannot read the file" in info.value.message
    with pytest.raises(Exception, match="unknown registry kind 'people'"):
        await import_csv(engine, "people", tmp_path / "nope.csv")


async def test_reimport_upserts_changed_and_new_rows(
    local: LocalRegistry, engine: AsyncEngine, tmp_path: Path, people: Any
) -> None:
    from kuaichu.verification.records import LicenceStatus

    before = await local.counts()
    async with engine.connect() as conn:
        current = (
            await conn.execute(text("SELECT * FROM registry_licences ORDER BY licence_no"))
        ).mappings()
        records = [dict(r) for r in current]
    # Export what is there, change one licence, add one, and import the whole file again.
    path = tmp_path / "licences.csv"
    from kuaichu.verification.records import LicenceRecord

    exported = [
        LicenceRecord(
            r["licence_no"],
            r["name"],
            r["licence_class"],
            r["first_issued"],
            r["valid_from"],
            r["valid_until"],
            LicenceStatus.REVOKED if r["licence_no"] == people.ok else LicenceStatus(r["status"]),
        )
        for r in records
    ]
    new_no = "11010520010101001" + id_check_char("11010520010101001")
    exported.append(
        LicenceRecord(new_no, "新人", "C2", date(2024, 1, 1), date(2024, 1, 1), date(2030, 1, 1),
                      LicenceStatus.NORMAL)
    )  # fmt: skip
    assert write_csv("licences", exported, path) == before["licences"] + 1
    report = await import_csv(engine, "licences", path)
    assert (report.rows, report.added, report.updated) == (before["licences"] + 1, 1, 8)
    assert (await local.counts())["licences"] == before["licences"] + 1
    result = await local.verify(PartyFacts("张三", people.ok, "京A·12345", date(2025, 6, 1)))
    assert result.get(Item.LICENCE).reason == "revoked"
    # Importing the same file again changes nothing.
    again = await import_csv(engine, "licences", path)
    assert (again.added, again.updated) == (0, before["licences"] + 1)


def test_progress_bar_on_a_pipe_writes_about_ten_lines() -> None:
    out = io.StringIO()
    ticks = iter(range(1000))
    bar = ProgressBar("licences", out, tty=False, clock=lambda: float(next(ticks)))
    total = 100_000
    bar("reading", 0, total)
    for done in range(5000, total + 1, 5000):
        bar("reading", done, total)
    bar("writing", 0, total)
    for done in range(5000, total + 1, 5000):
        bar("writing", done, total)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 20
    assert lines[0] == "licences: reading 10,000/100,000 rows (10%) 5,000 rows/s"
    assert lines[9] == "licences: reading 100,000/100,000 rows (100%) 5,000 rows/s"
    assert lines[-1].startswith("licences: writing 100,000/100,000 rows (100%)")
    assert "\r" not in out.getvalue()


def test_progress_bar_on_a_terminal_rewrites_one_line() -> None:
    out = io.StringIO()
    now = [0.0]
    bar = ProgressBar("vehicles", out, tty=True, clock=lambda: now[0])
    bar("writing", 0, 30)
    for done in (10, 20, 30):
        now[0] += 1.0
        bar("writing", done, 30)
    bar.close()
    text_out = out.getvalue()
    assert text_out.count("\r") == 4 and text_out.count("\n") == 1
    assert text_out.endswith("\rvehicles: writing 30/30 rows (100%) 10 rows/s\x1b[K\n")


async def test_import_reports_progress(engine: AsyncEngine, tmp_path: Path) -> None:
    from kuaichu.verification.demo import generate_demo

    demo = generate_demo(12_000, 3, date(2025, 6, 1))
    path = tmp_path / "licences.csv"
    write_csv("licences", demo.licences, path)
    seen: list[tuple[str, int, int]] = []
    report = await import_csv(engine, "licences", path, lambda *a: seen.append(a))
    assert report.rows == report.added == 12_000
    assert seen[0] == ("reading", 0, 12_000) and ("reading", 12_000, 12_000) in seen
    assert ("writing", 0, 12_000) in seen and seen[-1] == ("writing", 12_000, 12_000)
    assert [d for s, d, _ in seen if s == "writing"] == [0, 5000, 10_000, 12_000]
