"""The insurers' part of the start-up (issue 13): the configured companies and the hook of
their events, read before anything listens, and the insurer desk once the case work is up."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from ..appkeys import insurer_desk_key, insurer_events_key, insurers_key
from ..cases.errors import InvalidServiceConfig
from ..casework import CaseWork
from ..casework.context import CaseContext
from ..errors import KuaichuError
from ..evidence.ledger import Ledger
from ..settings import Settings
from .events import InsurerEvents
from .model import load_insurers
from .service import InsurerConfig, InsurerDesk


def setup(app: web.Application, settings: Settings) -> None:
    """The ``--insurers`` directory and the events' hook; a bad setting raises
    InvalidServiceConfig naming the flag, before anything listens."""
    try:
        insurers = load_insurers(settings.insurers)
    except KuaichuError as exc:
        raise InvalidServiceConfig(f"--insurers: {exc.message}") from None
    app[insurers_key] = insurers
    app[insurer_events_key] = InsurerEvents()


def desk(
    app: web.Application,
    settings: Settings,
    ctx: CaseContext,
    casework: CaseWork,
    ledger: Ledger,
) -> InsurerDesk:
    """The insurers' console, claims and complaints; no task of its own (its SMS go through
    the case work's notifier)."""
    made = app[insurer_desk_key] = InsurerDesk(
        ctx,
        casework,
        app[insurers_key],
        app[insurer_events_key],
        ledger,
        InsurerConfig(complaint_after=timedelta(hours=settings.complaint_after_hours)),
    )
    return made
