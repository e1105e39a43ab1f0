"""The case's state machine and audit trail in the database, through the real server."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from kuaichu.cases.states import AuditEntry, case_timings, replay
from sim.client import SimDriver, SimOfficer
from tests.support.eventually import eventually


def trail(server: Any, case_id: str) -> list[sqlite3.Row]:
    return server.rows("select * from case_audit where case_id = ? order by seq", case_id)


def officer_id(server: Any, username: str) -> int:
    return int(server.rows("select id from officers where username = ?", username)[0][0])


async def wait_rows(server: Any, case_id: str, n: int, timeout: float = 10) -> list[sqlite3.Row]:
    def enough() -> list[sqlite3.Row] | None:
        rows = trail(server, case_id)
        return rows if len(rows) >= n else None

    return await eventually(
        enough,
        timeout,
        lambda: f"expected {n} audit rows, got {[tuple(r) for r in trail(server, case_id)]}",
    )


async def test_whole_call_leaves_reported_queued_in_call_with_the_officers(
    live_server: Any,
) -> None:
    first = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    name2, password2 = live_server.extra_officers[0]
    second = await SimOfficer(live_server.url, name2, password2).connect()
    driver = await SimDriver(live_server.url).connect()
    try:
        await first.set_available()
        ack = await driver.report(lat=45.7567, lng=126.6424)
        assert ack["ok"], ack
        case_id, call_id = ack["case_id"], ack["call_id"]
        offer = await first.wait_offer()
        assert (await first.decline(call_id))["ok"]
        await second.set_available()
        offer = await second.wait_offer()
        assert offer["call_id"] == call_id
        assert (await second.accept(call_id))["ok"]
        await driver.wait_state("in_call")
        await second.wait_for(lambda: second.frames("video") >= 10, timeout=15)
        assert (await second.hangup(call_id))["ok"]
        await driver.wait_state("ended")
        rows = await wait_rows(live_server, case_id, 5)
    finally:
        for c in (driver, first, second):
            await c.close()

    first_who = f"officer:{officer_id(live_server, live_server.officer_username)}"
    second_who = f"officer:{officer_id(live_server, name2)}"
    assert [(r["seq"], r["what"], r["from_state"], r["to_state"], r["who"]) for r in rows] == [
        (0, "report", None, "reported", "driver"),
        (1, "queue", "reported", "queued", "system"),
        (2, "decline", "queued", "queued", first_who),
        (3, "answer", "queued", "in_call", second_who),
        (4, "hangup", "in_call", "in_call", second_who),
    ]
    assert json.loads(rows[0]["detail"])["eligibility"]["cause"] == "rear_end"
    assert json.loads(rows[3]["detail"]) == {"call_id": call_id, "officer": name2}
    assert json.loads(rows[4]["detail"])["reason"] == "officer_hangup"
    # Times are aware, in China time, and in order.
    whens = [datetime.fromisoformat(r["when"]) for r in rows]
    assert all(w.utcoffset() == timedelta(hours=8) for w in whens)
    assert whens == sorted(whens)
    # The case row is the state machine's current state; after answer it stays in_call
    # until the evidence step exists.
    (case,) = live_server.rows("select status from cases where id = ?", case_id)
    assert case["status"] == "in_call"

    # The stored trail replays through the domain checks, and the report time is there
    # for the two advertised timings.
    entries = [
        AuditEntry.from_dict(
            {
                "who": r["who"],
                "when": r["when"],
                "what": r["what"],
                "from": r["from_state"],
                "to": r["to_state"],
                "detail": json.loads(r["detail"]),
            }
        )
        for r in rows
    ]
    assert replay(entries) == "in_call"
    timings = case_timings(entries)
    assert timings.reported_at == whens[0]
    assert timings.to_information is None and timings.to_determination is None


async def test_hanging_up_while_waiting_abandons_the_case(live_server: Any) -> None:
    driver = await SimDriver(live_server.url).connect()
    try:
        ack = await driver.report()
        assert ack["ok"], ack
        assert (await driver.hangup())["ok"]
        rows = await wait_rows(live_server, ack["case_id"], 3)
    finally:
        await driver.close()
    assert [(r["what"], r["from_state"], r["to_state"], r["who"]) for r in rows] == [
        ("report", None, "reported", "driver"),
        ("queue", "reported", "queued", "system"),
        ("abandon", "queued", "abandoned", "driver"),
    ]
    (case,) = live_server.rows("select status from cases where id = ?", ack["case_id"])
    assert case["status"] == "abandoned"
