"""The password pool: one thread of its own, a bounded queue, refusals that cost nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kuaichu.accounts.passwords import DUMMY_HASH, LoginBusy, PasswordPool


async def test_a_full_queue_refuses_at_once_without_hashing() -> None:
    pool = PasswordPool(queue_limit=2)
    try:
        results = await asyncio.gather(
            *(pool.verify(DUMMY_HASH, f"wrong-{i}") for i in range(10)), return_exceptions=True
        )
        busy = [r for r in results if isinstance(r, LoginBusy)]
        assert results.count(False) == 3  # the running one and the two that waited
        assert len(busy) == 7
        assert busy[0].code == "login_busy" and busy[0].http_status == 503
        assert pool.hashes == 3
        # Once the queue has drained, verifications are admitted again.
        assert await pool.verify(DUMMY_HASH, "kuaichu-dummy-password") is True
        assert pool.hashes == 4
    finally:
        pool.close()


async def test_hashing_runs_on_one_thread_of_its_own() -> None:
    pool = PasswordPool()
    names: set[str] = set()

    def spy(stored: str, password: str) -> bool:
        names.add(threading.current_thread().name)
        return False

    try:
        pool._verify_now = spy  # type: ignore[method-assign]
        await asyncio.gather(*(pool.verify(DUMMY_HASH, "x") for i in range(5)))
        assert len(names) == 1 and next(iter(names)).startswith("kuaichu-passwords")
        stored = await pool.hash("a-new-password")
        assert stored.startswith("$argon2id$")
    finally:
        pool.close()


async def test_a_closed_pool_refuses_work() -> None:
    pool = PasswordPool()
    pool.close()
    with pytest.raises(RuntimeError):
        await pool.verify(DUMMY_HASH, "x")
