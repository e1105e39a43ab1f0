"""The open API's part of the start-up (issue 13): API keys, the webhooks' store, the API's
service, and the webhooks' sender: the outbox worker, woken by the hook's doorbell after a
step that queued an event, and polling for due retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import tzinfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ..appkeys import api_keys_key, insurer_events_key, insurers_key, open_api_key, webhooks_key
from ..evidence.ledger import Ledger
from ..insurers import InsurerScope
from ..settings import Settings
from ..storage.casefiles import CaseStore
from ..storage.db import Database
from .keys import ApiKeys
from .service import ClaimDesk, FraudFlags, OpenApi
from .webhooks import WebhookHook, WebhookSender, WebhookStore


@asynccontextmanager
async def running(
    app: web.Application,
    settings: Settings,
    engine: AsyncEngine,
    db: Database,
    ledger: Ledger,
    fraud: FraudFlags,
    claims: ClaimDesk,
    hook: WebhookHook,
    *,
    zone: tzinfo,
) -> AsyncIterator[None]:
    """The API's services in the app; the webhooks' sender runs until the context ends."""
    insurers = app[insurers_key]
    app[insurer_events_key].subscribe(hook.on_insurer_event, hook.ring)
    app[api_keys_key] = ApiKeys(engine, insurers)
    app[webhooks_key] = WebhookStore(engine, insurers)
    app[open_api_key] = OpenApi(
        engine,
        db,
        CaseStore(engine),
        InsurerScope(engine),
        insurers,
        ledger,
        fraud,
        claims,
        recordings_dir=settings.recordings_path,
        zone=zone,
    )
    sender = WebhookSender(
        engine,
        doorbell=hook.doorbell,
        timeout=settings.webhook_timeout,
        poll_interval=settings.webhook_poll_seconds,
        base_backoff=settings.webhook_retry_seconds,
        max_backoff=settings.webhook_retry_max_seconds,
        max_attempts=settings.webhook_attempts,
    )
    sender.start()
    try:
        yield
    finally:
        await sender.close()
