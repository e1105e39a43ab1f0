"""Every HTTP route, one module per audience.

- ``cases_api``: the officers' case API (/api/cases/*, /api/reviews)
- ``evidence_api``: stills, annotations, recordings, the driver's photo upload, the evidence
  folder check and the server's public key
- ``calls_api``: a call's record and the ICE configuration
- ``progress``: the parties' progress page (/p/{token}…)
- ``notices_api``: failed notices and their resending (/api/notices/*)
- ``insurer_api``: the insurers' console API, the officers' hand-off, the complaint queue
- ``public``: /verify, /api/service, /healthz
- ``metrics_api``: /api/metrics (supervisors: the event loop's lag)
- ``common``: the JSON body reader and the id validators every handler uses; the
  authorization decorators are :mod:`kuaichu.accounts.guards` (the pages use them too)

Login and logout live with the accounts (:mod:`kuaichu.accounts.web`), the pages in
:mod:`kuaichu.officer_ui`; :func:`setup_routes` adds them all.
"""

from __future__ import annotations

from aiohttp import web

from .. import officer_ui
from ..accounts import web as accounts_web
from ..appkeys import settings_key
from . import (
    calls_api,
    cases_api,
    evidence_api,
    insurer_api,
    metrics_api,
    notices_api,
    progress,
    public,
)


def setup_routes(app: web.Application) -> None:
    """Add every route of the application (``app[settings_key]`` must be set)."""
    settings = app[settings_key]
    accounts_web.setup_routes(
        app, secure_cookies=settings.secure_cookies or settings.tls_cert is not None
    )
    calls_api.setup_routes(app)
    public.setup_routes(app)
    metrics_api.setup_routes(app)
    evidence_api.setup_routes(app)
    cases_api.setup_routes(app)
    progress.setup_routes(app)
    notices_api.setup_routes(app)
    insurer_api.setup_routes(app)
    officer_ui.setup(app)
