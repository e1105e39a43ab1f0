"""The photo channel's part of the start-up (issue 13): the photo reports' service, and the
sweep that voids the reports never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import tzinfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ..appkeys import photo_reports_key
from ..cases.eligibility import ServiceRules
from ..casework.context import CaseContext
from ..clock import SystemClock
from ..evidence.captures import CaptureDesk
from ..queue import Dispatcher
from ..settings import Settings
from ..storage.db import Database
from .callbacks import VideoCallbacks
from .drafts import DRAFT_SWEEP_SECONDS, DraftSweeper
from .model import PhotoConfig
from .service import PhotoReports


@asynccontextmanager
async def running(
    app: web.Application,
    settings: Settings,
    engine: AsyncEngine,
    db: Database,
    ctx: CaseContext,
    captures: CaptureDesk,
    dispatcher: Dispatcher,
    rules: ServiceRules,
    callbacks: VideoCallbacks,
    *,
    zone: tzinfo,
) -> AsyncIterator[None]:
    """The photo reports in the app; the drafts' sweep runs until the context ends."""
    reports = app[photo_reports_key] = PhotoReports(
        engine,
        db,
        ctx,
        captures,
        dispatcher,
        rules,
        PhotoConfig(
            enabled=settings.photo_channel,
            queue_cap=settings.photo_queue_cap,
            max_wait_seconds=settings.photo_max_wait_seconds,
            draft_expire_seconds=settings.photo_draft_minutes * 60,
        ),
        callbacks,
        zone=zone,
    )
    drafts = DraftSweeper(reports, SystemClock(), DRAFT_SWEEP_SECONDS)
    drafts.start()
    try:
        yield
    finally:
        await drafts.close()
