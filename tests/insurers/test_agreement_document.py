"""The approved agreement's own document (协议书): numbered, versioned, HTML and PDF for the
parties, the officers and the insurer, and its QR code leads to the public authenticity
page, which confirms it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from kuaichu.appkeys import accounts_key, casework_key
from kuaichu.cases.errors import IllegalTransition
from tests.conftest import ServerFactory
from tests.documents.conftest import Tools
from tests.insurers.seed import World, insurer_account, seed
from tests.insurers.test_desk import Client


@pytest.fixture
def tools() -> Tools:
    return Tools()


@pytest.fixture
async def world(server_factory: ServerFactory) -> World:
    return await seed(await server_factory(progress_link_code=False))


async def test_the_agreement_document_decodes_reads_and_verifies(
    world: World, tmp_path: Path, tools: Tools
) -> None:
    assert world.server.app is not None
    async with aiohttp.ClientSession() as http:
        party = Client(http, world.server.url, None)
        token = world.tokens[world.agreed]["B"]
        status, pdf, resp = await party.get(f"/p/{token}/agreement-document.pdf")
        assert status == 200 and resp.content_type == "application/pdf"
        path = tmp_path / "agreement.pdf"
        path.write_bytes(pdf)
        # poppler renders it (a real PDF) and reads the agreement's words back.
        pages = tools.to_png(path, tmp_path / "png", dpi=150, first=1)
        assert pages and tools.ink(pages[0]) > 0.01
        text = tools.flat(path)
        number = f"[{world.agreed[2:6]}]协第{world.agreed}号"
        assert "道路交通事故自行协商协议书" in text
        assert number in text and "第1版" in text
        assert "协商结果" in text and "同等责任" in text
        assert "认定书" not in text  # not a determination
        # The QR code on page 1 leads to the authenticity page, which confirms the document.
        urls = tools.decode_qr(pages[0])
        assert urls, "no QR code found on page 1"
        url = urlsplit(urls[0])
        assert url.path == "/verify"
        status, page, _ = await party.get(f"/verify?{url.query}")
        html = page.decode()
        assert status == 200
        assert "核验通过：协议书真实有效" in html and number in html
        # The code as typed from the paper in lower case is the same code (as a
        # determination's); a wrong code is not confirmed.
        number_part, code = url.query.rsplit("&c=", 1)
        status, page, _ = await party.get(f"/verify?{number_part}&c={code.lower()}")
        assert "核验通过：协议书真实有效" in page.decode()
        status, page, _ = await party.get(f"/verify?{url.query[:-2]}ZZ")
        assert "未找到相符的认定书" in page.decode()

        # The HTML version for the party; the officers' and the insurer's copies.
        status, page, _ = await party.get(f"/p/{token}/agreement-document")
        assert status == 200 and "自行协商协议书" in page.decode()
        session = await world.server.app[accounts_key].open_session(world.supervisor)
        police = Client(http, world.server.url, session)
        status, officer_pdf, _ = await police.get(
            f"/api/cases/{world.agreed}/agreement-documents/1.pdf"
        )
        assert status == 200 and officer_pdf == pdf
        status, _, _ = await police.get(f"/api/cases/{world.agreed}/agreement-documents/2.pdf")
        assert status == 404
        _, cpic_session = await insurer_account(world.server, "cpic", "cpic.zhou")
        cpic = Client(http, world.server.url, cpic_session)
        status, case, _ = await cpic.get(f"/api/insurer/cases/{world.agreed}")
        assert status == 200
        assert case["agreement"]["number"].endswith(number) and case["determination"] is None
        status, insurer_pdf, _ = await cpic.get(
            f"/api/insurer/cases/{world.agreed}/documents/agreement.pdf"
        )
        assert insurer_pdf == pdf
        # A determined case has no agreement document for anyone.
        status, _, _ = await party.get(
            f"/p/{world.tokens[world.determined]['A']}/agreement-document"
        )
        assert status == 404

        # Approving the closed case again is refused before any PDF is written.
        folder = world.server.data_dir / "recordings" / world.agreed
        with pytest.raises(IllegalTransition):
            await world.server.app[casework_key].approve_agreement(
                world.supervisor, world.agreed, True
            )
        assert sorted(p.name for p in folder.glob("agreement-*.pdf")) == ["agreement-v1.pdf"]
