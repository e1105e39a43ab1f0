"""The identity index (kuaichu.storage.caseindex): it says what the forms say after every kind
of form write (a save, a party's correction, a link of two reports), and migration 10 fills it
from an older database's forms and trails; the insurer scope, the API's change feed and the
fraud signals then answer from it as they did from the forms."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.accounts.model import Officer, Role
from kuaichu.api.keys import ApiKey
from kuaichu.api.service import OpenApi
from kuaichu.cases.form import CaseForm
from kuaichu.cases.states import AuditEntry, CaseEvent, apply
from kuaichu.evidence.ledger import Ledger
from kuaichu.evidence.signing import ServerKey
from kuaichu.fraud.rules import Policy
from kuaichu.fraud.service import FraudSignals
from kuaichu.insurers import InsurerScope, NotYourCase, load_insurers
from kuaichu.storage.casefiles import CaseStore
from kuaichu.storage.caseindex import index_rows
from kuaichu.storage.db import Database, create_schema, make_engine
from kuaichu.storage.tables import (
    case_audit,
    case_changes,
    case_files,
    case_index,
    metadata,
    schema_version,
)
from tests.api.cases import id_number
from tests.casework.conftest import bench  # noqa: F401  (the CaseWork bench fixture)
from tests.casework.seed import CST, Bench, case_id, insert_cases, notified_trail

DIRECTORY = load_insurers("")
PICC, PINGAN, CPIC = (DIRECTORY.require(c) for c in ("picc", "pingan", "cpic"))
CHIEF = Officer(id=7, username="chief", display_name="Chief", role=Role.SUPERVISOR)
ID_A, ID_B, ID_C = (id_number(f"2301031990010{n}00{n}") for n in (1, 2, 3))


def person(key: str, plate: str, insurer: str, licence: str, phone: str) -> dict[str, Any]:
    return {
        "key": key,
        "reporter": key == "A",
        "name": "甲乙丙"["ABC".index(key)],
        "phone": phone,
        "licence_no": licence,
        "plate": plate,
        "vehicle_type": "small_car",
        "insurer": insurer,
    }


async def indexed(engine: AsyncEngine, case: str) -> set[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(case_index.c.kind, case_index.c.value, case_index.c.party).where(
                case_index.c.case_id == case
            )
        )
        return {(r[0], r[1], r[2]) for r in rows}


async def of_form(work: Bench, case: str) -> set[tuple[str, str, str]]:
    """What the index should hold for the case's stored form, as the stored form says it."""
    form = (await work.store.form(case)).form
    return {(r["kind"], r["value"], r["party"]) for r in index_rows(case, form)}


async def refusal(scope: InsurerScope, insurer: Any, case: str) -> str:
    with pytest.raises(NotYourCase) as refused:
        await scope.require(insurer, case)
    return str(refused.value.detail["reason"])


def live_trail(at: datetime, answered: bool) -> list[AuditEntry]:
    out = [apply([], CaseEvent.REPORT, "driver", at, zone=CST)]
    out.append(apply(out, CaseEvent.QUEUE, "system", at, zone=CST))
    if answered:
        out.append(apply(out, CaseEvent.ANSWER, "officer:7", at, zone=CST))
    return out


async def test_the_index_follows_saves_party_corrections_and_a_link(bench: Bench) -> None:  # noqa: F811
    w, q = case_id(1), case_id(2)
    now = datetime.now(CST)
    await insert_cases(bench.engine, {w: live_trail(now, True), q: live_trail(now, False)})
    scope = InsurerScope(bench.engine)
    work = bench.work

    # The officer's first save: two parties, the place and the time.
    a = person("A", "京A·12345", "中国人保财险", ID_A, "13800000001")
    b = person("B", "京B·67890", "平安产险", ID_B, "13900000002")
    await work.save_form(
        CHIEF,
        w,
        0,
        {"parties": [a, b], "lat": 45.75, "lng": 126.65, "occurred_at": now.isoformat()},
    )
    rows = await indexed(bench.engine, w)
    assert rows == await of_form(bench, w)
    assert {
        ("plate", "京A12345", "A"),
        ("id", ID_A, "A"),
        ("tel", "13900000002", "B"),
        ("place", "45.75,126.65", ""),
    } <= rows
    # The scope finds the policyholders through the index: too early, but theirs.
    assert await refusal(scope, PICC, w) == "liability_not_set"
    assert await refusal(scope, PINGAN, w) == "liability_not_set"
    assert await refusal(scope, CPIC, w) == "not_policyholder"

    # B corrected: another insurer, plate and phone. The old values leave the index at once.
    b2 = {**b, "insurer": "太平洋产险", "plate": "京B·55555", "phone": "13900000009"}
    await work.save_form(CHIEF, w, 1, {"parties": [a, b2], "lat": 45.75, "lng": 126.65})
    rows = await indexed(bench.engine, w)
    assert rows == await of_form(bench, w)
    assert ("plate", "京B55555", "B") in rows and ("plate", "京B67890", "B") not in rows
    assert ("tel", "13900000002", "B") not in rows
    assert await refusal(scope, PINGAN, w) == "not_policyholder"
    assert await refusal(scope, CPIC, w) == "liability_not_set"

    # The second report of the same accident, by a third driver, linked into the first: its
    # party joins w's form (and index) as C; q's own form, and index, stay as they were.
    c = person("A", "京C·24680", "国寿财险", ID_C, "13700000003")
    await work.save_form(CHIEF, q, 0, {"parties": [c]})
    before_q = await indexed(bench.engine, q)
    assert before_q == await of_form(bench, q) and ("id", ID_C, "A") in before_q
    await work.link(CHIEF, w, q)
    rows = await indexed(bench.engine, w)
    assert rows == await of_form(bench, w)
    assert {("plate", "京C24680", "C"), ("id", ID_C, "C"), ("tel", "13700000003", "C")} <= rows
    assert await indexed(bench.engine, q) == before_q == await of_form(bench, q)

    # Each case's last change is its last trail entry (the link's, for both).
    async with bench.engine.connect() as conn:
        changed: dict[str, float] = {r[0]: r[1] for r in await conn.execute(select(case_changes))}
    for case in (w, q):
        trail = await bench.db.case_trail(case)
        assert changed[case] == trail[-1].when.timestamp()


def _form(parties: list[dict[str, Any]], at: datetime) -> str:
    return json.dumps(
        {
            "occurred_at": at.isoformat(),
            "lat": 45.75,
            "lng": 126.65,
            "parties": [{**p, "liability": "full" if p["key"] == "A" else "none"} for p in parties],
        },
        ensure_ascii=False,
    )


async def test_migration_10_indexes_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "v8.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    now = datetime.now(CST)
    first, repeat, broken, other = (case_id(n) for n in (11, 12, 13, 14))
    # A database as version 8 left it: every table but the index's two, stamped 2..8.
    async with engine.begin() as conn:
        older = [t for t in metadata.sorted_tables if t.name not in {"case_index", "case_changes"}]
        await conn.run_sync(lambda c: metadata.create_all(c, tables=older))
        await conn.execute(
            insert(schema_version), [{"version": v, "applied_at": time.time()} for v in range(2, 9)]
        )
    await insert_cases(
        engine,
        {
            first: notified_trail(now - timedelta(days=3)),
            repeat: notified_trail(now - timedelta(days=2)),
            broken: notified_trail(now - timedelta(days=1)),
            other: notified_trail(now - timedelta(hours=5)),
        },
    )
    a = person("A", "京A·12345", "中国人民财产保险股份有限公司", ID_A, "13800000001")
    b = person("B", "京B·67890", "平安产险", ID_B, "13900000002")
    stranger = person("A", "京D·11111", "太平洋产险", ID_C, "13700000003")
    forms = {
        first: _form([a, b], now - timedelta(days=3)),
        repeat: _form([{**a, "phone": "13800000007"}, {**b, "key": "B"}], now),
        broken: "{not json",
        other: _form([stranger], now),
    }
    async with engine.begin() as conn:
        await conn.execute(
            insert(case_files),
            [
                {"case_id": c, "revision": 1, "data": d, "updated_at": 0.0, "updated_by": "t"}
                for c, d in forms.items()
            ],
        )
        # An insurer read the first case after its last change: a read, not a change.
        last = (await conn.execute(select(case_audit.c.seq, case_audit.c.when).where(
            case_audit.c.case_id == first).order_by(case_audit.c.seq.desc()))).first()
        assert last is not None
        read_at = (datetime.fromisoformat(last[1]) + timedelta(hours=1)).isoformat()
        await conn.execute(
            insert(case_audit).values(
                case_id=first, seq=last[0] + 1, who="api:picc:1", when=read_at,
                what="api_read", from_state="notified", to_state="notified", detail="{}",
            )
        )

    await create_schema(engine)  # migration 10 (and any other not yet applied)

    store = CaseStore(engine)
    async with engine.connect() as conn:
        stamped = {r[0] for r in await conn.execute(select(schema_version.c.version))}
        rows: dict[str, set[tuple[str, str, str]]] = {}
        for r in await conn.execute(select(case_index)):
            rows.setdefault(r.case_id, set()).add((r.kind, r.value, r.party))
        changed: dict[str, float] = {r[0]: r[1] for r in await conn.execute(select(case_changes))}
    assert 10 in stamped
    for case in (first, repeat, other):
        form = CaseForm.parse(json.loads(forms[case]))
        assert rows[case] == {(r["kind"], r["value"], r["party"]) for r in index_rows(case, form)}
    assert broken not in rows  # a form that does not parse is hidden, as before the index
    assert ("insurer", "中国人民财产保险", "A") in rows[first]  # the company suffix dropped
    assert changed[first] == datetime.fromisoformat(last[1]).timestamp()  # not the read's
    assert set(changed) == {first, repeat, broken, other}
    assert (await store.form(first)).revision == 1

    # What users see, answered from the backfilled index.
    scope = InsurerScope(engine)
    assert [(c.case_id, c.parties) for c in await scope.cases(PICC)] == [
        (repeat, ("A",)),
        (first, ("A",)),
    ]
    assert [c.case_id for c in await scope.cases(CPIC)] == [other]
    fraud = FraudSignals(engine, Policy(window_days=90))
    codes = {f["code"] for f in await fraud.flags(repeat)}
    assert {"repeat_plate", "repeat_person", "repeat_pair"} <= codes
    assert await fraud.flags(other) == []
    assert [c["case_id"] for c in await fraud.flagged(30)] == [repeat, first]
    api = OpenApi(
        engine,
        Database(engine),
        store,
        scope,
        DIRECTORY,
        Ledger(tmp_path, ServerKey.load_or_create(tmp_path)),
        fraud,
        claims=None,  # type: ignore[arg-type]
        recordings_dir=tmp_path,
        zone=CST,
    )
    key = ApiKey(1, "picc", "", time.time(), None, None)
    walked, cursor = [], None
    while True:  # the feed one case a page, by cursor: oldest change first, each case once
        page = await api.changes(key, cursor, 1)
        walked += [(c["case_id"], c["policyholders"]) for c in page["cases"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert walked == [(first, ["A"]), (repeat, ["A"])]
    assert (await api.changes(key, cursor, 5))["cases"] == []  # polled with the last cursor
    await engine.dispose()
