"""What the insurers' change feed and the fraud signals cost at a centre's volume, and whether
they hold the event loop.

    .venv/bin/python benchmarks/insurer_api.py [--cases 5000] [--days 90]

Seeds N determined cases (valid trails, complete forms; each insured by one of three insurers,
one vehicle in 50 seen twice) straight into a fresh SQLite database, then times, with a 5 ms
ticker measuring the loop's longest stall meanwhile:
- migration 10's backfill of the identity index (kuaichu.storage.caseindex) from the forms,
- ``OpenApi.changes`` (the feed's first page for one insurer, then every page by cursor),
- ``InsurerScope.cases`` (the insurer console's list),
- ``FraudSignals.flagged(30)`` (the supervisors' list) and ``FraudSignals.flags`` (one case),
each ``--runs`` times; kuaichu.looplag's sampler (GET /api/metrics) runs throughout too.
Figures go to docs/benchmarks.md with the machine's state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from kuaichu.api.keys import ApiKey  # noqa: E402
from kuaichu.api.service import OpenApi  # noqa: E402
from kuaichu.cases.states import AuditEntry, CaseEvent, apply  # noqa: E402
from kuaichu.evidence.ledger import Ledger  # noqa: E402
from kuaichu.evidence.signing import ServerKey  # noqa: E402
from kuaichu.fraud.rules import Policy  # noqa: E402
from kuaichu.fraud.service import FraudSignals  # noqa: E402
from kuaichu.insurers import DEFAULT_INSURERS, InsurerDirectory, InsurerScope  # noqa: E402
from kuaichu.looplag import LoopLag  # noqa: E402
from kuaichu.storage.casefiles import CaseStore  # noqa: E402
from kuaichu.storage.caseindex import backfill  # noqa: E402
from kuaichu.storage.db import Database, create_schema, make_engine  # noqa: E402
from kuaichu.storage.tables import case_audit, case_files, cases  # noqa: E402
from tests.api.cases import id_number  # noqa: E402
from tests.casework.seed import CST, case_id  # noqa: E402

INSURERS = ("中国人保财险", "平安产险", "太平洋产险")


def trail(at: datetime) -> list[AuditEntry]:
    steps: list[tuple[CaseEvent, str, dict[str, Any]]] = [
        (CaseEvent.REPORT, "driver", {}),
        (CaseEvent.QUEUE, "system", {}),
        (CaseEvent.ANSWER, "officer:1", {}),
        (CaseEvent.COLLECT_EVIDENCE, "officer:1", {}),
        (CaseEvent.CLEAR_SCENE, "officer:1", {}),
        (CaseEvent.DETERMINE, "officer:1", {"liabilities": {"A": "full", "B": "none"}}),
    ]
    out: list[AuditEntry] = []
    for i, (event, who, detail) in enumerate(steps):
        out.append(apply(out, event, who, at + timedelta(minutes=i), detail, zone=CST))
    return out


def form(n: int, at: datetime, rng: random.Random) -> dict[str, Any]:
    plate_a = f"黑A·{(n // 2 if n % 50 == 0 else n) % 100000:05d}"
    return {
        "cause": "rear_end",
        "occurred_at": at.isoformat(),
        "address": "哈尔滨市",
        "lat": 45.75 + rng.uniform(-0.005, 0.005),
        "lng": 126.65 + rng.uniform(-0.005, 0.005),
        "description": "",
        "legal_basis": "",
        "parties": [
            {
                "key": key,
                "reporter": key == "A",
                "name": "甲" if key == "A" else "乙",
                "phone": f"13{n % 1000000000:09d}" if key == "A" else f"15{n % 1000000000:09d}",
                "licence_no": id_number(
                    "230103"
                    + (datetime(1960, 1, 1) + timedelta(days=n)).strftime("%Y%m%d")
                    + ("001" if key == "A" else "002")
                ),
                "plate": plate_a if key == "A" else f"黑B·{n % 100000:05d}",
                "vehicle_type": "small_car",
                "insurer": INSURERS[(n + (key == "B")) % 3],
                "policy_no": "",
                "fault": "",
                "liability": "full" if key == "A" else "none",
            }
            for key in ("A", "B")
        ],
    }


async def seed(engine: Any, count: int, days: float) -> None:
    rng = random.Random(13)
    now = datetime.now(CST)
    case_rows, audit_rows, form_rows = [], [], []
    for n in range(count):
        at = now - timedelta(seconds=rng.uniform(3600, days * 86400))
        cid = case_id(100000 + n)
        entries = trail(at)
        case_rows.append(
            {
                "id": cid,
                "created_at": at.timestamp(),
                "status": entries[-1].to_state.value,
                "lat": 45.75,
                "lng": 126.65,
            }
        )
        for seq, entry in enumerate(entries):
            row = entry.to_dict()
            audit_rows.append(
                {
                    "case_id": cid,
                    "seq": seq,
                    "who": row["who"],
                    "when": row["when"],
                    "what": row["what"],
                    "from_state": row["from"],
                    "to_state": row["to"],
                    "detail": json.dumps(row["detail"]),
                }
            )
        form_rows.append(
            {
                "case_id": cid,
                "revision": 1,
                "data": json.dumps(form(n, at, rng), ensure_ascii=False),
                "updated_at": at.timestamp(),
                "updated_by": "officer:1",
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(cases), case_rows)
        await conn.execute(insert(case_audit), audit_rows)
        await conn.execute(insert(case_files), form_rows)


async def timed(label: str, work: Any) -> Any:
    """Run ``work`` with a 5 ms ticker; print its time and the loop's longest stall."""
    stalls = [0.0]
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stalls[0] = max(stalls[0], now - last - 0.005)
            last = now

    ticker = asyncio.create_task(tick())
    start = time.perf_counter()
    result = await work
    elapsed = time.perf_counter() - start
    done.set()
    await ticker
    print(f"{label}: {elapsed * 1000:.0f} ms, longest loop stall {stalls[0] * 1000:.1f} ms")
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--runs", type=int, default=3, help="times each call is repeated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3")
        await create_schema(engine)
        started = time.perf_counter()
        await seed(engine, args.cases, args.days)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        # The forms went straight into the tables: index them as migration 10 does an older
        # database's (the same function), and time it.
        started = time.perf_counter()
        async with engine.begin() as conn:
            indexed = await conn.run_sync(backfill)
        print(f"migration 10's backfill: {indexed} forms in {time.perf_counter() - started:.1f} s")
        insurers = InsurerDirectory(DEFAULT_INSURERS)
        fraud = FraudSignals(engine, Policy(window_days=90))
        api = OpenApi(
            engine,
            Database(engine),
            CaseStore(engine),
            InsurerScope(engine),
            insurers,
            Ledger(Path(tmp), ServerKey.load_or_create(Path(tmp))),
            fraud,
            claims=None,  # type: ignore[arg-type]
            recordings_dir=Path(tmp),
            zone=CST,
        )
        key = ApiKey(1, "picc", "", time.time(), None, None)
        picc = insurers.require("picc")
        # The server's own loop-lag sampler (what GET /api/metrics reports), beside the ticker.
        lag = LoopLag()
        sampler = asyncio.create_task(lag.run())
        began = time.monotonic()
        print(f"{args.cases} determined cases over {args.days:g} days")
        # The machine's own share of the stalls: the same ticker while the loop does nothing.
        await timed("baseline: the loop idle for 1 s", asyncio.sleep(1))
        for _ in range(args.runs):
            page = await timed("feed, first page of 200 (picc)", api.changes(key, None, 200))
        print(f"  {len(page['cases'])} cases on the page, more: {page['has_more']}")
        pages, cursor, seen = 0, None, 0
        started = time.perf_counter()
        while True:
            page = await api.changes(key, cursor, 200)
            pages += 1
            seen += len(page["cases"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        print(
            f"feed, every page: {pages} pages, {seen} cases in "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
        scope = InsurerScope(engine)
        for _ in range(args.runs):
            visible = await timed("insurer console: scope.cases (picc)", scope.cases(picc))
        print(f"  {len(visible)} cases")
        for _ in range(args.runs):
            flagged = await timed("fraud: flagged cases of 30 days", fraud.flagged(30))
        print(f"  {len(flagged)} flagged")
        for n in range(args.runs):
            await timed("fraud: one case's flags", fraud.flags(case_id(100000 + 50 * n)))
        stats = lag.stats(time.monotonic() - began)
        print(
            f"loop lag (kuaichu.looplag) over the calls: p50 {stats.p50_ms:.1f} ms, "
            f"p99 {stats.p99_ms:.1f} ms, max {stats.max_ms:.1f} ms ({stats.samples} samples)"
        )
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
