"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, with a fake camera that
plays a clip made here with PyAV and a fake microphone (Chromium's beep)."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Geolocation,
    Page,
    Playwright,
    Response,
    async_playwright,
    expect,
)
from playwright.async_api import Error as PlaywrightError

from tests.support.axe import violations
from tests.support.pagecheck import page_problems

CHROMIUM = "/usr/bin/chromium"
AXE_SECONDS = 30  # one page's accessibility check at the end of a test
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"

BASE_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # Host candidates as real addresses, not mDNS names, so the aiortc server can reach us.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

# What a page shows may take longer than Playwright's 5 s on a loaded machine (the suite runs
# three workers and their browsers on two cores): a slow page is not a failing one, and timing
# belongs in benchmarks. A test that waits for something that never comes still fails.
expect.set_options(timeout=15_000)

# Harbin, Nangang district: where the simulated accident happens.
ACCIDENT = Geolocation(latitude=45.7567, longitude=126.6424, accuracy=12)


def make_y4m(
    path: Path, width: int = 640, height: int = 480, fps: int = 15, seconds: int = 4
) -> Path:
    """A moving pattern (sliding bars and a bouncing block) Chromium loops as the camera."""
    x = np.arange(width, dtype=np.uint32)
    y = np.arange(height, dtype=np.uint32)[:, None]
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(fps * seconds):
            img = np.empty((height, width, 3), np.uint8)
            img[:, :, 0] = ((x + i * 12) * 255 // width % 256).astype(np.uint8)
            img[:, :, 1] = (y * 255 // height).astype(np.uint8)
            img[:, :, 2] = 96
            bx = (i * 17) % (width - 80)
            by = (i * 11) % (height - 80)
            img[by : by + 80, bx : bx + 80] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def default_camera_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_y4m(tmp_path_factory.mktemp("camera") / "scene.y4m")


@pytest.fixture(scope="session")
def fake_camera_file(default_camera_file: Path) -> Path:
    """The clip the camera plays; a module overrides it for a scene of its own (and then gets
    a Chromium of its own: the camera is a command-line switch)."""
    return default_camera_file


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: install it with `sudo apt-get install chromium`")
    return CHROMIUM


async def _launch(pw: Playwright, chromium_path: str, camera: Path) -> Browser:
    return await pw.chromium.launch(
        executable_path=chromium_path,
        headless=True,
        args=[*BASE_ARGS, f"--use-file-for-fake-video-capture={camera}"],
    )


@pytest.fixture
async def browser(chromium_path: str, fake_camera_file: Path) -> AsyncIterator[Browser]:
    """A Chromium of the test's own. Tried 2026-11-30: one Chromium per test process on one
    event loop per process saved ~1 min of the suite, but in one run of three an in-process
    server's close then hung (a test's loop outlived its server's work); each test has its
    own loop again, and so its own browser."""
    async with async_playwright() as pw:
        b = await _launch(pw, chromium_path, fake_camera_file)
        try:
            yield b
        finally:
            await b.close()


NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
def expected_console_errors() -> list[str]:
    """Regular expressions of console errors this test provokes on purpose. Chromium logs
    every 4xx answer to a page's request as a console error ("Failed to load resource: the
    server responded with a status of 401"), so a test that checks how a page shows a refusal
    names that refusal here, and only it, e.g. ``r"status of 401 .*/login"``."""
    return []


@pytest.fixture
async def new_page(browser: Browser, expected_console_errors: list[str]) -> AsyncIterator[NewPage]:
    """Open a page in its own context. An uncaught exception in a page (``pageerror``) or a
    console error the test did not expect fails the test; the whole console is shown. So does
    an accessibility violation (axe-core, impact moderate or above) in any of the test's pages
    as it stands at the end of the test (issue 12: axe in every page test)."""
    contexts: list[BrowserContext] = []
    entries: list[tuple[str, str, str]] = []
    refusals: list[asyncio.Future[tuple[str, str, str]]] = []

    async def factory(
        *,
        phone: bool = False,
        geolocation: bool = True,
        viewport: dict[str, int] | None = None,
        **options: Any,
    ) -> Page:
        if phone:
            options.setdefault("viewport", {"width": 390, "height": 844})
            options.setdefault("device_scale_factor", 2)
            options.setdefault("is_mobile", True)
            options.setdefault("has_touch", True)
        elif viewport:
            options["viewport"] = viewport
        ctx = await browser.new_context(locale="zh-CN", **options)
        await ctx.grant_permissions(["camera", "microphone"])
        if geolocation:
            await ctx.grant_permissions(["geolocation", "camera", "microphone"])
            await ctx.set_geolocation(ACCIDENT)
        contexts.append(ctx)
        page = await ctx.new_page()
        name = f"page{len(contexts)}"
        page.on("console", lambda m: entries.append((name, m.type, f"{m.text} {m.location}")))
        page.on("pageerror", lambda e: entries.append((name, "pageerror", str(e))))
        page.on("response", functools.partial(_on_response, name))
        return page

    def _on_response(name: str, response: Response) -> None:
        if response.status >= 400:
            refusals.append(asyncio.ensure_future(_refused(name, response)))

    async def _refused(name: str, response: Response) -> tuple[str, str, str]:
        """A refused request with what was sent and what came back: Chromium's console line
        names only the status and the URL, which is not enough to tell a flake's cause."""
        try:
            body = (await response.text())[:600]
        except PlaywrightError:
            body = "(body gone)"
        sent = (response.request.post_data or "")[:600]
        return (name, "refused", f"{response.status} {response.url} sent {sent!r} answer {body!r}")

    yield factory
    # The refused requests' answers, read while their pages are still open.
    answers = await asyncio.gather(*refusals, return_exceptions=True)
    # Every page the test opened (and every other tab of their contexts), at the state the
    # test left it in. A page closed, crashed or still navigating is not checked.
    inaccessible: list[str] = []
    for ctx in contexts:
        for page in ctx.pages:
            if page.is_closed() or not page.url.startswith(("http://", "https://")):
                continue
            try:
                found = await asyncio.wait_for(violations(page), AXE_SECONDS)
            except PlaywrightError:
                continue
            except TimeoutError:
                inaccessible.append(f"axe-core did not finish on {page.url} in {AXE_SECONDS} s")
                continue
            inaccessible += [
                f"axe-core on {page.url}: {v['impact']} {v['id']}: {v['help']} at "
                + ", ".join(v["nodes"])
                for v in found
            ]
    for ctx in contexts:
        try:
            await asyncio.wait_for(ctx.close(), AXE_SECONDS)
        except TimeoutError:
            inaccessible.append(f"closing a browser context took more than {AXE_SECONDS} s")
    if inaccessible:
        pytest.fail("\n".join(inaccessible), pytrace=False)
    problems = page_problems(entries, expected_console_errors)
    if problems:
        entries += [a for a in answers if isinstance(a, tuple)]
        console = "\n".join(f"[{page} {kind}] {text}" for page, kind, text in entries[-200:])
        pytest.fail(
            "the page raised or logged an error:\n"
            + "\n".join(problems)
            + f"\n--- browser console ---\n{console}",
            pytrace=False,
        )


Shoot = Callable[[Page, str], Awaitable[Path]]


@pytest.fixture
def shoot(tmp_path: Path) -> Shoot:
    """Save a PNG of the page. With KUAICHU_SCREENSHOTS=1 it goes to docs/screenshots/ (the
    README shows them: ``KUAICHU_SCREENSHOTS=1 scripts/test tests/browser``); otherwise to
    the test's temporary folder, so a test run leaves the checkout clean."""
    folder = SCREENSHOTS if os.environ.get("KUAICHU_SCREENSHOTS") == "1" else tmp_path

    async def take(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        await page.screenshot(path=str(path))
        return path

    return take
