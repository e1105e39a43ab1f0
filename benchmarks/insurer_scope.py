"""What the insurer console's case list costs at a centre's volume, and whether it holds the
event loop.

    .venv/bin/python benchmarks/insurer_scope.py [--cases 5000] [--days 365]

Seeds N cases in a visible state (notified) reported over the last D days, each with a
complete two-party form insured by one of three insurers, straight into a fresh SQLite
database (only the tables the rule reads: ``cases`` and ``case_files``), then times
``InsurerScope.cases`` over all of them and over the console's window (the last 90 days;
the forms' insurers are matched in a worker thread) and ``InsurerScope.require`` (one case),
with a 5 ms ticker measuring the loop's longest stall meanwhile. Figures go to
docs/benchmarks.md with the machine's state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from kuaichu.insurers import InsurerScope, load_insurers  # noqa: E402
from kuaichu.storage.db import create_schema, make_engine  # noqa: E402
from kuaichu.storage.tables import case_files, cases  # noqa: E402
from tests.insurers.seed import form  # noqa: E402

NAMES = ("中国人保财险", "平安产险", "太平洋产险")


async def stall_ticker(stop: asyncio.Event, worst: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last - 0.005)
        last = now


async def main(n: int, days: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'b.sqlite3'}")
        await create_schema(engine)
        now = time.time()
        ids = [f"KC2026{i:010d}" for i in range(n)]
        async with engine.begin() as conn:
            await conn.execute(
                insert(cases),
                [
                    {"id": c, "created_at": now - i * days * 86400 / n, "status": "notified"}
                    for i, c in enumerate(ids)
                ],
            )
            await conn.execute(
                insert(case_files),
                [
                    {
                        "case_id": c,
                        "revision": 1,
                        "data": form(NAMES[i % 3], NAMES[(i + 1) % 3]),
                        "updated_at": now,
                        "updated_by": "bench",
                    }
                    for i, c in enumerate(ids)
                ],
            )
        scope = InsurerScope(engine)
        picc = load_insurers("").require("picc")
        stop, worst = asyncio.Event(), [0.0]
        ticker = asyncio.create_task(stall_ticker(stop, worst))
        lists, windows, ones = [], [], []
        for _ in range(5):
            t0 = time.perf_counter()
            found = await scope.cases(picc, limit=n)
            lists.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            recent = await scope.cases(picc, limit=n, since=now - 90 * 86400)
            windows.append(time.perf_counter() - t0)
        for c in ids[:200]:
            t0 = time.perf_counter()
            await scope.may_see(picc, c)
            ones.append(time.perf_counter() - t0)
        stop.set()
        await ticker
        await engine.dispose()
    print(
        json.dumps(
            {
                "cases": n,
                "visible_to_picc": len(found),
                "list_s_median": round(statistics.median(lists), 3),
                "list_s_max": round(max(lists), 3),
                "visible_last_90_days": len(recent),
                "list_90_days_s_median": round(statistics.median(windows), 3),
                "one_case_ms_median": round(statistics.median(ones) * 1000, 2),
                "loop_stall_ms_max": round(worst[0] * 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--days", type=float, default=365)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.days))
