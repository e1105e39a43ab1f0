"""The determination as an HTML page, and the public authenticity (verify) page.

Both are complete, self-contained pages (inline CSS, the QR code as inline SVG, no scripts, no
external requests), so the determination page can be stored, mailed or opened offline and
still look the same. Every piece of content is escaped by Jinja2's autoescape; the only
markup inserted as-is is the SVG that :mod:`.qr` generated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from .qr import qr_svg
from .view import DASH, PARTY_ROWS, DeterminationView, format_datetime_zh, party_cell

log = logging.getLogger(__name__)

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"

# What the verify page may show, whatever else the caller's result holds: the page is public,
# so it is built from this allow-list rather than from the result as given.
_VERIFY_FIELDS: Final = ("number", "version", "issued_at", "authority", "sha256")


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(dash=DASH, party_rows=PARTY_ROWS, party_cell=party_cell)
    return env


def render_html(
    content: Mapping[str, Any], *, superseded_by: int | None = None, lang: str = "zh-CN"
) -> str:
    """The determination as one HTML page, for the screen (desktop and phone) and for print."""
    view = DeterminationView.from_content(content, superseded_by=superseded_by)
    qr = Markup(qr_svg(view.verify_url)) if view.verify_url else Markup("")
    return _env().get_template("determination.html").render(v=view, qr=qr, lang=lang)


def render_verify_page(result: Mapping[str, Any] | None = None) -> str:
    """The public authenticity page.

    ``result`` is the lookup's answer: ``{"found": True, "number", "version", "issued_at",
    "authority", "status": "current"|"superseded", "superseded_by_version", "sha256"}`` or
    ``{"found": False, "number": <as asked>}``; ``None`` or ``{}`` when nothing was asked,
    which shows only the form. Personal data never reaches the template.
    """
    result = result or {}
    asked = "found" in result
    found = bool(result.get("found"))
    ctx: dict[str, Any] = {key: None for key in _VERIFY_FIELDS}
    if found:
        ctx.update({key: result.get(key) for key in _VERIFY_FIELDS})
        ctx["issued_at"] = format_datetime_zh(result.get("issued_at"))
        if not isinstance(ctx["version"], int) or isinstance(ctx["version"], bool):
            ctx["version"] = None
    superseded_by = result.get("superseded_by_version")
    if not isinstance(superseded_by, int) or isinstance(superseded_by, bool):
        superseded_by = None
    number = result.get("number")
    return (
        _env()
        .get_template("verify.html")
        .render(
            asked=asked,
            found=found,
            superseded=found
            and (result.get("status") == "superseded" or superseded_by is not None),
            superseded_by_version=superseded_by,
            # An agreement document (协议书) is checked on the same page (issue 13).
            noun="协议书" if found and result.get("kind") == "agreement" else "认定书",
            # Asked and not found: the number stays in the form so a typo can be corrected.
            form_number=number if asked and not found and isinstance(number, str) else "",
            **ctx,
        )
    )
