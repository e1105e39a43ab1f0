"""The officer's effort for the standard two-car rear-end case (issue 12): clicks, typed
characters and other key presses, counted while a headless Chromium console does the case as
an officer would (tests/browser/officer_case.py, the same scenario as the layout test).

    .venv/bin/python benchmarks/officer_effort.py

A real server (in this process) with a registry that knows both parties; a simulated driver
reports a rear-end collision from party A's phone and stays in the call; the console at
1920x1080 answers, fills the form, takes the information step, sends the parties away, previews
and issues the determination, hangs up. Prints the counts and every action, and the hands-on
time (wall clock of the scripted run, which has no thinking time: not the officer's minutes).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from sim.client import SimDriver  # noqa: E402
from tests.browser.conftest import BASE_ARGS, CHROMIUM, make_y4m  # noqa: E402
from tests.browser.officer_case import A, Hands, seed_valid_registry, standard_case  # noqa: E402
from tests.support.servers import start_in_process  # noqa: E402


async def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = await start_in_process(
            folder / "data",
            reservation_timeout=20,
            wrapup_seconds=2,
            authority="哈尔滨市公安局交通警察支队",
            document_prefix="哈公交认字",
        )
        try:
            await seed_valid_registry(server.data_dir, folder / "registry")
            camera = make_y4m(folder / "scene.y4m")
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM,
                    args=[*BASE_ARGS, f"--use-file-for-fake-video-capture={camera}"],
                )
                ctx = await browser.new_context(
                    locale="zh-CN", viewport={"width": 1920, "height": 1080}
                )
                await ctx.grant_permissions(["camera", "microphone"])
                page = await ctx.new_page()
                # Signing in and going available are the shift's, not the case's: not counted.
                await page.goto(server.url + "/login?next=/console")
                await page.fill("#username", server.officer_username)
                await page.fill("#password", server.officer_password)
                await page.click("#login-submit")
                await page.wait_for_url(server.url + "/console")
                await page.click("#btn-available")
                driver = await SimDriver(server.url).connect()
                try:
                    await driver.report(lat=45.7567, lng=126.6424, phone=A["phone"])
                    hands = Hands(page)

                    async def nothing(_step: str) -> None:
                        return None

                    started = time.monotonic()
                    await standard_case(hands, nothing)
                    took = time.monotonic() - started
                finally:
                    await driver.close()
                await browser.close()
        finally:
            await server.close()
    counts = hands.summary()
    print(
        f"clicks {counts['clicks']}, typed characters {counts['characters']}, "
        f"other keys {counts['keys']}, scripted run {took:.1f} s"
    )
    for line in hands.log:
        print("  " + line)


if __name__ == "__main__":
    asyncio.run(run())
