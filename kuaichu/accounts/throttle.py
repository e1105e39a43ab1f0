"""Login throttling: per account and per client address, with exponential back-off.

After ``max_failures`` failed logins within ``window`` seconds an account (the username as
typed, whether it exists or not, so the throttle reveals nothing about which names exist) or
a client address is locked for ``backoff`` seconds; each failure after a lock doubles the next
one, up to ``backoff_cap``. A refused attempt costs a dictionary look-up: no hashing, no
database. A successful login clears its account's record, never its address's (else an
attacker holding one account could clear their address between guesses).

Attempts in flight count as failures until they are settled, so a burst of concurrent guesses
cannot slip past the limit before the first of them has been checked.

Memory is bounded: each table keeps at most ``max_entries`` records, least recently touched
first out, and a record is forgotten once its window and lock have both passed. Only attempts
that were let through create a record, and those are bounded by the hashing pool's rate.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..clock import Clock
from ..errors import KuaichuError

if TYPE_CHECKING:
    from ..settings import Settings

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TooManyAttempts(KuaichuError):
    """Too many failed logins for this account or from this address: try again later."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(f"too many login attempts; retry in {seconds} s", retry_after=seconds)
        self.retry_after = seconds


def parse_networks(text: str) -> frozenset[Network]:
    """``"10.0.0.1, 192.168.0.0/24, ::1"`` as networks; raises ValueError naming a bad entry."""
    networks: set[Network] = set()
    for part in (p.strip() for p in text.split(",")):
        if part:
            try:
                networks.add(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {part!r}") from None
    return frozenset(networks)


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures, over which window, lock for how long; and whom to believe."""

    max_failures: int = 5
    address_max_failures: int = 20
    window: float = 900.0
    backoff: float = 30.0
    backoff_cap: float = 900.0
    max_entries: int = 10_000
    trusted_proxies: frozenset[Network] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        """The policy the ``--login-*`` and ``--trusted-proxies`` settings describe."""
        try:
            proxies = parse_networks(settings.trusted_proxies)
        except ValueError as exc:
            raise SystemExit(f"invalid setting trusted_proxies: {exc}") from None
        return cls(
            max_failures=max(1, settings.login_max_failures),
            address_max_failures=max(1, settings.login_max_failures_per_address),
            window=settings.login_window,
            backoff=settings.login_backoff,
            backoff_cap=max(settings.login_backoff, settings.login_backoff_cap),
            trusted_proxies=proxies,
        )


@dataclass
class _Record:
    failures: int = 0
    window_start: float = 0.0
    last_seen: float = 0.0
    locked_until: float = 0.0
    strikes: int = 0
    in_flight: int = 0


@dataclass(frozen=True)
class Attempt:
    """A login let through the throttle; settle it exactly once."""

    account: str
    address: str


class _Table:
    """One kind of key (accounts or addresses) with its own limit, bounded in size."""

    def __init__(self, kind: str, limit: int, policy: LoginPolicy) -> None:
        self.kind = kind
        self.limit = limit
        self.policy = policy
        self.records: OrderedDict[str, _Record] = OrderedDict()

    def _stale(self, rec: _Record, now: float) -> bool:
        return rec.in_flight == 0 and now >= max(rec.last_seen, rec.locked_until) + (
            self.policy.window
        )

    def _lock_seconds(self, strikes: int) -> float:
        return min(self.policy.backoff_cap, self.policy.backoff * 2.0 ** max(0, strikes - 1))

    def refusal(self, key: str, now: float) -> float | None:
        """Seconds to wait if an attempt on ``key`` is refused now, else None."""
        rec = self.records.get(key)
        if rec is None:
            return None
        if rec.locked_until > now:
            return rec.locked_until - now
        failures = rec.failures if now - rec.window_start <= self.policy.window else 0
        if failures + rec.in_flight >= self.limit:
            # Guesses in flight would reach the limit: refuse until they are settled.
            return 1.0
        return None

    def begin(self, key: str, now: float) -> None:
        rec = self.records.get(key)
        if rec is None or self._stale(rec, now):  # a quiet window forgets the strikes too
            rec = self.records[key] = _Record(window_start=now)
        rec.in_flight += 1
        rec.last_seen = now
        self.records.move_to_end(key)
        self._bound(now)

    def _settled(self, key: str, now: float) -> _Record:
        rec = self.records.get(key)
        if rec is None:  # evicted while in flight: start afresh
            rec = self.records[key] = _Record(window_start=now, in_flight=1)
        rec.in_flight = max(0, rec.in_flight - 1)
        rec.last_seen = now
        self.records.move_to_end(key)
        return rec

    def cancel(self, key: str, now: float) -> None:
        rec = self._settled(key, now)
        if rec.failures == 0 and rec.strikes == 0 and rec.in_flight == 0:
            del self.records[key]

    def fail(self, key: str, now: float) -> None:
        rec = self._settled(key, now)
        if now - rec.window_start > self.policy.window:
            rec.failures, rec.window_start = 0, now
        rec.failures += 1
        if rec.failures >= self.limit:
            rec.strikes += 1
            seconds = self._lock_seconds(rec.strikes)
            rec.locked_until = now + seconds
            # The next failure within a window after this lock locks again, for twice as long.
            rec.failures, rec.window_start = self.limit - 1, rec.locked_until
            logger.warning(
                "login throttled: %s locked for %.0f s after %d failures (strike %d)",
                self.kind,
                seconds,
                self.limit,
                rec.strikes,
            )

    def succeed(self, key: str, now: float) -> None:
        rec = self._settled(key, now)
        if rec.in_flight == 0:
            del self.records[key]
        else:
            rec.failures = rec.strikes = 0
            rec.locked_until = 0.0

    def _bound(self, now: float) -> None:
        if len(self.records) <= self.policy.max_entries:
            return
        # Oldest first: forget what has expired, then, if still over, the least recent.
        for key in [k for k, r in self.records.items() if self._stale(r, now)]:
            del self.records[key]
        while len(self.records) > self.policy.max_entries:
            self.records.popitem(last=False)


class LoginThrottle:
    """Decides whether a login may be tried now, and learns from its outcome."""

    def __init__(self, policy: LoginPolicy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self._accounts = _Table("account", policy.max_failures, policy)
        self._addresses = _Table("address", policy.address_max_failures, policy)

    def size(self) -> int:
        """How many records are kept (accounts plus addresses)."""
        return len(self._accounts.records) + len(self._addresses.records)

    def admit(self, username: str, address: str) -> Attempt:
        """Let an attempt through, or raise :class:`TooManyAttempts` with the longer wait."""
        attempt = Attempt(account_key(username), address_key(address))
        now = self.clock.monotonic()
        waits = [
            w
            for w in (
                self._accounts.refusal(attempt.account, now),
                self._addresses.refusal(attempt.address, now),
            )
            if w is not None
        ]
        if waits:
            raise TooManyAttempts(max(waits))
        self._accounts.begin(attempt.account, now)
        self._addresses.begin(attempt.address, now)
        return attempt

    def check_address(self, address: str) -> None:
        """Raise :class:`TooManyAttempts` now if this address is locked out: lets the edge
        refuse a flood before it even reads the form."""
        wait = self._addresses.refusal(address_key(address), self.clock.monotonic())
        if wait is not None:
            raise TooManyAttempts(wait)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account starts afresh (the address does not)."""
        now = self.clock.monotonic()
        self._accounts.succeed(attempt.account, now)
        self._addresses.cancel(attempt.address, now)

    def failed(self, attempt: Attempt) -> None:
        """The password was wrong (or the account unknown): count it against both."""
        now = self.clock.monotonic()
        self._accounts.fail(attempt.account, now)
        self._addresses.fail(attempt.address, now)

    def cancelled(self, attempt: Attempt) -> None:
        """The attempt was not tried (the hashing pool was full): count nothing."""
        now = self.clock.monotonic()
        self._accounts.cancel(attempt.account, now)
        self._addresses.cancel(attempt.address, now)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """Who is logging in: the socket's peer, unless that peer is a trusted proxy, in
        which case the right-most ``X-Forwarded-For`` entry that is not itself a trusted
        proxy (entries further left are whatever the client chose to send)."""
        address = peer or "unknown"
        if not forwarded_for or not self._trusted(address):
            return address
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return address  # a malformed hop: stop at the last one we believe
            address = hop
            if not self._trusted(hop):
                break
        return address

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.policy.trusted_proxies)


def account_key(username: str) -> str:
    """The throttle's key for a username as typed (existing or not)."""
    return username.strip().casefold()[:64]


def address_key(address: str) -> str:
    """The throttle's key for an address: IPv6 by its /64, since one host usually holds a
    whole /64 and could otherwise try each of its addresses in turn."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
