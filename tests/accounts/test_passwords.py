"""The password pool: one thread of its own, a bounded queue, refusals that cost nothing."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from argon2 import PasswordHasher

from kuaichu.accounts.passwords import LoginBusy, PasswordPool

STORED = PasswordHasher().hash("the-right-password")


async def test_a_full_queue_refuses_at_once_without_hashing() -> None:
    pool = PasswordPool(queue_limit=2)
    try:
        results = await asyncio.gather(
            *(pool.verify(STORED, f"wrong-{i}") for i in range(10)), return_exceptions=True
        )
        busy = [r for r in results if isinstance(r, LoginBusy)]
        assert results.count(False) == 3  # the running one and the two that waited
        assert len(busy) == 7
        assert busy[0].code == "login_busy" and busy[0].http_status == 503
        assert pool.hashes == 3
        # Once the queue has drained, verifications are admitted again.
        assert await pool.verify(STORED, "the-right-password") is True
        assert pool.hashes == 4
    finally:
        pool.close()


async def test_no_account_costs_a_hash_and_opens_nothing() -> None:
    """An unknown username is checked against a dummy hash (the same time as a wrong
    password), and never succeeds, whatever the password."""
    pool = PasswordPool()
    try:
        assert await pool.verify(None, "kuaichu-dummy-password") is False
        assert await pool.verify(None, "anything") is False
        assert pool.hashes == 2
    finally:
        pool.close()


async def test_hashing_runs_on_one_thread_of_its_own() -> None:
    pool = PasswordPool()
    names: set[str] = set()
    cpu_sets: list[set[int]] = []

    def spy(stored: str, password: str) -> bool:
        names.add(threading.current_thread().name)
        cpu_sets.append(os.sched_getaffinity(0))
        return False

    try:
        pool._verify_now = spy  # type: ignore[method-assign]
        await asyncio.gather(*(pool.verify(STORED, "x") for i in range(5)))
        assert len(names) == 1 and next(iter(names)).startswith("kuaichu-passwords")
        # Argon2's lane threads inherit the worker's CPU set: hashing stays on one core.
        if len(os.sched_getaffinity(0)) > 1:
            assert all(len(cpus) == 1 for cpus in cpu_sets), cpu_sets
        stored = await pool.hash("a-new-password")
        assert stored.startswith("$argon2id$")
    finally:
        pool.close()


async def test_a_closed_pool_refuses_work() -> None:
    pool = PasswordPool()
    pool.close()
    with pytest.raises(RuntimeError):
        await pool.verify(STORED, "x")
