"""The evidence kinds have one table (kuaichu.evidence.kinds), and every place that shows a kind
says what it says: the console's buttons and digit keys, the page strings, what a capture may
be, the determination's evidence list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import kuaichu.officer_ui as officer_ui
from kuaichu.accounts import guards
from kuaichu.accounts.model import Officer, Role
from kuaichu.appkeys import rules_key, settings_key
from kuaichu.documents.view import DeterminationView
from kuaichu.evidence import captures, kinds
from kuaichu.evidence.ledger import Ledger
from kuaichu.evidence.manifest import EvidenceManifest
from kuaichu.evidence.signing import ServerKey
from kuaichu.officer_ui.i18n import strings
from kuaichu.settings import Settings, service_rules

LANGS = ("zh-CN", "en")
STATIC = Path(officer_ui.__file__).parent / "static"


def test_captured_kinds_are_the_buttons_in_order_with_digits_one_to_n() -> None:
    assert kinds.CAPTURE_KINDS == ("plate", "damage", "scene", "parties", "licence")
    assert [kinds.shortcut(k) for k in kinds.CAPTURE_KINDS] == [1, 2, 3, 4, 5]
    assert captures.KINDS == kinds.CAPTURE_KINDS
    for lang in LANGS:
        buttons = kinds.capture_buttons(lang)
        assert [b["key"] for b in buttons] == list(kinds.CAPTURE_KINDS)
        assert [b["digit"] for b in buttons] == list(range(1, len(buttons) + 1))
        assert all(b["label"] for b in buttons)
    # Every key is a valid manifest kind (it is written there and into file names).
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,31}", k.key) for k in kinds.KINDS)


@pytest.mark.parametrize("lang", LANGS)
def test_page_strings_label_each_kind_from_the_table(lang: str) -> None:
    labels = kinds.labels(lang)
    assert list(labels) == list(kinds.CAPTURE_KINDS)
    page = strings(lang)
    for key, label in labels.items():
        assert page[f"evi_kind_{key}"] == label


@pytest.mark.parametrize("lang", LANGS)
async def test_console_page_shows_every_kind_with_its_digit_and_label(
    lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = Officer(id=7, username="li", display_name="Li", role=Role.OFFICER)

    async def logged_in(_request: web.Request) -> Officer:
        return officer

    # The page guard looks the session up; this unit test of the page has no database.
    monkeypatch.setattr(guards, "current_officer", logged_in)
    app = web.Application()
    officer_ui.setup(app)
    # The console reads the map's settings (issue 12: the offline sketch of the service area).
    settings = Settings(data_dir=Path("/nonexistent/kuaichu-kinds"))
    app[settings_key], app[rules_key] = settings, service_rules(settings)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/console", params={"lang": lang})
        assert response.status == 200
        html = await response.text()
    bar = html[html.index('id="capture-bar"') :]
    buttons = re.findall(r'<button[^>]*class="[^"]*capture-btn[^"]*"[^>]*>.*?</button>', bar)
    assert len(buttons) == len(kinds.CAPTURE_KINDS)
    for button, kind in zip(buttons, kinds.capture_buttons(lang), strict=True):
        assert f'data-kind="{kind["key"]}"' in button
        assert f'data-digit="{kind["digit"]}"' in button
        assert f'aria-keyshortcuts="{kind["digit"]}"' in button
        assert f"<kbd>{kind['digit']}</kbd> {kind['label']}" in button


def test_the_console_scripts_take_the_kinds_from_the_page() -> None:
    for script in ("console.js", "console/capture.js", "evidence.js"):
        source = (STATIC / script).read_text(encoding="utf-8")
        assert '"plate", "damage"' not in source, script
        assert "Digit([1-5])" not in source, script


async def test_the_determination_lists_each_file_with_its_kinds_text(tmp_path: Path) -> None:
    key = ServerKey.generate()
    folder = tmp_path / "KC20240501K7M3QX"
    folder.mkdir()
    manifest = EvidenceManifest(folder, key)
    for kind in ("plate", "parties", "phone_still", "recording", "document"):
        (folder / f"{kind}.bin").write_bytes(kind.encode())
        manifest.append(folder / f"{kind}.bin", kind)

    listed = await Ledger(tmp_path, key).evidence_list(folder.name)
    assert [(e["kind"], e["kind_text"]) for e in listed] == [
        ("plate", "号牌"),
        ("parties", "双方同框"),
        ("phone_still", "手机照片"),
        ("recording", "通话录像"),
    ]
    assert all(e["kind_text"] == kinds.ledger_text(e["kind"]) for e in listed)

    # A stored list without its text (an older document) shows the table's text too.
    bare = [{k: v for k, v in e.items() if k != "kind_text"} for e in listed]
    view = DeterminationView.from_content({"evidence": bare})
    assert [e.kind_text for e in view.evidence] == [e["kind_text"] for e in listed]
