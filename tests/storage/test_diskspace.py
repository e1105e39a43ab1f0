"""The disk watcher: below the threshold new calls are refused, said once; back with a
margin, said once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from kuaichu.errors import DiskFull
from kuaichu.storage.diskspace import MIB, DiskWatch, free_bytes


async def test_low_space_refuses_calls_once_and_resumes_with_a_margin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    free = [100 * MIB]
    changes: list[dict[str, Any]] = []
    watch = DiskWatch(tmp_path, 10 * MIB, 60, changes.append, measure=lambda _p: free[0])
    caplog.set_level(logging.INFO, logger="kuaichu.storage.diskspace")
    assert not await watch.check()
    watch.admit()  # plenty of space
    free[0] = 9 * MIB
    for _ in range(5):
        assert await watch.check()
    with pytest.raises(DiskFull) as refused:
        watch.admit()
    assert refused.value.code == "disk_full" and refused.value.http_status == 503
    free[0] = 10 * MIB  # at the threshold: not yet (the margin keeps it from flapping)
    assert await watch.check()
    free[0] = 12 * MIB
    assert not await watch.check()
    watch.admit()
    assert [c["low"] for c in changes] == [True, False]
    assert changes[0] == {"low": True, "free_bytes": 9 * MIB, "min_free_bytes": 10 * MIB}
    assert len(caplog.records) == 2  # one line each way, not one per check


async def test_a_failing_measurement_refuses_nothing(tmp_path: Path) -> None:
    def broken(_path: Path) -> int:
        raise OSError(5, "Input/output error")

    watch = DiskWatch(tmp_path, 10 * MIB, 60, lambda _s: None, measure=broken)
    assert not await watch.check()
    watch.admit()


async def test_the_loop_is_owned_and_closed(tmp_path: Path) -> None:
    seen: list[int] = []

    def measure(path: Path) -> int:
        seen.append(1)
        return free_bytes(path)

    watch = DiskWatch(tmp_path, 1, 0.01, lambda _s: None, measure=measure)
    watch.start()
    await asyncio.sleep(0.1)
    await watch.close()
    count = len(seen)
    assert count >= 2
    await asyncio.sleep(0.05)
    assert len(seen) == count  # stopped
