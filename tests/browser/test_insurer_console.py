"""The insurer seat in headless Chromium: a party presses 定损理赔 on the progress page, the
insurer's staff member logs in at the officers' login page, lands in the insurer console,
sees the case (and not the others), opens an evidence file, records "assessed" with an amount
and then "paid"; the party's progress page shows the payment."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import NewPage
from tests.conftest import ServerFactory
from tests.insurers.seed import insurer_account, seed

PASSWORD = "picc-claims-2026"


async def test_insurer_console_from_claim_button_to_paid(
    server_factory: ServerFactory, new_page: NewPage
) -> None:
    # An insurer may leave a claim 0.36 s without acting before the other party complains.
    world = await seed(
        await server_factory(progress_link_code=False, complaint_after_hours=0.0001)
    )
    server = world.server
    await insurer_account(server, "picc", "picc.chen", PASSWORD)
    case = world.determined

    # Party B (the other driver) hands the case to the insurers from the progress page.
    phone = await new_page(phone=True)
    await phone.goto(f"{server.url}/p/{world.tokens[case]['B']}")
    await expect(phone.locator("#pg-claim-button")).to_be_visible()
    await phone.click("#pg-claim-button")
    await expect(phone.locator("#pg-claims li[data-insurer=picc]")).to_contain_text("已移交")
    await expect(phone.locator("#pg-claim-button")).to_be_hidden()

    # The insurer's staff member logs in where the officers do and lands in their console.
    page = await new_page()
    await page.goto(f"{server.url}/insurer")
    await expect(page).to_have_url(f"{server.url}/login?next=/insurer")
    await page.fill("#username", "picc.chen")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{server.url}/insurer")
    await expect(page.locator("#ins-company")).to_have_text("中国人民财产保险")
    rows = page.locator("#ins-cases tr")
    await expect(rows.first).to_have_attribute("data-case", case)  # the work queue first
    listed = set(await rows.evaluate_all("rows => rows.map(r => r.dataset.case)"))
    assert listed == {case, world.agreed}  # not the case before liability, not another's
    await page.click(f"#ins-cases tr[data-case='{case}'] a")
    await expect(page.locator("#ins-case")).to_have_attribute("data-case", case)
    await expect(page.locator("#ins-parties tr[data-party=A] .ins-liability")).to_have_text(
        "全部责任"
    )
    await expect(page.locator("#ins-claim-state")).to_have_text("已移交")
    # The seeded cases share their plates: the insurer sees the fraud signal too.
    await expect(page.locator("#ins-fraud li[data-code=repeat_plate]").first).to_contain_text(
        "京A12345"
    )

    # An evidence file opens in a tab of its own: the JPEG itself.
    async with page.expect_popup() as popup_info:
        await page.click("#ins-evidence .ins-evidence-file")
    popup = await popup_info.value
    await popup.wait_for_load_state()
    size: Any = await popup.evaluate(
        "() => { const i = document.querySelector('img');"
        " return i && [i.naturalWidth, i.naturalHeight]; }"
    )
    assert size == [64, 48]
    await popup.close()

    # received, then assessed with the amount, then paid.
    for status, amount in (("received", None), ("assessed", "1234.50"), ("paid", None)):
        await page.select_option("#ins-status", status)
        if amount:
            await page.fill("#ins-amount", amount)
        await page.click("#ins-claim-submit")
        await expect(page.locator("#ins-claim-state")).to_have_attribute("data-status", status)
    await expect(page.locator("#ins-claim-state")).to_have_text("已赔付 1234.50 元")
    await expect(page.locator("#ins-claim-form")).to_be_hidden()  # paid is final

    # The party sees it on the progress page.
    await phone.reload()
    await expect(phone.locator("#pg-claims li[data-insurer=picc]")).to_contain_text(
        "已赔付 1234.50 元"
    )

    # An officer hands the agreed case off from its case page, where the agreement's own
    # document is listed too.
    officer = await new_page()
    target = f"/cases/{world.agreed}"
    await officer.goto(server.url + target)
    await officer.fill("#username", server.supervisor_username)
    await officer.fill("#password", server.supervisor_password)
    await officer.click("#login-submit")
    await expect(officer).to_have_url(server.url + target)
    await expect(officer.locator("#cc-agreement-docs a.cc-doc-pdf")).to_have_attribute(
        "href", f"/api/cases/{world.agreed}/agreement-documents/1.pdf"
    )
    await expect(officer.locator("#cc-empty")).to_be_visible()
    await officer.click("#cc-handoff")
    await expect(officer.locator("#cc-list li[data-insurer=cpic]")).to_contain_text("已移交")
    await expect(officer.locator("#cc-list li[data-insurer=picc]")).to_contain_text("已移交")

    # Party A complains that B's insurer (平安) has not acted on its claim ...
    phone_a = await new_page(phone=True)
    await phone_a.goto(f"{server.url}/p/{world.tokens[case]['A']}")
    await expect(phone_a.locator("#pg-complaint-form")).to_be_visible()
    await phone_a.fill("#pg-complaint-text", "平安保险一直没有联系我")
    await phone_a.click("#pg-complaint-submit")
    await expect(phone_a.locator("#pg-complaints li")).to_contain_text("投诉已受理")
    await expect(phone_a.locator("#pg-complaint-form")).to_be_hidden()
    # ... which the wallboard counts, and the supervisor finds in the queue and calls back.
    await officer.goto(server.url + "/wallboard")
    await expect(officer.locator("#wb-complaints")).to_have_text("1")
    await expect(officer.locator("#wb-complaints-overdue")).to_have_text("0")
    await officer.click("#wb-complaints-tile")
    await expect(officer).to_have_url(server.url + "/complaints")
    item = officer.locator("#cpl-list li").first
    await expect(item.locator(".cpl-text")).to_have_text("平安保险一直没有联系我")
    await expect(item.locator(".cpl-insurer")).to_have_text("中国平安财产保险")
    await item.locator("textarea").fill("已联系平安，今日派查勘员")
    await item.locator("button[type=submit]").click()
    await expect(officer.locator("#cpl-list li .cpl-called")).to_contain_text("已联系平安")
    await phone_a.reload()
    await expect(phone_a.locator("#pg-complaints li")).to_contain_text("已联系平安")
