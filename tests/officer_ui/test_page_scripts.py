"""Every script module is reached from a page's script, so its strings reach the page."""

from __future__ import annotations

from kuaichu import officer_ui
from kuaichu.officer_ui.page_strings import STATIC_DIR, module_graph

# Longest a module may grow (issue #8: one concept per module).
MAX_LINES = 500


def test_every_module_is_imported_by_a_page() -> None:
    reached = {path for entry in officer_ui.PAGE_SCRIPTS.values() for path in module_graph(entry)}
    modules = {
        path.resolve()
        for path in STATIC_DIR.rglob("*.js")
        if "vendor" not in path.relative_to(STATIC_DIR).parts
    }
    assert sorted(str(path) for path in modules - reached) == []


def test_bare_imports_are_followed() -> None:
    names = {path.relative_to(STATIC_DIR).as_posix() for path in module_graph("driver.js")}
    assert {"driver/call.js", "driver/devices.js", "driver/still.js", "alerts.js"} <= names
    names = {path.relative_to(STATIC_DIR).as_posix() for path in module_graph("console.js")}
    assert {"console/offer.js", "console/capture.js", "casepanel/panel.js", "alerts.js"} <= names


def test_no_page_module_is_over_the_size_limit() -> None:
    for path in STATIC_DIR.rglob("*.js"):
        if "vendor" in path.relative_to(STATIC_DIR).parts:
            continue
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= MAX_LINES, (path.name, lines)
