"""The local registry's verdicts on a real SQLite file: one party per reason."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.verification import (
    Item,
    ItemStatus,
    LocalRegistry,
    PartyFacts,
    Registry,
    VerificationResult,
)

VALID, INVALID = ItemStatus.VALID, ItemStatus.INVALID
NOT_FOUND, UNAVAILABLE = ItemStatus.NOT_FOUND, ItemStatus.UNAVAILABLE


def verdicts(result: VerificationResult) -> dict[str, tuple[str, str | None]]:
    return {r.item.value: (r.status.value, r.reason) for r in result.items}


async def check(
    registry: Registry, licence: str | None, plate: str | None, **kw: Any
) -> VerificationResult:
    on = kw.pop("on", date(2025, 6, 1))
    return await registry.verify(PartyFacts(kw.pop("name", None), licence, plate, on))


async def test_everything_valid(local: LocalRegistry, people: Any) -> None:
    result = await check(local, people.ok, "京A·12345", name="张三")
    assert verdicts(result) == {
        "licence": ("valid", None),
        "vehicle": ("valid", None),
        "insurance": ("valid", None),
    }
    assert result.needs_decision == ()
    assert [r.item for r in result.items] == [Item.LICENCE, Item.VEHICLE, Item.INSURANCE]
    assert {r.source for r in result.items} == {"local"}
    assert result.checked_at.tzinfo is not None
    lic, veh, ins = result.items
    assert lic.detail["licence_class"] == "C1" and lic.detail["valid_until"] == "2030-01-01"
    assert (
        veh.detail["vehicle_type"] == "小型轿车" and veh.detail["vehicle_type_key"] == "small_car"
    )
    assert veh.detail["plate_colour"] == "blue" and veh.detail["owner_is_party"] is True
    # The form takes insurer and policy number from here: the compulsory policy in force,
    # not last year's and not the commercial one.
    assert ins.detail["insurer"] == "中国人保财险"
    assert ins.detail["policy_no"] == "PDZA202400000001"
    assert ins.detail["kind"] == "compulsory" and ins.detail["valid_until"] == "2025-08-31"


@pytest.mark.parametrize(
    ("who", "plate", "name", "item", "status", "reason"),
    [
        ("ok", "京A·12345", "李四", "licence", INVALID, "name_mismatch"),
        ("expired", "京A·12345", "李四", "licence", INVALID, "expired"),
        ("suspended", "京A·12345", "王五", "licence", INVALID, "suspended"),
        ("revoked", "京A·12345", "赵六", "licence", INVALID, "revoked"),
        ("future", "京A·12345", "孙七", "licence", INVALID, "not_yet_valid"),
        ("c1_trucker", "渝A·T0001", "周八", "licence", INVALID, "class_mismatch"),
        ("ok", "京A·99999", "张三", "vehicle", NOT_FOUND, "not_registered"),
        ("ok", "沪A·S0001", "张三", "vehicle", INVALID, "stolen"),
        ("ok", "沪A·S0002", "张三", "vehicle", INVALID, "scrapped"),
        ("ok", "沪A·S0003", "张三", "vehicle", INVALID, "seized"),
        ("ok", "沪A·S0004", "张三", "vehicle", INVALID, "inspection_overdue"),
        ("ok", "沪A·L0001", "张三", "insurance", INVALID, "policy_lapsed"),
        ("ok", "沪A·N0001", "张三", "insurance", INVALID, "no_policy"),
        ("ok", "沪A·F0001", "张三", "insurance", INVALID, "policy_not_yet_valid"),
        ("ok", "京A·99999", "张三", "insurance", NOT_FOUND, "not_registered"),
    ],
)
async def test_each_reason(
    local: LocalRegistry,
    people: Any,
    who: str,
    plate: str,
    name: str,
    item: str,
    status: ItemStatus,
    reason: str,
) -> None:
    result = await check(local, getattr(people, who), plate, name=name)
    got = verdicts(result)
    assert got[item] == (status.value, reason)
    # Every other item of these parties is fine: one problem, one decision (an unknown plate
    # is both an unknown vehicle and an unknown policy holder).
    expected = (Item.VEHICLE, Item.INSURANCE) if plate == "京A·99999" else (Item(item),)
    assert result.needs_decision == expected


async def test_unknown_licence(local: LocalRegistry) -> None:
    from kuaichu.verification.demo import id_check_char

    unknown = "11010519990101999" + id_check_char("11010519990101999")
    result = await check(local, unknown, "京A·12345", name="张三")
    assert verdicts(result)["licence"] == ("not_found", "not_registered")


async def test_dates_are_inclusive(local: LocalRegistry, people: Any) -> None:
    # The licence ends on 31 May, the inspection on 31 May, the policy on 1 June (24:00).
    on_last_day = await check(local, people.expired, "沪A·S0004", on=date(2025, 5, 31))
    assert verdicts(on_last_day)["licence"] == ("valid", None)
    assert verdicts(on_last_day)["vehicle"] == ("valid", None)
    green = await check(local, people.long_term, "粤B·D12345", name="欧阳娜")
    assert verdicts(green)["insurance"] == ("valid", None)
    after = await check(local, people.long_term, "粤B·D12345", on=date(2025, 6, 2))
    assert verdicts(after)["insurance"] == ("invalid", "policy_lapsed")
    assert after.get(Item.INSURANCE).detail["days_lapsed"] == 1


async def test_lapsed_policy_names_the_last_one(local: LocalRegistry, people: Any) -> None:
    result = await check(local, people.ok, "沪A·L0001")
    detail = result.get(Item.INSURANCE).detail
    assert detail["policy_no"] == "PDZA202400000004"
    assert detail["valid_until"] == "2025-05-01" and detail["days_lapsed"] == 31


async def test_long_term_licence_and_heavy_class(local: LocalRegistry, people: Any) -> None:
    result = await check(local, people.long_term, "粤B·D12345", name="欧阳娜")
    assert verdicts(result)["licence"] == ("valid", None)
    assert result.get(Item.LICENCE).detail["valid_until"] is None
    assert result.get(Item.VEHICLE).detail["plate_colour"] == "green"
    truck = await check(local, people.a2_trucker, "渝A·T0001", name="吴九")
    assert truck.needs_decision == ()
    assert truck.get(Item.VEHICLE).detail["owner_is_party"] is False


async def test_inputs_are_read_leniently(local: LocalRegistry, people: Any) -> None:
    # Spaces inside a name, a plate without the dot and in lower case, a lower-case x.
    result = await check(local, " " + people.ok.lower() + " ", "京a 12345", name=" 张 三 ")
    assert result.needs_decision == ()
    full_width_space = await check(local, people.long_term, "粤BD12345", name="欧阳\u3000娜")
    assert verdicts(full_width_space)["licence"] == ("valid", None)


async def test_missing_and_malformed_inputs(local: LocalRegistry, people: Any) -> None:
    nothing = await check(local, None, None, name="张三")
    assert {r.status for r in nothing.items} == {NOT_FOUND}
    assert {r.reason for r in nothing.items} == {"missing_input"}
    blank = await check(local, "  ", " ", name=None)
    assert {r.reason for r in blank.items} == {"missing_input"}
    bad = await check(local, people.ok[:-1] + "0", "京A·1234", name="张三")
    assert verdicts(bad) == {
        "licence": ("not_found", "invalid_input"),
        "vehicle": ("not_found", "invalid_input"),
        "insurance": ("not_found", "invalid_input"),
    }
    # Without a name the licence is judged on its number alone, and says so.
    no_name = await check(local, people.ok, "京A·12345")
    assert no_name.needs_decision == ()
    assert no_name.get(Item.LICENCE).detail["name_checked"] is False
    assert no_name.get(Item.VEHICLE).detail["owner_is_party"] is None


async def test_registry_failure_is_unavailable_not_an_exception(
    local: LocalRegistry, engine: AsyncEngine, people: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE registry_policies"))
    with caplog.at_level(logging.ERROR):
        result = await check(local, people.ok, "京A·12345", name="张三")
    assert {r.status for r in result.items} == {UNAVAILABLE}
    assert {r.reason for r in result.items} == {"upstream_error"}
    assert result.needs_decision == (Item.LICENCE, Item.VEHICLE, Item.INSURANCE)
    logged = caplog.text
    assert "registry lookup failed" in logged
    assert people.ok not in logged and "京A" not in logged and "张三" not in logged


async def test_schema_is_idempotent_and_separate(local: LocalRegistry, engine: AsyncEngine) -> None:
    await local.ensure_schema()
    counts = await local.counts()
    assert counts == {"licences": 8, "vehicles": 10, "policies": 12}
    async with engine.connect() as conn:
        names = {
            r[0]
            for r in await conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        }
    assert names == {"registry_licences", "registry_vehicles", "registry_policies"}


async def test_clock_is_injectable(engine: AsyncEngine, people: Any) -> None:
    at = datetime(2025, 6, 1, 2, 0, tzinfo=UTC) + timedelta(minutes=5)
    registry = LocalRegistry(engine, clock=lambda: at)
    await registry.ensure_schema()
    result = await check(registry, people.ok, "京A·12345")
    assert result.checked_at == at
    # An empty registry knows nobody.
    assert verdicts(result)["licence"] == ("not_found", "not_registered")
    assert isinstance(registry, Registry)
