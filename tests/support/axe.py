"""axe-core in the page tests (issue 12): the accessibility rules run in the live page, and a
violation of impact moderate or above fails the test.

axe.min.js is vendored under tests/support/vendor (``npm pack axe-core``, MPL-2.0, licence
beside it), not in the product's static files. It is evaluated through the DevTools protocol,
which the pages' Content-Security-Policy (script-src 'self') does not govern, so the page is
checked as served.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
IMPACTS = ("minor", "moderate", "serious", "critical")


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


async def violations(page: Page, least: str = "moderate") -> list[dict[str, Any]]:
    """The rules the page as it stands violates with impact ``least`` or above."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(_source() + "\n;0")
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    floor = IMPACTS.index(least)
    return [v for v in found if IMPACTS.index(v["impact"] or "minor") >= floor]


async def check_accessible(page: Page, where: str) -> None:
    """Fail the test when axe finds a moderate, serious or critical violation."""
    found = await violations(page)
    assert not found, f"axe-core on {where}:\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in found
    )
