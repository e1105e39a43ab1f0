"""The login throttle on a manual clock: limits, back-off, reset, bounded memory, proxies."""

from __future__ import annotations

import pytest

from kuaichu.accounts.throttle import (
    Attempt,
    LoginPolicy,
    LoginThrottle,
    TooManyAttempts,
    address_key,
    parse_networks,
)
from kuaichu.clock import ManualClock

POLICY = LoginPolicy(
    max_failures=3, address_max_failures=10, window=600, backoff=30, backoff_cap=200
)


def fail(throttle: LoginThrottle, user: str = "zhang", address: str = "10.0.0.1") -> None:
    throttle.failed(throttle.admit(user, address))


def refused_for(throttle: LoginThrottle, user: str = "zhang", address: str = "10.0.0.1") -> int:
    with pytest.raises(TooManyAttempts) as info:
        throttle.admit(user, address)
    assert info.value.code == "too_many_attempts" and info.value.http_status == 429
    return info.value.retry_after


def test_back_off_grows_exponentially_up_to_the_cap() -> None:
    clock = ManualClock()
    throttle = LoginThrottle(POLICY, clock)
    for _ in range(3):
        fail(throttle)
    assert refused_for(throttle) == 30
    clock.advance(29)
    assert refused_for(throttle) == 1
    locks = []
    for _ in range(5):
        clock.advance(refused_for(throttle))
        fail(throttle)  # one more try after each lock, wrong again
        locks.append(refused_for(throttle))
    assert locks == [60, 120, 200, 200, 200]


def test_success_resets_the_account_but_not_the_address() -> None:
    clock = ManualClock()
    throttle = LoginThrottle(POLICY, clock)
    fail(throttle)
    fail(throttle)
    throttle.succeeded(throttle.admit("zhang", "10.0.0.1"))
    # The account starts afresh: three more failures before the lock.
    fail(throttle)
    fail(throttle)
    fail(throttle)
    refused_for(throttle)
    # The address kept counting (2 + 3 failures), and a success did not clear it.
    throttle.succeeded(throttle.admit("li", "10.0.0.1"))
    for i in range(5):
        fail(throttle, f"user{i}")
    assert refused_for(throttle, "someone-new") == 30


def test_unknown_and_known_names_are_throttled_alike_and_case_insensitively() -> None:
    throttle = LoginThrottle(POLICY, ManualClock())
    for name in ("Ghost", "ghost", " GHOST "):
        fail(throttle, name, f"10.0.1.{len(name)}")
    refused_for(throttle, "ghost", "10.9.9.9")


def test_concurrent_attempts_count_before_they_are_settled() -> None:
    throttle = LoginThrottle(POLICY, ManualClock())
    in_flight = [throttle.admit("zhang", f"10.0.0.{i}") for i in range(3)]
    assert refused_for(throttle, "zhang", "10.0.0.99") == 1
    for attempt in in_flight:
        throttle.cancelled(attempt)
    assert throttle.size() == 0  # cancelled attempts leave nothing behind
    throttle.failed(throttle.admit("zhang", "10.0.0.1"))


def test_records_expire_after_the_window() -> None:
    clock = ManualClock()
    throttle = LoginThrottle(POLICY, clock)
    for _ in range(3):
        fail(throttle)
    clock.advance(30 + 599)
    fail(throttle)  # within a window of the lock: locks again, twice as long
    assert refused_for(throttle) == 60
    clock.advance(60 + 601)
    fail(throttle)
    fail(throttle)
    # A quiet window forgot failures and strikes: two failures are below the limit again,
    # and the third locks for the first lock's length.
    fail(throttle)
    assert refused_for(throttle) == 30


def test_memory_is_bounded_when_names_and_addresses_cycle() -> None:
    clock = ManualClock()
    throttle = LoginThrottle(LoginPolicy(max_failures=3, max_entries=100), clock)
    for i in range(5000):
        try:
            fail(throttle, f"user{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        except TooManyAttempts:
            pass
        clock.advance(0.01)
    assert throttle.size() <= 200
    # Refused attempts create nothing.
    for _ in range(3):
        fail(throttle, "target", "10.200.0.1")
    before = throttle.size()
    for i in range(1000):
        with pytest.raises(TooManyAttempts):
            throttle.admit("target", f"10.201.{i // 256}.{i % 256}")
    assert throttle.size() == before


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    policy = LoginPolicy(trusted_proxies=parse_networks("127.0.0.1, 10.1.0.0/16"))
    throttle = LoginThrottle(policy, ManualClock())
    address = throttle.client_address
    assert address("203.0.113.9", "198.51.100.1") == "203.0.113.9"  # not a proxy
    assert address("127.0.0.1", None) == "127.0.0.1"
    assert address("127.0.0.1", "198.51.100.1") == "198.51.100.1"
    # The client may prepend anything; the right-most untrusted hop is the one we trust.
    assert address("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3") == "198.51.100.1"
    assert address("127.0.0.1", "garbage, 10.1.2.3") == "10.1.2.3"
    with pytest.raises(ValueError, match="not-an-ip"):
        parse_networks("127.0.0.1, not-an-ip")


def test_ipv6_addresses_share_their_slash_64() -> None:
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert Attempt("a", "b").address == "b"


def test_a_locked_address_is_refused_before_the_form_is_read() -> None:
    throttle = LoginThrottle(POLICY, ManualClock())
    throttle.check_address("10.0.0.1")  # nothing known: no refusal
    for i in range(10):
        fail(throttle, f"user{i}")
    with pytest.raises(TooManyAttempts):
        throttle.check_address("10.0.0.1")
    throttle.check_address("10.0.0.2")
