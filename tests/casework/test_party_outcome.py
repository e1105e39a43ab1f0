"""The progress page's view of the determination (issue 12): the party's own outcome, and
whether the document shown replaced an earlier version."""

from __future__ import annotations

from datetime import datetime, timedelta

from kuaichu.casework import PartyLink
from kuaichu.casework.views import own_liability
from tests.casework.seed import CST, Bench, case_id, insert_cases
from tests.casework.test_service import determined_trail

CONTENT = {
    "parties": [
        {"key": "A", "name": "李明", "liability": "major"},
        {"key": "B", "name": "王芳", "liability": "minor"},
    ]
}


async def test_a_second_version_says_what_it_replaces_and_each_party_reads_their_outcome(
    bench: Bench,
) -> None:
    at = datetime.now(CST) - timedelta(minutes=5)
    await insert_cases(bench.engine, {case_id(1): determined_trail(at)})
    first = {"parties": [dict(p, liability="full" if p["key"] == "A" else "none")
                         for p in CONTENT["parties"]]}  # fmt: skip
    async with bench.engine.begin() as conn:
        await bench.store.add_determination(
            conn, case_id(1), "N1", 1, "CODE2345", at.timestamp(), "officer:7", first, None, None
        )
    view = (await bench.work.party_view(PartyLink(case_id(1), "A")))["determination"]
    assert (view["version"], view["replaces"], view["liability"]) == (1, None, "full")

    async with bench.engine.begin() as conn:
        await bench.store.add_determination(
            conn, case_id(1), "N1", 2, "CODE6789", at.timestamp() + 60, "officer:7", CONTENT,
            None, None,
        )  # fmt: skip
    a = (await bench.work.party_view(PartyLink(case_id(1), "A")))["determination"]
    b = (await bench.work.party_view(PartyLink(case_id(1), "B")))["determination"]
    assert (a["version"], a["replaces"], a["liability"]) == (2, 1, "major")
    assert (b["version"], b["replaces"], b["liability"]) == (2, 1, "minor")


def test_own_liability_reads_only_a_well_formed_entry() -> None:
    assert own_liability(CONTENT, "B") == "minor"
    assert own_liability(CONTENT, "C") is None
    assert own_liability({"parties": [{"key": "A", "liability": 3}]}, "A") is None
    assert own_liability({}, "A") is None
