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
    from .calls.center import CallCenter
    from .cases.eligibility import ServiceRules
    from .casework import CaseWork
    from .evidence.call_capture import CallCapture
    from .evidence.captures import CaptureDesk
    from .evidence.signing import ServerKey
    from .looplag import LoopLag
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
