"""Fixtures that start real servers (tests/support/servers.py).

``server_factory`` and ``live_server`` serve ``create_app`` in the test's event loop;
``process_server_factory`` and ``process_server`` run ``python server.py`` as a subprocess,
for the tests that need a process (a SIGKILL mid-call). Either way a test fails when its
server raised while it ran, even if every assertion held.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.servers import InProcessServer, LiveServer, start_in_process, start_server

ServerFactory = Callable[..., Awaitable[InProcessServer]]
CLOSE_SECONDS = 60  # an in-process server's drain and close (2 s grace for open requests)

# Property tests explore new examples on every developer run; in CI (CI=true) they replay a
# fixed sequence, so a landing is judged on the same inputs each time (a bug a developer's run
# finds is fixed and kept as a literal example beside the module's tests).
# No deadline in either: how long an example takes depends on the machine's load, and timing
# belongs in benchmarks, not in assertions (hypothesis's default 200 ms failed on a busy box).
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

# The settings most scenarios run with: short timers so a test does not wait out real ones.
LIVE_SETTINGS: dict[str, object] = dict(
    reservation_timeout=5,
    wrapup_seconds=2,
    decline_cooldown=30,
    driver_grace_seconds=1,
    officer_grace_seconds=0,  # the grace itself: tests/e2e/test_officer_grace.py
)


# Tests that measure real-time media (frame rates, first-frame delay, what a recording holds
# after a SIGKILL, frames captured from a live call): under pytest-xdist (scripts/test,
# --dist loadgroup) they run one after the other in one worker, so two of them never compete
# for the two cores (and test_capture's module-scoped plate scenes are drawn once).
REAL_TIME_MEDIA = (
    "tests/media/test_call_media.py",
    "tests/media/test_recorder.py",
    "tests/e2e/test_call.py",
    "tests/e2e/test_capture.py",
    "tests/e2e/test_crash.py",
    "tests/e2e/test_resume.py",
    "tests/e2e/test_restart.py",
    "tests/media/test_leg_health.py",
    "tests/media/test_aioice_tap.py",
    "tests/e2e/test_leg_failure.py",
    # issue 9 (TURN): a driver in a network namespace streams through coturn
    "tests/e2e/test_turn.py",
    # issue 9 (bandwidth)
    "tests/media/test_uplink.py",
    "tests/e2e/test_video_evidence_size.py",
    "tests/media/test_video_loss.py",
    "tests/browser/test_video_quality.py",
    "tests/browser/test_console_quality.py",
)


# The group is the "@<name>" suffix of the test's id, which xdist's worker hook writes from
# the mark into ``item._nodeid``; pytest 9 keeps the id in ``item._id``, so with xdist 3.8
# the suffix never reached the scheduler and the group was silently ignored (these tests ran
# on both workers at once). trylast: after xdist's hook, the suffix is written here unless
# xdist managed to.
_GROUP = "real-time-media"
# Of those, the ones whose frame rate a browser must reach: scripts/test runs them after the rest,
# alone on the machine (see there).
SOLO = ("tests/browser/test_video_quality.py", "tests/browser/test_console_quality.py")


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as each is collected: before -m chooses (the hook below comes after it).
    path = Path(str(item.path)).relative_to(Path(str(item.config.rootpath))).as_posix()
    if path in SOLO:
        item.add_marker(pytest.mark.solo)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from _pytest.nodeid import coerce_node_id

    root = Path(str(config.rootpath))
    grouping = bool(getattr(config.option, "loadgroup", False))  # an xdist worker, loadgroup
    for item in items:
        path = Path(str(item.path)).relative_to(root).as_posix()
        if path in REAL_TIME_MEDIA:
            item.add_marker(pytest.mark.xdist_group(_GROUP))
            if grouping and not item.nodeid.endswith("@" + _GROUP):
                item._id = coerce_node_id(f"{item.nodeid}@{_GROUP}")  # type: ignore[attr-defined]


_HUB = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    # The TURN tests' hub namespace, made once by the process that starts the workers (before
    # any browser runs; see tests/support/netns.py for why the host's own interfaces must not
    # change while pages load).
    if not hasattr(config, "workerinput"):
        from tests.support.netns import make_hub

        name = make_hub()
        if name is not None:
            config.stash[_HUB] = name


def pytest_unconfigure(config: pytest.Config) -> None:
    name = config.stash.get(_HUB, None)
    if name is not None:
        from tests.support.netns import remove_hub

        remove_hub(name)


# The garbage collector and a test process's heap. A worker holds ~200,000 long-lived objects
# (every module, Playwright, the plate models, SQLAlchemy's caches): a full collection walked
# them all, 150-175 ms each time, and every in-process server's close runs one (to surface a
# task that failed unobserved in the test that made it), besides the collector's own gen-2
# runs. python server.py freezes its heap after start-up for the same reason (kuaichu/cli.py).
# Here the heap as it stands is frozen before each test, so a collection walks only what the
# test made; every FREEZE_RESET tests it is unfrozen and collected once, so garbage a test left
# in cycles is not kept for the whole run.
FREEZE_RESET = 100
_tests_since_reset = 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _tests_since_reset
    _tests_since_reset += 1
    if _tests_since_reset >= FREEZE_RESET:
        _tests_since_reset = 0
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def _fail_on(servers: list[InProcessServer] | list[LiveServer]) -> None:
    problems = [p for server in servers for p in server.problems()]
    if problems:
        pytest.fail(
            "the server raised during this test:\n" + "\n---\n".join(p[-6000:] for p in problems),
            pytrace=False,
        )


@pytest.fixture
async def server_factory(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """``await server_factory(**settings)``: a server in this test's event loop, with the
    officers of LiveServer; settings are the command line's flags, e.g. ``wrapup_seconds=2``."""
    started: list[InProcessServer] = []

    async def factory(**settings: object) -> InProcessServer:
        server = await start_in_process(tmp_path / f"data{len(started)}", **settings)
        started.append(server)
        return server

    yield factory
    for server in started:
        await close_in_time(server.close(), "the server")
    _fail_on(started)


async def close_in_time(closing: Awaitable[None], what: str) -> None:
    """Await an in-process server's close; past CLOSE_SECONDS, fail with what every task and
    thread was waiting for (a close that hangs has happened under heavy load and not been
    understood yet: the stacks are what the next person needs)."""
    try:
        await asyncio.wait_for(closing, CLOSE_SECONDS)
    except TimeoutError:
        out = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=8, file=out)
        for ident, frame in sys._current_frames().items():
            out.write(f"--- thread {ident}\n" + "".join(traceback.format_stack(frame, limit=8)))
        pytest.fail(
            f"{what} did not close within {CLOSE_SECONDS} s; tasks and threads:\n"
            + out.getvalue()[-20000:],
            pytrace=False,
        )


@pytest.fixture
async def live_server(server_factory: ServerFactory) -> InProcessServer:
    return await server_factory(**LIVE_SETTINGS)


@pytest.fixture
def process_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``python server.py`` as a subprocess, for what only a process shows."""
    started: list[LiveServer] = []

    def factory(data_dir: Path | None = None, **settings: object) -> LiveServer:
        # ``data_dir``: a restart on an earlier server's data (recovery after a crash).
        server = start_server(data_dir or tmp_path / f"data{len(started)}", **settings)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
    _fail_on(started)


@pytest.fixture
def process_server(process_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return process_server_factory(**LIVE_SETTINGS)
