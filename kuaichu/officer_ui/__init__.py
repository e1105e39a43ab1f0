"""The pages: driver page, officer console, supervisor wallboard, login.

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
from yarl import URL

from kuaichu import __version__ as _kuaichu_version
from kuaichu.auth import current_officer, safe_next
from kuaichu.officer_ui.i18n import LANG_COOKIE, STRINGS, choose_lang, normalize, strings

STATIC_DIR: Final = Path(__file__).parent / "static"
SUPERVISOR_ROLE: Final = "supervisor"
_LANG_COOKIE_MAX_AGE: Final = 365 * 24 * 3600


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
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    requested = normalize(request.query.get("lang"))
    if requested:
        # Remember an explicit choice so the next page (and the POST /login re-render) keep it.
        response.set_cookie(
            LANG_COOKIE, requested, max_age=_LANG_COOKIE_MAX_AGE, path="/", samesite="Lax"
        )
    return response


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


def _to_login(request: web.Request) -> web.HTTPFound:
    target = URL("/login").with_query(next=request.path)
    return web.HTTPFound(str(target))


async def console_page(request: web.Request) -> web.Response:
    officer = await current_officer(request)
    if officer is None:
        raise _to_login(request)
    return _render(request, "console.html", {"officer": officer})


async def wallboard_page(request: web.Request) -> web.Response:
    officer = await current_officer(request)
    if officer is None:
        raise _to_login(request)
    if officer.role != SUPERVISOR_ROLE:
        return _render(request, "forbidden.html", {"officer": officer}, status=403)
    return _render(request, "wallboard.html", {"officer": officer})


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
