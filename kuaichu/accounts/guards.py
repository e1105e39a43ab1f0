"""Authorization done once: decorators that authenticate a request before its handler runs.

As Starlette's ``requires``: a handler declares who may call it, and receives the
:class:`~kuaichu.accounts.model.Officer` as its second argument instead of looking the session
up itself. The API guards raise :class:`~kuaichu.errors.NotAuthenticated` (401) and
:class:`~kuaichu.errors.Forbidden` (403), which the app's middleware answers as JSON; the page
guard sends a browser to the login form instead.

Insurer accounts (``Role.INSURER``, issue 13) pass only :func:`require_insurer` and
:func:`require_insurer_page`; every officer guard refuses them (403, or a redirect to their
own console for a page).
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
# Where an insurer's staff land (kuaichu.officer_ui's insurer console).
INSURER_HOME = "/insurer"


async def _logged_in(request: web.Request) -> Officer:
    officer = await _any_account(request)
    if officer.is_insurer:
        # An insurer's staff are not officers: the police APIs are closed to them whatever
        # the handler checks after this (issue 13).
        raise Forbidden("for police accounts only", reason="insurer_account")
    return officer


async def _any_account(request: web.Request) -> Officer:
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
        if officer.is_insurer:
            # An insurer's staff have their own console, never a police page.
            raise web.HTTPFound(INSURER_HOME)
        return await handler(request, officer)

    return guarded


def require_insurer(handler: OfficerHandler[_R]) -> Handler[_R]:
    """An API handler for an insurer's staff only (the account carries its insurer's code);
    401 without a session, 403 for a police account."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> _R:
        account = await _any_account(request)
        if not account.is_insurer or not account.insurer:
            raise Forbidden("for insurer accounts only", reason="not_insurer")
        return await handler(request, account)

    return guarded


def require_insurer_page(handler: OfficerHandler[_R]) -> Handler[_R]:
    """The insurer's console page: the login form without a session; a police account is
    sent to its own console."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> _R:
        account = await current_officer(request)
        if account is None:
            raise web.HTTPFound(str(URL("/login").with_query(next=request.path)))
        if not account.is_insurer or not account.insurer:
            raise web.HTTPFound("/console")
        return await handler(request, account)

    return guarded
