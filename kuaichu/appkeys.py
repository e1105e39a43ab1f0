"""Every typed key of the application's shared state, in one place.

The composition root (kuaichu.app) sets them once at start-up; the HTTP edges and pages read
them. Only the types are imported here (under TYPE_CHECKING), so any module can import its
keys without pulling in the services, and no import cycle runs through this file.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING, Final

from aiohttp import web

if TYPE_CHECKING:
    import socketio

    from .accounts.service import Accounts
    from .api.keys import ApiKeys
    from .api.service import OpenApi
    from .api.webhooks import WebhookStore
    from .calls.center import CallCenter
    from .cases.eligibility import ServiceRules
    from .casework import CaseWork
    from .evidence.call_capture import CallCapture
    from .evidence.captures import CaptureDesk
    from .evidence.signing import ServerKey
    from .fraud.service import FraudSignals
    from .insurers import InsurerDirectory, InsurerEvents
    from .insurers.service import InsurerDesk
    from .looplag import GcPauses, LoopLag
    from .media.ice import HandoutLimit, IceConfig
    from .media.uplink import MediaMetrics
    from .photoreports.service import PhotoReports
    from .settings import Settings
    from .storage.db import Database

settings_key: Final[web.AppKey[Settings]] = web.AppKey("settings")
db_key: Final[web.AppKey[Database]] = web.AppKey("db")
sio_key: Final[web.AppKey[socketio.AsyncServer]] = web.AppKey("sio")
rules_key: Final[web.AppKey[ServiceRules]] = web.AppKey("service_rules")
zone_key: Final[web.AppKey[tzinfo]] = web.AppKey("zone", tzinfo)
server_key_key: Final[web.AppKey[ServerKey]] = web.AppKey("server_key")
accounts_key: Final[web.AppKey[Accounts]] = web.AppKey("accounts")
secure_cookies_key: Final[web.AppKey[bool]] = web.AppKey("secure_cookies", bool)
center_key: Final[web.AppKey[CallCenter]] = web.AppKey("callcenter")
call_capture_key: Final[web.AppKey[CallCapture]] = web.AppKey("call_capture")
casework_key: Final[web.AppKey[CaseWork]] = web.AppKey("casework")
captures_key: Final[web.AppKey[CaptureDesk]] = web.AppKey("captures")
loop_lag_key: Final[web.AppKey[LoopLag]] = web.AppKey("loop_lag")
gc_pauses_key: Final[web.AppKey[GcPauses]] = web.AppKey("gc_pauses")
ice_key: Final[web.AppKey[IceConfig]] = web.AppKey("ice")
# issue 13: the photo channel
photo_reports_key: Final[web.AppKey[PhotoReports]] = web.AppKey("photo_reports")
ice_handouts_key: Final[web.AppKey[HandoutLimit]] = web.AppKey("ice_handouts")
# issue 13: the open API and the fraud signals
api_keys_key: Final[web.AppKey[ApiKeys]] = web.AppKey("api_keys")
open_api_key: Final[web.AppKey[OpenApi]] = web.AppKey("open_api")
webhooks_key: Final[web.AppKey[WebhookStore]] = web.AppKey("webhooks")
fraud_key: Final[web.AppKey[FraudSignals]] = web.AppKey("fraud")
# issue 9 (bandwidth): every call's media counters, for GET /api/metrics
media_metrics_key: Final[web.AppKey[MediaMetrics]] = web.AppKey("media_metrics")
# Insurers (issue 13): the configured companies, the event hook the webhooks subscribe to
# (both set in create_app, before any context), and the insurer desk (the insurers context).
insurers_key: Final[web.AppKey[InsurerDirectory]] = web.AppKey("insurers")
insurer_events_key: Final[web.AppKey[InsurerEvents]] = web.AppKey("insurer_events")
insurer_desk_key: Final[web.AppKey[InsurerDesk]] = web.AppKey("insurer_desk")
