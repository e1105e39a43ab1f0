"""issue 12: the wrap-up waits for the case work the console holds open, instead of ending
after its time: the officer stays in wrap-up until the work is saved or they press ready."""

from __future__ import annotations

from kuaichu.queue.dispatcher import OfficerStatus
from tests.dispatch.test_dispatcher import WRAPUP, Env, available, call, env  # noqa: F401


def in_wrapup(e: Env) -> None:
    available(e, 1)
    e.d.enqueue(call(1))
    e.d.accept(1, "call-0001")
    e.d.call_finished(1, "call-0001", 60.0)
    e.d.enqueue(call(2))  # someone waits: ending the wrap-up would offer it at once
    assert e.d.presence(1).status is OfficerStatus.WRAPUP


async def test_held_wrapup_outlasts_its_time_until_the_work_is_saved(env: Env) -> None:  # noqa: F811
    in_wrapup(env)
    env.d.hold_wrapup(1, True)
    env.clock.advance(WRAPUP * 5)
    assert env.d.presence(1).status is OfficerStatus.WRAPUP
    assert env.rec.offers == [(1, "call-0001")]  # nothing offered while the work is open
    env.d.hold_wrapup(1, False)  # saved
    assert env.rec.offers[-1] == (1, "call-0002")


async def test_work_saved_before_the_time_ends_keeps_the_usual_wrapup(env: Env) -> None:  # noqa: F811
    in_wrapup(env)
    env.d.hold_wrapup(1, True)
    env.d.hold_wrapup(1, False)
    assert env.d.presence(1).status is OfficerStatus.WRAPUP  # the time is not over yet
    env.clock.advance(WRAPUP)
    assert env.rec.offers[-1] == (1, "call-0002")


async def test_ready_ends_a_held_wrapup_and_the_hold_does_not_outlive_it(env: Env) -> None:  # noqa: F811
    in_wrapup(env)
    env.d.hold_wrapup(1, True)
    env.d.set_status(1, OfficerStatus.AVAILABLE)  # "ready"
    assert env.rec.offers[-1] == (1, "call-0002")
    env.d.accept(1, "call-0002")
    env.d.call_finished(1, "call-0002", 60.0)
    env.d.enqueue(call(3))
    env.clock.advance(WRAPUP)  # the next wrap-up is not held by the old work
    assert env.rec.offers[-1] == (1, "call-0003")


async def test_a_hold_outside_wrapup_changes_nothing(env: Env) -> None:  # noqa: F811
    available(env, 1)
    env.d.hold_wrapup(1, True)
    env.d.enqueue(call(1))
    assert env.rec.offers == [(1, "call-0001")]
