"""Authorization done once: decorators that authenticate a request before its handler runs.

As Starlette's ``requires``: a handler declares who may call it, and receives the
:class:`~kuaichu.accounts.model.Officer` as its second argument instead of looking the session
up itself. The API guards raise :class:`~kuaichu.errors.NotAuthenticated` (401) and
:class:`~kuaichu.errors.Forbidden` (403), which the app's middleware answers as JSON; the page
guard sends a browser to the login form instead.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from yarl import URL

from ..errors import Forbidden, NotAuthenticated
from .model import Officer
from .web import current_officer

_R = TypeVar("_R", bound=web.StreamResponse)
OfficerHandler = Callable[[web.Request, Officer], Awaitable[_R]]
Handler = Callable[[web.Request], Awaitable[_R]]


async def _logged_in(request: web.Request) -> Officer:
    officer = await current_officer(request)
    if officer is None:
        raise NotAuthenticated("log in first")
    return officer


def require_officer(handler: OfficerHandler[_R]) -> Handler[_R]:
    """An API handler for any logged-in officer; 401 without a session."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> _R:
        return await handler(request, await _logged_in(request))

    return guarded


def require_supervisor(handler: OfficerHandler[_R]) -> Handler[_R]:
    """An API handler for supervisors only; 401 without a session, 403 for an officer."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> _R:
        officer = await _logged_in(request)
        if not officer.is_supervisor:
            raise Forbidden("for supervisors only")
        return await handler(request, officer)

    return guarded


def require_officer_page(handler: OfficerHandler[_R]) -> Handler[_R]:
    """A page for any logged-in officer; without a session the browser goes to the login
    form, which comes back to this page afterwards."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> _R:
        officer = await current_officer(request)
        if officer is None:
            raise web.HTTPFound(str(URL("/login").with_query(next=request.path)))
        return await handler(request, officer)

    return guarded
