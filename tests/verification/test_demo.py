"""The demo registry: realistic shapes, the advertised problem shares, determinism, and the
verdicts it produces once loaded (directly or through its CSVs)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.cases.form import id_number_valid
from kuaichu.cases.plates import PlateKind, parse_plate
from kuaichu.storage.db import make_engine
from kuaichu.verification import Item, ItemStatus, LocalRegistry, PartyFacts
from kuaichu.verification.csvimport import import_csv
from kuaichu.verification.demo import PROBLEMS, generate_demo, id_check_char, vin_check_char
from kuaichu.verification.records import PlateColourCode, PolicyKind, split_classes

TODAY = date(2025, 6, 1)

# The item and reason each demo problem must produce.
EXPECTED = {
    "licence_expired": (Item.LICENCE, "expired"),
    "licence_suspended": (Item.LICENCE, "suspended"),
    "licence_revoked": (Item.LICENCE, "revoked"),
    "class_mismatch": (Item.LICENCE, "class_mismatch"),
    "inspection_overdue": (Item.VEHICLE, "inspection_overdue"),
    "stolen": (Item.VEHICLE, "stolen"),
    "scrapped": (Item.VEHICLE, "scrapped"),
    "seized": (Item.VEHICLE, "seized"),
    "policy_lapsed": (Item.INSURANCE, "policy_lapsed"),
    "no_policy": (Item.INSURANCE, "no_policy"),
}


def test_check_characters_match_published_examples() -> None:
    # GB 11643's worked example, and a VIN from ISO 3779's usual illustration.
    assert id_check_char("11010519491231002") == "X"
    assert vin_check_char("1M8GDM9A0KP042788") == "X"


def test_records_look_real() -> None:
    demo = generate_demo(3000, 11, TODAY)
    assert len(demo.licences) == len(demo.vehicles) == 3000
    assert all(id_number_valid(lic.licence_no) for lic in demo.licences)
    assert len({lic.licence_no for lic in demo.licences}) == 3000
    assert all(split_classes(lic.licence_class) for lic in demo.licences)
    assert all(2 <= len(lic.name) <= 4 for lic in demo.licences)
    kinds: Counter[PlateKind] = Counter()
    for v in demo.vehicles:
        plate = parse_plate(v.plate)
        assert plate.canonical == v.plate
        kinds[plate.kind] += 1
        if v.plate_colour is PlateColourCode.GREEN:
            assert plate.kind is PlateKind.NEW_ENERGY_SMALL and len(plate.serial) == 6
        assert len(v.vin) == 17 and v.vin[8] == vin_check_char(v.vin)
    assert len({v.plate for v in demo.vehicles}) == 3000
    colours = Counter(v.plate_colour for v in demo.vehicles)
    assert colours[PlateColourCode.BLUE] > colours[PlateColourCode.GREEN]
    assert colours[PlateColourCode.GREEN] > colours[PlateColourCode.YELLOW] > 0
    assert len({v.plate[0] for v in demo.vehicles}) >= 10  # several provinces
    insurers = Counter(p.insurer for p in demo.policies if p.kind is PolicyKind.COMPULSORY)
    assert insurers.most_common(1)[0][0] == "中国人保财险"
    assert {"平安产险", "太平洋产险", "国寿财险", "大地保险"} <= set(insurers)
    assert any(p.kind is PolicyKind.COMMERCIAL for p in demo.policies)
    assert len({p.policy_no for p in demo.policies}) == len(demo.policies)
    assert any(lic.valid_until is None for lic in demo.licences)  # 长期


def test_problem_shares() -> None:
    count = 20_000
    demo = generate_demo(count, 5, TODAY)
    shares = Counter(demo.problems.values())
    for problem, share in PROBLEMS.items():
        expected = share * count
        # Binomial: well within five standard deviations, plus the forced one.
        assert abs(shares[problem] - expected) < 5 * (expected**0.5) + 2, problem
    assert set(demo.samples) == {*PROBLEMS, "valid", "green_plate", "yellow_plate"}


def test_every_problem_even_in_a_small_registry() -> None:
    demo = generate_demo(20, 1, TODAY)
    assert set(demo.problems.values()) == set(PROBLEMS)


def test_deterministic_with_a_seed() -> None:
    a = generate_demo(500, 42, TODAY)
    b = generate_demo(500, 42, TODAY)
    c = generate_demo(500, 43, TODAY)
    assert a == b
    assert a.licences != c.licences and a.vehicles != c.vehicles


async def test_verdicts_match_the_assigned_problems(engine: AsyncEngine) -> None:
    demo = generate_demo(400, 9, TODAY)
    await demo.load(engine)
    registry = LocalRegistry(engine)
    for lic, veh in zip(demo.licences, demo.vehicles, strict=True):
        result = await registry.verify(PartyFacts(lic.name, lic.licence_no, veh.plate, TODAY))
        problem = demo.problems.get(lic.licence_no)
        if problem is None:
            assert result.needs_decision == (), (lic, veh)
        else:
            item, reason = EXPECTED[problem]
            assert result.needs_decision == (item,), problem
            assert result.get(item).status is ItemStatus.INVALID
            assert result.get(item).reason == reason
    for label, facts in demo.samples.items():
        result = await registry.verify(facts)
        if label in EXPECTED:
            assert result.get(EXPECTED[label][0]).reason == EXPECTED[label][1]
        else:
            assert result.needs_decision == ()


async def test_csv_round_trip_equals_direct_load(engine: AsyncEngine, tmp_path: Path) -> None:
    demo = generate_demo(300, 2, TODAY)
    await demo.load(engine)
    paths = demo.write_csv(tmp_path / "csv")
    assert sorted(p.name for p in paths.values()) == [
        "licences.csv",
        "policies.csv",
        "vehicles.csv",
    ]
    other = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}")
    try:
        for kind, path in paths.items():
            await import_csv(other, kind, path)
        for table in ("registry_licences", "registry_vehicles", "registry_policies"):
            assert await _dump(other, table) == await _dump(engine, table), table
    finally:
        await other.dispose()


async def _dump(engine: AsyncEngine, table: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
        return [tuple(r)[:-1] for r in rows]  # updated_at differs
