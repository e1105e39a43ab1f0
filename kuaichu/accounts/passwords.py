"""Argon2id hashing in a pool of its own, so logins can never take the CPU that calls need.

One worker thread (not the default executor, which ``asyncio.to_thread`` and the media work
share), run at a lower scheduling priority and on one CPU where the OS allows it (Argon2's own
lane threads included), and a bounded wait: when ``queue_limit`` verifications already wait
behind the running one, a login is refused at once with :class:`LoginBusy` instead of
queueing. At most one core hashes, whatever arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import KuaichuError

logger = logging.getLogger(__name__)

# Below the event loop: media and signaling win the CPU when both want it.
_NICE = 10
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against a dummy hash when the user does not exist keeps the timing of a wrong
    username the same as a wrong password (same parameters, same pool). Made on first use, in
    the pool's thread: not at import, where every command (and the server's start) paid it."""
    return _hasher.hash("kuaichu-dummy-password")


class LoginBusy(KuaichuError):
    """Too many logins are being checked at this moment: try again in a second."""

    code = "login_busy"
    http_status = 503

    def __init__(self) -> None:
        super().__init__("the server is busy checking other logins; retry in 1 s", retry_after=1)
        self.retry_after = 1


def _confine_worker() -> None:
    """Run in the worker thread as it starts: lower its priority, and keep it on one CPU.

    Argon2 computes the hash's lanes (4 for argon2-cffi's defaults) on threads of its own,
    which inherit the worker's CPU set and priority: without the CPU set, one verification
    takes up to four cores. Linux applies both calls to the calling thread alone; elsewhere
    they are refused or absent, and the pool still runs one verification at a time."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)
    with contextlib.suppress(AttributeError, OSError):
        cpus = os.sched_getaffinity(0)
        if len(cpus) > 1:
            os.sched_setaffinity(0, {max(cpus)})


class PasswordPool:
    """Hashes and verifies passwords on one low-priority thread with a bounded queue."""

    def __init__(self, queue_limit: int = 8) -> None:
        self.queue_limit = max(0, queue_limit)
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kuaichu-passwords", initializer=_confine_worker
        )
        self._waiting = 0
        self._hashes = 0
        # Made in the background now, so that the first unknown username is not the one login
        # that costs two hashes.
        self._executor.submit(_dummy_hash)

    @property
    def hashes(self) -> int:
        """How many Argon2 computations this pool has run (hashes and verifications)."""
        return self._hashes

    def _verify_now(self, stored: str | None, password: str) -> bool:
        self._hashes += 1  # only the one worker thread writes it
        try:
            ok = bool(_hasher.verify(stored or _dummy_hash(), password))
        except (VerificationError, InvalidHashError):
            return False
        return ok and stored is not None  # the dummy's own password opens nothing

    def _hash_now(self, password: str) -> str:
        self._hashes += 1
        return _hasher.hash(password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: no such account, checked against a
        dummy hash all the same, and False); :class:`LoginBusy` if the queue is full."""
        # The running verification plus queue_limit waiting ones.
        if self._waiting > self.queue_limit:
            raise LoginBusy()
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._verify_now, stored, password)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        """A new Argon2id hash. Not bounded: only administrators set passwords."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._hash_now, password)

    def close(self) -> None:
        """Stop the worker; what still waits is cancelled (the running hash finishes)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
