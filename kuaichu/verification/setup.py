"""The registry the settings name: the upstream HTTP registry (``--registry-url``), or the
local tables in the server's own database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from ..settings import Settings
from .local import LocalRegistry
from .model import Registry
from .remote import RemoteRegistry


async def open_registry(settings: Settings, engine: AsyncEngine) -> Registry:
    if settings.registry_url:
        return RemoteRegistry(
            settings.registry_url,
            timeout=settings.registry_timeout,
            token=settings.registry_token or None,
        )
    local = LocalRegistry(engine)
    await local.ensure_schema()
    return local
