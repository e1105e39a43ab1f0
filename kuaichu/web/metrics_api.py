"""Server health for supervisors and the benchmarks: how late the event loop runs, and what
happened to the calls' media (packets lost per leg, NACKs and PLIs, keyframes forwarded,
the REMB each driver is given)."""

from __future__ import annotations

from aiohttp import web

from ..accounts.guards import require_supervisor
from ..accounts.model import Officer
from ..appkeys import gc_pauses_key, loop_lag_key, media_metrics_key
from ..errors import InvalidMessage
from ..looplag import KEEP_SECONDS
from .common import json_response


@require_supervisor
async def metrics(request: web.Request, _officer: Officer) -> web.Response:
    """``?window=S`` (1–300 s, default 60): the event loop's lag p50/p99/max over it, and
    the garbage collector's pauses per generation; the media counters since start-up
    (totals, and each live call's)."""
    raw = request.query.get("window", "60")
    try:
        window = float(raw)
    except ValueError:
        window = -1.0
    if not 1 <= window <= KEEP_SECONDS:
        raise InvalidMessage("window must be a number of seconds from 1 to 300", field="window")
    stats = request.app[loop_lag_key].stats(window)
    return json_response(
        {
            "loop_lag": stats.as_dict(),
            "gc": request.app[gc_pauses_key].stats(window).as_dict(),
            "media": request.app[media_metrics_key].snapshot(),
        }
    )


def setup_routes(app: web.Application) -> None:
    """Add the metrics route."""
    app.router.add_get("/api/metrics", metrics)
