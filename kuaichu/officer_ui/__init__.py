"""The pages: driver page, officer console, supervisor wallboard, login, and the case
workflow's pages (the officer's cases, one case, the supervisor's review queue, the parties'
progress page, which kuaichu.web.progress serves through :func:`render_page`).

Server-rendered Jinja2 plus small vanilla JS modules under ``static/``. Everything a page needs
is served from here (the socket.io client is vendored in ``static/vendor``): deployments are often
on closed networks with no CDN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import aiohttp_jinja2
import jinja2
from aiohttp import web

from kuaichu import __version__ as _kuaichu_version
from kuaichu.accounts.guards import require_insurer_page, require_officer_page
from kuaichu.accounts.model import Officer
from kuaichu.accounts.web import safe_next
from kuaichu.appkeys import insurer_desk_key, rules_key, settings_key
from kuaichu.cases.eligibility import AccidentCause
from kuaichu.cases.form import (
    ID_NUMBER_SHAPE,
    MAX_DESCRIPTION,
    MAX_PARTIES,
    MOBILE_PATTERN,
    PARTY_KEYS,
    VEHICLE_TYPES,
)
from kuaichu.cases.ids import CASE_ID_PATTERN, CASE_ID_RE
from kuaichu.cases.liability import Liability, counterpart
from kuaichu.cases.plates import TYPED_IN_FULL as PLATE_TYPED_IN_FULL
from kuaichu.cases.presets import presets_for_page
from kuaichu.cases.states import (
    BEFORE_DETERMINATION,
    CORRECTION_STATES,
    DETERMINATION_TARGET,
    INFORMATION_TARGET,
)
from kuaichu.evidence.kinds import capture_buttons
from kuaichu.officer_ui.i18n import LANG_COOKIE, STRINGS, choose_lang, normalize, strings
from kuaichu.officer_ui.mapconfig import map_config
from kuaichu.officer_ui.page_strings import page_strings

STATIC_DIR: Final = Path(__file__).parent / "static"
_LANG_COOKIE_MAX_AGE: Final = 365 * 24 * 3600

# Each page's script (under static/): the page embeds the strings that script and its imports
# look up (kuaichu.officer_ui.page_strings). A template not listed has no script.
PAGE_SCRIPTS: Final[dict[str, str]] = {
    "driver.html": "driver.js",
    "console.html": "console.js",
    "wallboard.html": "wallboard.js",
    "cases.html": "cases.js",
    "case.html": "case.js",
    "reviews.html": "reviews.js",
    "progress.html": "progress.js",
    "insurer.html": "insurer.js",
    "complaints.html": "complaints.js",
}


async def _page_context(request: web.Request) -> dict[str, Any]:
    """Context every template gets, including ones rendered by other packages (POST /login)."""
    lang = choose_lang(request)
    other = STRINGS[lang]["other_lang_code"]
    return {
        "t": strings(lang),
        "lang": lang,
        "lang_switch_url": str(request.rel_url.update_query(lang=other)),
        "static_version": _kuaichu_version,
    }


def _render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    strings_of_page = page_strings(choose_lang(request), PAGE_SCRIPTS.get(template))
    context = {**context, "page_strings": strings_of_page}
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    requested = normalize(request.query.get("lang"))
    if requested:
        # Remember an explicit choice so the next page (and the POST /login re-render) keep it.
        response.set_cookie(
            LANG_COOKIE, requested, max_age=_LANG_COOKIE_MAX_AGE, path="/", samesite="Lax"
        )
    return response


def render_page(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """Render one of this package's templates with the page context (strings, language).
    Other packages' page routes (kuaichu.web.progress) go through here."""
    return _render(request, template, context, status=status)


def render_login(
    request: web.Request, error: str | None = None, next_url: str | None = None, status: int = 200
) -> web.Response:
    """Render the login form; ``error`` is an i18n key (e.g. ``login_error_generic``) or text."""
    return _render(
        request, "login.html", {"error": error, "next": safe_next(next_url)}, status=status
    )


async def index(request: web.Request) -> web.Response:
    return _render(request, "index.html", {})


async def driver_page(request: web.Request) -> web.Response:
    return _render(request, "driver.html", {})


async def login_page(request: web.Request) -> web.Response:
    return render_login(request, None, request.query.get("next"))


@require_officer_page
async def console_page(request: web.Request, officer: Officer) -> web.Response:
    capture_kinds = capture_buttons(choose_lang(request))
    context = {"officer": officer, "capture_kinds": capture_kinds, **_case_form_context()}
    # issue 12: the offline map (the sketch, or the centre's own tile server).
    context["map_config"] = map_config(
        request.app[settings_key].map_tiles, request.app[rules_key].area
    )
    return _render(request, "console.html", context)


@require_officer_page
async def wallboard_page(request: web.Request, officer: Officer) -> web.Response:
    if not officer.is_supervisor:
        return _render(request, "forbidden.html", {"officer": officer}, status=403)
    return _render(request, "wallboard.html", {"officer": officer})


def _case_form_context() -> dict[str, Any]:
    """What the case panel's selects and limits are built from: the domain's own lists, so a
    cause or vehicle type added there appears in the form."""
    # Imported here: the case work pulls in the document renderer, which the other pages
    # do not need.
    from kuaichu.casework.determination import LEGAL_BASIS_DEFAULT

    return {
        "causes": [c.value for c in AccidentCause],
        "vehicle_types": list(VEHICLE_TYPES),
        "liabilities": [item.value for item in Liability],
        "max_description": MAX_DESCRIPTION,
        "max_parties": MAX_PARTIES,
        "legal_basis_default": LEGAL_BASIS_DEFAULT,
        "information_target_min": int(INFORMATION_TARGET.total_seconds()) // 60,
        "determination_target_min": int(DETERMINATION_TARGET.total_seconds()) // 60,
        # The rules the panel's script applies before asking the server (casepanel/rules.js).
        "case_rules": {
            "case_id_pattern": f"^{CASE_ID_PATTERN}$",
            "party_keys": list(PARTY_KEYS),
            "counterpart": {item.value: counterpart(item).value for item in Liability},
            "correction_states": sorted(CORRECTION_STATES),
            "active_states": sorted(BEFORE_DETERMINATION),
            # issue 12: the text presets per cause (kuaichu.cases.presets).
            "presets": presets_for_page(),
            # issue 12: a field typed to its last character moves the cursor on (form.js).
            "complete": {
                "phone": MOBILE_PATTERN,
                "licence_no": ID_NUMBER_SHAPE,
                "plate": PLATE_TYPED_IN_FULL,
            },
        },
    }


@require_officer_page
async def cases_page(request: web.Request, officer: Officer) -> web.Response:
    return _render(request, "cases.html", {"officer": officer})


@require_officer_page
async def case_page(request: web.Request, officer: Officer) -> web.Response:
    case_id = request.match_info["case_id"]
    if not CASE_ID_RE.match(case_id):
        raise web.HTTPNotFound(text="no such case")
    # Whether this officer may see the case is the API's answer; the page shows it.
    context = {"officer": officer, "case_id": case_id, **_case_form_context()}
    # issue 12: the offline map (the sketch, or the centre's own tile server).
    context["map_config"] = map_config(
        request.app[settings_key].map_tiles, request.app[rules_key].area
    )
    return _render(request, "case.html", context)


@require_officer_page
async def reviews_page(request: web.Request, officer: Officer) -> web.Response:
    if not officer.is_supervisor:
        return _render(request, "forbidden.html", {"officer": officer}, status=403)
    return _render(request, "reviews.html", {"officer": officer})


@require_insurer_page
async def insurer_page(request: web.Request, account: Officer) -> web.Response:
    """An insurer's console (issue 13): its policyholders' cases once liability is set."""
    insurer = request.app[insurer_desk_key].insurer_of(account)
    return _render(request, "insurer.html", {"officer": account, "insurer": insurer})


@require_officer_page
async def complaints_page(request: web.Request, officer: Officer) -> web.Response:
    """The supervisors' claim-complaint queue (issue 13), next to the reviews."""
    if not officer.is_supervisor:
        return _render(request, "forbidden.html", {"officer": officer}, status=403)
    return _render(request, "complaints.html", {"officer": officer})


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("kuaichu.officer_ui", "templates"),
        autoescape=True,
        context_processors=[_page_context],
    )
    app.router.add_static("/static/", STATIC_DIR, name="static")
    app.router.add_get("/", index, name="index")
    app.router.add_get("/driver", driver_page, name="driver")
    app.router.add_get("/console", console_page, name="console")
    app.router.add_get("/wallboard", wallboard_page, name="wallboard")
    app.router.add_get("/login", login_page, name="login")
    app.router.add_get("/cases", cases_page, name="cases")
    app.router.add_get("/cases/{case_id}", case_page, name="case")
    app.router.add_get("/reviews", reviews_page, name="reviews")
    app.router.add_get("/insurer", insurer_page, name="insurer")
    app.router.add_get("/complaints", complaints_page, name="complaints")
