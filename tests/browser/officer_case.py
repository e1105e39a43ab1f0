"""The standard two-car rear-end case, done in the console as an officer does it (issue 12):
every click and key press goes through :class:`Hands`, which counts them, so the same run is
the layout test's scenario and the effort measurement (benchmarks/officer_effort.py).

Both parties' papers are in order in the registry (the standard case); the driver reported a
rear-end collision from party A's phone. The officer types what only the parties can say
(names, ID numbers, plates, B's phone, the address) and lets the rest come from the registry
(vehicle types, insurers, policies) and the cause's preset (description, fault, legal basis,
liabilities)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.support.registry import import_registry

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """A resident ID number (GB 11643) with its check character."""
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


A: dict[str, str] = {
    "name": "李明",
    "phone": "13800138000",
    "licence_no": id_number("23010319880512001"),
    "plate": "黑A12345",
    "plate_canonical": "黑A·12345",
    "insurer": "中国人民财产保险股份有限公司哈尔滨市分公司",
    "policy_no": "PDZA202423010000001",
}
B: dict[str, str] = {
    "name": "王芳",
    "phone": "13900139000",
    "licence_no": id_number("23010219900303002"),
    "plate": "黑AD12345",
    "plate_canonical": "黑A·D12345",
    "insurer": "中国平安财产保险股份有限公司黑龙江分公司",
    "policy_no": "PDZA202423010000002",
}
ADDRESS = "红军街15号"


async def seed_valid_registry(data_dir: Path, folder: Path) -> None:
    """Both parties' licence, vehicle and 交强险 valid."""
    folder.mkdir(parents=True, exist_ok=True)

    def csv(name: str, header: str, *rows: str) -> Path:
        path = folder / name
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        return path

    await import_registry(
        data_dir,
        {
            "licences": csv(
                "licences.csv",
                "licence_no,name,licence_class,first_issued,valid_from,valid_until,status",
                f"{A['licence_no']},{A['name']},C1,2010-06-01,2016-06-01,2040-06-01,normal",
                f"{B['licence_no']},{B['name']},C1,2012-03-01,2018-03-01,2040-03-01,normal",
            ),
            "vehicles": csv(
                "vehicles.csv",
                "plate,plate_colour,vehicle_type,brand_model,body_colour,owner_name,vin,"
                "registered_on,inspection_valid_until,status",
                f"{A['plate_canonical']},blue,小型轿车,大众牌FV7152,白,{A['name']},"
                "LFV2A21K6A3000001,2018-05-01,2040-05-01,normal",
                f"{B['plate_canonical']},green,小型轿车,比亚迪牌BYD7005,蓝,{B['name']},"
                "LGXC16DF9K0000002,2019-08-01,2040-08-01,normal",
            ),
            "policies": csv(
                "policies.csv",
                "policy_no,plate,insurer,kind,valid_from,valid_until",
                f"{A['policy_no']},{A['plate_canonical']},{A['insurer']},compulsory,"
                "2020-01-01,2040-12-31",
                f"{B['policy_no']},{B['plate_canonical']},{B['insurer']},compulsory,"
                "2020-01-01,2040-12-31",
            ),
        },
    )


@dataclass
class Hands:
    """The officer's mouse and keyboard, counted: a click (a select's open and choice are two),
    the characters typed, and the other keys pressed (Tab, shortcuts)."""

    page: Page
    clicks: int = 0
    chars: int = 0
    keys: int = 0
    log: list[str] = field(default_factory=list)

    async def click(self, selector: str) -> None:
        await self.page.click(selector)
        self.clicks += 1
        self.log.append(f"click {selector}")

    async def type_into(self, selector: str, text: str, *, focused: bool = False) -> None:
        """Click into the field (unless the page already put the cursor there) and type."""
        if focused:
            await expect(self.page.locator(selector)).to_be_focused()
        else:
            await self.click(selector)
        await self.page.keyboard.type(text)
        self.chars += len(text)
        self.log.append(f"type {selector} {text!r}")

    async def key(self, combo: str) -> None:
        await self.page.keyboard.press(combo)
        self.keys += 1
        self.log.append(f"key {combo}")

    def summary(self) -> dict[str, int]:
        return {"clicks": self.clicks, "characters": self.chars, "keys": self.keys}


Check = Callable[[str], Awaitable[None]]


async def standard_case(hands: Hands, check: Check, driver_leave: Any = None) -> None:
    """From the ringing console to the issued determination and the wrap-up; ``check(step)``
    runs after every step (the layout test asserts the one-screen rules there)."""
    page = hands.page
    await expect(page.locator("#panel-incoming")).to_be_visible()
    await hands.click("#btn-accept")
    await expect(page.locator("#cp-cause")).to_have_value("rear_end")
    await expect(page.locator("#cp-A-phone")).to_have_value(A["phone"])
    await check("answered")

    await hands.type_into("#cp-A-name", A["name"])
    await hands.type_into("#cp-A-licence_no", A["licence_no"])
    # An ID number typed to its 18th character takes the cursor to the plate, a mobile number
    # to the ID number (no click between them).
    await hands.type_into("#cp-A-plate", A["plate"], focused=True)
    await hands.key("Alt+P")  # add party B: the cursor lands in B's name
    await hands.type_into("#cp-B-name", B["name"], focused=True)
    await hands.type_into("#cp-B-phone", B["phone"])
    await hands.type_into("#cp-B-licence_no", B["licence_no"], focused=True)
    await hands.type_into("#cp-B-plate", B["plate"], focused=True)
    await hands.type_into("#cp-address", ADDRESS)
    await check("typed")

    # The registry fills what it confirms, for both parties, without a click.
    for who in (A, B):
        key = "A" if who is A else "B"
        await expect(page.locator(f"#cp-{key}-vehicle_type")).to_have_value("small_car")
        await expect(page.locator(f"#cp-{key}-policy_no")).to_have_value(who["policy_no"])
        await expect(page.locator(f"#cp-{key}-insurer")).to_have_value(who["insurer"])
    # The rear-end preset: A ran into B.
    await hands.key("Alt+A")
    await expect(page.locator("#cp-A-liability")).to_have_value("full")
    await expect(page.locator("#cp-B-liability")).to_have_value("none")
    await expect(page.locator("#cp-description")).to_have_value(re.compile("追尾前方B车"))
    await expect(page.locator("#cp-A-fault")).to_have_value("未与前车保持安全距离")
    await expect(page.locator("#cp-save-state")).to_have_attribute("data-state", "saved")
    await expect(page.locator("#cp-missing")).to_be_hidden()
    await check("filled")

    await hands.key("Alt+I")
    await expect(page.locator("#cp-status")).to_have_text("信息采集完成")
    await check("information")
    await hands.key("Alt+L")
    await expect(page.locator("#cp-dialog")).to_be_visible()
    await hands.key("Enter")  # the dialog's confirm button has the focus
    await expect(page.locator("#cp-status")).to_have_text("已撤离现场")
    if driver_leave is not None:
        await driver_leave()
    await check("left")

    await hands.key("Alt+D")
    preview = page.locator("#cp-preview")
    await expect(preview).to_be_visible()
    await expect(preview.locator("tr[data-party=A] .cp-preview-liab")).to_have_text("全部责任")
    await expect(preview.locator("tr[data-party=B] .cp-preview-liab")).to_have_text("无责任")
    await expect(preview).to_contain_text("未与前车保持安全距离")
    await expect(preview).to_contain_text(ADDRESS)
    await check("preview")
    await hands.key("Enter")
    # Issuing renders the HTML and the PDF: allow a shared machine its time.
    await expect(page.locator("#cp-result")).to_contain_text("（第 1 版）", timeout=30000)
    await expect(page.locator("#cp-docs .cp-doc")).to_have_count(1)
    await check("determined")

    await hands.key("Alt+H")
    await expect(page.locator("#panel-wrapup")).to_be_visible()
    await check("wrap-up")
