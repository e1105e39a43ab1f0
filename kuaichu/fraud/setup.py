"""The fraud signals' part of the start-up (issue 13): the service with the ``--fraud-*``
thresholds, in the app for the case page and the supervisors' list, and for the open API."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ..appkeys import fraud_key
from ..settings import Settings
from .rules import Policy
from .service import FraudSignals


def setup(app: web.Application, settings: Settings, engine: AsyncEngine) -> FraudSignals:
    signals = app[fraud_key] = FraudSignals(
        engine,
        Policy(
            window_days=settings.fraud_window_days,
            pair_min=settings.fraud_pair_min,
            gps_km=settings.fraud_gps_km,
            photo_minutes=settings.fraud_photo_minutes,
        ),
    )
    return signals
