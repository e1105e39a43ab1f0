"""The media's part of the start-up (issue 9): the ICE servers and aioice's process-wide
policy, the bounds of the drivers' uplink, the counters, and the factory of each call's
server-side media. A bad setting raises here, naming its flag, before anything listens."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..appkeys import ice_handouts_key, ice_key, media_metrics_key
from ..settings import Settings
from . import aioice_tap
from .bandwidth import configured_limits
from .call_media import CallMedia
from .ice import HandoutLimit, IceConfig, aiortc_ice_servers, ice_config
from .uplink import MediaMetrics


def setup(app: web.Application, settings: Settings) -> Callable[..., CallMedia]:
    """The media settings in the app; returns what makes a call's media (CallCenter's
    ``media_factory``)."""
    ice = app[ice_key] = ice_config(settings)  # InvalidIceConfig: a TURN URL without secret
    # Process-wide (aioice has no per-connection option): the server's candidate ports and
    # announced address.
    aioice_tap.set_candidate_policy(ice.port_range, ice.announce_address)
    # issue 9 (health): RFC 7675 consent, bigger UDP receive buffers, no mDNS lookups.
    aioice_tap.install(
        consent_expiry=settings.ice_consent_expiry, receive_buffer=settings.udp_receive_buffer
    )
    app[ice_handouts_key] = HandoutLimit()
    # issue 9 (bandwidth): the REMB bounds of the driver's uplink (bad bitrates stop the
    # start-up here), and the calls' media counters.
    limits = configured_limits(
        settings.video_min_kbps, settings.video_max_kbps, settings.video_start_kbps
    )
    metrics = app[media_metrics_key] = MediaMetrics()
    # The server's peer connections use the configured STUN/TURN servers, with TURN
    # credentials made fresh for each one.
    return functools.partial(
        CallMedia, ice_servers=_server_ice(ice), bandwidth=limits, metrics=metrics
    )


def _server_ice(config: IceConfig) -> Callable[[], list[Any]]:
    """The ICE servers of one new server-side peer connection (fresh TURN credentials)."""
    return lambda: aiortc_ice_servers(config, time.time())
