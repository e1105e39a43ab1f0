"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, with a fake camera that
plays a clip made here with PyAV and a fake microphone (Chromium's beep)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
    Response,
    async_playwright,
    expect,
)
from playwright.async_api import Error as PlaywrightError

from tests.support.axe import violations
from tests.support.pagecheck import page_problems

# The pages are driven in Chromium's headless shell (Debian's chromium-headless-shell, the
# browser Playwright itself runs headless tests in): the full browser in its new headless mode
# cost the browser tests half as much CPU again (tests/browser, three workers, 2026-12-03: 202
# against 124 CPU-s, 211 against 148 s). The shell lacks what only a browser with a desktop
# has: a test that needs one (the Notification API) is marked ``full_browser`` and gets the
# full Chromium.
# The binary itself, not Debian's /usr/bin/chromium-headless-shell: that wrapper script runs
# it as a child instead of exec'ing it, so stopping the wrapper (and the death signal, which
# only the wrapper had) left every test process's browser running after the suite, 23 of them
# after six runs here (2026-12-03), each playing its fake camera.
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
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

# Each test starts Playwright's Node driver; with V8's compile cache on disk its start costs
# ~0.27 s of CPU instead of ~0.37 s (2026-12-02, five starts each), over a hundred tests.
os.environ.setdefault(
    "NODE_COMPILE_CACHE", str(Path(tempfile.gettempdir()) / "kuaichu-tests-node-cache")
)

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


def _binary(path: str, package: str) -> str:
    if not Path(path).exists():
        pytest.fail(f"{path} is missing: install it with `sudo apt-get install {package}`")
    return path


# What Playwright 1.5x's own launch() passes besides ours (its chromiumSwitches): a Chromium
# started here must behave as one Playwright starts (no background throttling of a page that is
# not in front, no first-run UI, the same hover and pointer media queries). Chromium keeps only
# the last --disable-features, so that one repeats BASE_ARGS' WebRtcHideLocalIpsWithMdns.
PLAYWRIGHT_ARGS = [
    "--disable-field-trial-config",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-back-forward-cache",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-component-extensions-with-background-pages",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-renderer-backgrounding",
    "--allow-pre-commit-input",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--no-default-browser-check",
    "--no-service-autorun",
    "--hide-scrollbars",
    "--mute-audio",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,"
    "primaryPointerType=4,availablePointerTypes=4",
    "--enable-features=CDPScreenshotNewSurface",
    "--disable-features=WebRtcHideLocalIpsWithMdns,AvoidUnnecessaryBeforeUnloadCheckSync,"
    "DestroyProfileOnBrowserClose,HttpsUpgrades,PaintHolding,ThirdPartyStoragePartitioning,"
    "MediaRouter,OptimizationHints",
]


# Looked up here, not in the forked child: a child of a process with threads must not take
# the loader's locks before exec.
_prctl = ctypes.CDLL(None).prctl
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, however it dies (a
    crashed worker must not leave a Chromium running on the CI machine)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Chromiums:
    """One Chromium per test process and camera clip, started once and reached over the
    DevTools protocol by each test's own Playwright (a test has its own event loop, which
    Playwright's connection is bound to, so only the browser process can be shared). Starting
    a Chromium per test cost ~0.4 s of CPU, over a hundred browser tests on two cores
    (2026-12-02). Each test works in browser contexts of its own, which it closes: no cookie,
    storage or cache goes from one test to the next. A Chromium that died is started again.
    ``full``: the full browser instead of the headless shell (:data:`HEADLESS_SHELL`)."""

    def __init__(self, profiles: Path) -> None:
        self._profiles = profiles
        self._running: dict[tuple[bool, Path], tuple[subprocess.Popen[bytes], str]] = {}

    def endpoint(self, camera: Path, *, full: bool = False) -> str:
        running = self._running.get((full, camera))
        if running is not None and running[0].poll() is None:
            return running[1]
        if running is not None:
            self._stop(running[0])
        if full:
            binary = _binary(CHROMIUM, "chromium")
            mode = BASE_ARGS
        else:
            # The shell is headless and has no mode to choose.
            binary = _binary(HEADLESS_SHELL, "chromium-headless-shell")
            mode = [a for a in BASE_ARGS if not a.startswith("--headless")]
        profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=self._profiles))
        proc = subprocess.Popen(
            [
                binary,
                *mode,
                *PLAYWRIGHT_ARGS,
                f"--use-file-for-fake-video-capture={camera}",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # its own process group: stopped with its helpers
        )
        # Chromium writes the port it bound to into the profile once it listens.
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                self._stop(proc)
                pytest.fail(f"Chromium did not start (exit code {proc.returncode})")
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port_file.read_text().split()[0]}"
        self._running[(full, camera)] = (proc, url)
        return url

    def close(self) -> None:
        for proc, _ in self._running.values():
            self._stop(proc)
        self._running.clear()

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Whatever of its process group outlived it (a renderer, the audio service).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def chromiums(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromiums]:
    running = Chromiums(tmp_path_factory.mktemp("chromium"))
    yield running
    running.close()


@pytest.fixture
async def browser(
    chromiums: Chromiums, fake_camera_file: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Browser]:
    """The test process's Chromium for this camera clip, through a Playwright of the test's
    own. Tried 2026-11-30: one Playwright on one event loop per test process saved ~1 min of the
    suite, but in one run of three an in-process server's close then hung (a test's loop
    outlived its server's work); each test has its own loop, and so its own Playwright."""
    full = request.node.get_closest_marker("full_browser") is not None
    endpoint = chromiums.endpoint(fake_camera_file, full=full)
    async with async_playwright() as pw:
        b = await pw.chromium.connect_over_cdp(endpoint)
        try:
            yield b
        finally:
            # Closes the contexts this test made (new_page closes them first) and disconnects.
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
