"""The pages' strings: both languages in step, and each page embedding only what its scripts use."""

from __future__ import annotations

import json
import re

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kuaichu import officer_ui
from kuaichu.cases.eligibility import AccidentCause, IneligibleReason
from kuaichu.cases.form import VEHICLE_TYPES
from kuaichu.evidence.kinds import labels as kind_labels
from kuaichu.officer_ui.i18n import LOCALES_DIR, STRINGS
from kuaichu.officer_ui.page_strings import STATIC_DIR, lookups, page_strings

TEMPLATES = STATIC_DIR.parent / "templates"
# Keys only the officers' pages use: the driver's phone must not download them.
OFFICER_PREFIXES = ("cp_", "wb_", "rv_", "cases_", "console_", "incoming_", "sms_", "vr_", "fe_")


def test_both_languages_have_the_same_strings() -> None:
    zh, en = STRINGS["zh-CN"], STRINGS["en"]
    assert set(zh) == set(en)
    for key in zh:
        # Placeholders must match, or a sentence loses its number in one language.
        assert set(re.findall(r"\{\w+\}", zh[key])) == set(re.findall(r"\{\w+\}", en[key])), key


def test_every_message_key_exists_in_both_languages() -> None:
    for reason in IneligibleReason:
        assert f"elig_{reason.value}" in STRINGS["zh-CN"]
        assert f"elig_{reason.value}" in STRINGS["en"]
    for cause in AccidentCause:
        assert STRINGS["zh-CN"][f"cause_{cause.value}"] == cause.zh
        assert f"cause_{cause.value}" in STRINGS["en"]
    assert "120" in STRINGS["zh-CN"]["elig_injuries"] and "122" in STRINGS["en"]["elig_injuries"]
    assert "{next_open}" in STRINGS["zh-CN"]["elig_outside_hours"]


def test_vehicle_type_labels_are_the_registration_categories() -> None:
    # The Chinese labels are the ones the registry and the documents use (kuaichu.cases.form).
    for key, label in VEHICLE_TYPES.items():
        assert STRINGS["zh-CN"][f"vt_{key}"] == label
        assert f"vt_{key}" in STRINGS["en"]


def test_every_key_a_page_looks_up_exists_in_both_languages() -> None:
    for template, script in officer_ui.PAGE_SCRIPTS.items():
        found = lookups(script)
        for lang, table in STRINGS.items():
            missing = found.dotted - table.keys()
            assert not missing, (template, lang, sorted(missing))
            for prefix in found.prefixes - {"http_"}:
                assert any(key.startswith(prefix) for key in table), (template, lang, prefix)
        assert set(page_strings("zh-CN", script)) == set(page_strings("en", script))


def test_each_page_names_the_script_it_loads() -> None:
    for template in TEMPLATES.glob("*.html"):
        modules = re.findall(
            r'<script type="module" src="/static/([\w/]+\.js)\?', template.read_text("utf-8")
        )
        assert modules == ([officer_ui.PAGE_SCRIPTS[template.name]] if modules else []), template
        if not modules:
            assert template.name not in officer_ui.PAGE_SCRIPTS


async def test_the_driver_page_embeds_only_its_own_strings() -> None:
    app = web.Application()
    officer_ui.setup(app)
    async with TestClient(TestServer(app)) as client:
        for lang in ("zh-CN", "en"):
            response = await client.get(f"/driver?lang={lang}")
            assert response.status == 200
            body = await response.text()
            blob = re.search(
                r'<script type="application/json" id="kc-strings">(.*?)</script>', body
            )
            assert blob is not None
            embedded = json.loads(blob.group(1))
            assert embedded == page_strings(lang, "driver.js")
            assert embedded["report_button"] == STRINGS[lang]["report_button"]
            assert "elig_injuries" in embedded and "err_generic" in embedded
            assert not [key for key in embedded if key.startswith(OFFICER_PREFIXES)]
            # The whole dictionary is several times what the phone gets.
            assert len(embedded) * 3 < len(STRINGS[lang])


def test_evidence_kind_labels_come_from_the_kinds_table() -> None:
    for lang, table in STRINGS.items():
        for key, label in kind_labels(lang).items():
            assert table[f"evi_kind_{key}"] == label
        # One source: the locale files do not repeat them.
        on_disk = json.loads((LOCALES_DIR / f"{lang}.json").read_text("utf-8"))
        assert not [key for key in on_disk if key.startswith("evi_kind_")]
