"""create_app(settings): the aiohttp application with every part wired in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from . import auth, caseweb
from .callcenter import SUPERVISOR_NS, CallCenter
from .captures import CaptureDesk
from .casework import CaseWork, CaseWorkConfig
from .documents import Renderer
from .errors import KuaichuError, NotAuthenticated
from .media.plate_reader import PlateReader
from .notify import Notifier, make_adapter
from .queue import Dispatcher
from .queue.eventlog import EventLog
from .queue.memory import MemoryCallQueue
from .settings import Settings, parse_timezone, service_rules
from .signaling.emitter import Emitter
from .signaling.namespaces import DriverNamespace, OfficerNamespace, SupervisorNamespace
from .storage.casefiles import CaseStore
from .storage.db import Database, create_schema, make_engine
from .storage.ledger import Ledger
from .storage.manifest import verify_case_folder
from .storage.signing import ServerKey
from .verification import LocalRegistry, Registry, RemoteRegistry

logger = logging.getLogger(__name__)

from .appkeys import (  # noqa: E402
    accounts_key,
    captures_key,
    casework_key,
    center_key,
    db_key,
    rules_key,
    server_key_key,
    settings_key,
    sio_key,
    zone_key,
)

WALLBOARD_PERIOD = 2.0
HOUSEKEEPING_PERIOD = 3600.0


async def _config(request: web.Request) -> web.Response:
    s = request.app[settings_key]
    urls = [u.strip() for u in s.ice_servers.split(",") if u.strip()]
    return web.json_response({"ice_servers": [{"urls": u} for u in urls]})


async def _call_info(request: web.Request) -> web.Response:
    officer = await auth.current_officer(request)
    if officer is None:
        raise web.HTTPUnauthorized(text="log in first")
    call_id = request.match_info["call_id"]
    info = await request.app[db_key].get_call(call_id)
    if info is None:
        raise web.HTTPNotFound(text="no such call")
    if officer.role != "supervisor" and info["officer_id"] != officer.id:
        raise web.HTTPForbidden(text="not your call")
    return web.json_response(info)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def _service(request: web.Request) -> web.Response:
    """Service hours and area, so the driver page can warn before the questions. The
    report is checked again on the server whatever the page shows."""
    rules = request.app[rules_key]
    zone = request.app[zone_key]
    now = datetime.now(zone)
    body: dict[str, object] = {
        "always_open": rules.hours is None,
        "open_now": True,
        "today": None,
        "next_open": None,
        "next_open_text": None,
        "weekly": None,
        "area_limited": rules.area is not None,
        "areas": [f.name for f in rules.area.features if f.include] if rules.area else [],
    }
    hours = rules.hours
    if hours is not None:
        opening = hours.next_opening(now)
        is_open = hours.is_open(now)
        body.update(
            open_now=is_open,
            today=hours.describe(now),
            next_open=None if is_open or opening is None else opening.isoformat(),
            next_open_text=(
                None if is_open or opening is None else opening.strftime("%Y-%m-%d %H:%M")
            ),
            weekly={
                day: [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in windows]
                for day, windows in zip(_DAYS, hours.weekly, strict=True)
            },
        )
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except KuaichuError as exc:
        return web.json_response({"error": exc.as_dict()}, status=exc.http_status)


async def _wallboard_loop(sio: socketio.AsyncServer, center: CallCenter) -> None:
    while True:
        await asyncio.sleep(WALLBOARD_PERIOD)
        try:
            if sio.manager.rooms.get(SUPERVISOR_NS):
                await sio.emit("wallboard", await center.wallboard(), namespace=SUPERVISOR_NS)
        except Exception:
            logger.exception("wallboard update failed")


async def _housekeeping(casework: CaseWork) -> None:
    """Close notified cases whose review window has passed; hourly is plenty (the window is
    counted in days) and a restart runs it at once."""
    while True:
        try:
            closed = await casework.close_expired()
            if closed:
                logger.info("closed %d case(s) after their review window", len(closed))
        except Exception:
            logger.exception("housekeeping failed")
        await asyncio.sleep(HOUSEKEEPING_PERIOD)


async def _registry(settings: Settings, engine: AsyncEngine) -> Registry:
    if settings.registry_url:
        return RemoteRegistry(
            settings.registry_url,
            timeout=settings.registry_timeout,
            token=settings.registry_token or None,
        )
    local = LocalRegistry(engine)
    await local.ensure_schema()
    return local


async def _public_key(request: web.Request) -> web.Response:
    """The server's Ed25519 public key: anyone holding an evidence folder can check its
    manifest's signatures against it."""
    key = request.app[server_key_key]
    return web.Response(
        text=key.public_key_pem,
        content_type="application/x-pem-file",
        headers={"X-Key-Id": key.key_id},
    )


async def _evidence_verification(request: web.Request) -> web.Response:
    """Check a case's evidence folder against its signed manifest (docs/evidence-manifest.md)."""
    officer = await auth.current_officer(request)
    if officer is None:
        raise NotAuthenticated("log in first")
    case_id = caseweb.case_id_of(request)
    await request.app[casework_key].authorize(officer, case_id)
    key = request.app[server_key_key]
    folder = request.app[settings_key].recordings_path / case_id
    report = await asyncio.to_thread(verify_case_folder, folder, key.public_key)
    body = {**report.to_dict(), "case_id": case_id, "key_id": key.key_id}
    del body["case_dir"]  # server paths stay on the server
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def _first_account(accounts: auth.Accounts, settings: Settings) -> None:
    """A fresh install gets one supervisor account so the console works at once. The
    password is random, shown once in the log and kept in a file only the owner can read."""
    if await accounts.list_officers():
        return
    password = secrets.token_urlsafe(12)
    await accounts.add_officer("admin", password, "管理员", role="supervisor")
    path = settings.data_dir / "initial-admin-password.txt"
    path.write_text(f"username: admin\npassword: {password}\n")
    path.chmod(0o600)
    logger.warning(
        "created the first account: username admin, password %s (also in %s); "
        "add officers with: python server.py officer add NAME",
        password,
        path,
    )


def create_app(settings: Settings) -> web.Application:
    # Read once at start-up; a bad file or value raises InvalidServiceConfig here, before
    # anything listens (the CLI turns it into a one-line message and exit status 1).
    rules = service_rules(settings)
    zone = parse_timezone(settings.timezone)
    renderer = Renderer(settings.pdf_font)  # CjkFontNotFound names the package to install
    app = web.Application(middlewares=[_errors], client_max_size=1024 * 1024)
    app[settings_key] = settings
    app[rules_key] = rules
    app[zone_key] = zone
    # A hard cap at the transport; the per-message 64 KiB limit with a clear error is ours.
    sio = socketio.AsyncServer(
        async_mode="aiohttp", max_http_buffer_size=1024 * 1024, ping_interval=10, ping_timeout=10
    )
    sio.attach(app)
    app[sio_key] = sio

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.recordings_path.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database)
        await create_schema(engine)
        db = Database(engine)
        app[db_key] = db
        accounts = auth.Accounts(db, settings.session_hours * 3600)
        app[accounts_key] = accounts
        await _first_account(accounts, settings)
        emitter = Emitter(sio)
        events = EventLog(db)
        center = CallCenter(
            db,
            emitter,
            settings.recordings_path,
            [u for u in settings.ice_servers.split(",") if u],
            driver_grace=settings.driver_grace_seconds,
            rules=rules,
            zone=zone,
        )
        dispatcher = Dispatcher(
            MemoryCallQueue(),
            events,
            center,
            reservation_timeout=settings.reservation_timeout,
            wrapup_seconds=settings.wrapup_seconds,
            decline_cooldown=settings.decline_cooldown,
            default_handle_seconds=settings.default_handle_seconds,
        )
        center.attach(dispatcher)
        app[center_key] = center
        key = ServerKey.load_or_create(settings.data_dir)
        app[server_key_key] = key
        ledger = Ledger(settings.recordings_path, key)
        center.ledger = ledger
        registry = await _registry(settings, engine)
        # The notifier tells the case work what went out (a served determination starts the
        # review window); the case work is built below, the lambda looks it up when called.
        notifier = Notifier(
            engine, make_adapter(settings), on_sent=lambda message: casework.message_sent(message)
        )
        casework = CaseWork(
            db,
            CaseStore(engine),
            registry,
            renderer,
            CaseWorkConfig(
                base_url=settings.base_url,
                authority=settings.authority,
                document_prefix=settings.document_prefix,
                sms_signature=settings.sms_signature,
                recordings_dir=settings.recordings_path,
                zone=zone,
            ),
            notifier=notifier,
            ledger=ledger,
        )
        casework.live = center
        center.casework = casework
        reader = PlateReader()
        center.captures = CaptureDesk(
            engine, db, ledger, settings.recordings_path, reader, zone=zone
        )
        app[captures_key] = center.captures
        center.auto_plate_seconds = settings.auto_plate_seconds
        app[casework_key] = casework
        limit = settings.max_message_bytes
        sio.register_namespace(DriverNamespace(center, limit))
        sio.register_namespace(OfficerNamespace(center, accounts, limit))
        sio.register_namespace(SupervisorNamespace(center, accounts, limit))
        emitter.start()
        events.start()
        notifier.start()
        wallboard = asyncio.create_task(_wallboard_loop(sio, center), name="wallboard")
        housekeeping = asyncio.create_task(_housekeeping(casework), name="housekeeping")
        # Load the OCR models now (a second or two in a thread), not on the first click.
        warm_up = asyncio.create_task(asyncio.to_thread(reader.warm_up), name="plate-warm-up")
        logger.info("kuaichu ready: data in %s", settings.data_dir.resolve())
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await warm_up
            for task in (wallboard, housekeeping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await center.close()
            await notifier.close()
            await registry.close()
            await emitter.close()
            await events.close()
            await db.close()

    app.cleanup_ctx.append(lifecycle)
    auth.setup_routes(app, secure_cookies=settings.secure_cookies or settings.tls_cert is not None)
    app.router.add_get("/api/config", _config)
    app.router.add_get("/api/calls/{call_id}", _call_info)
    app.router.add_get("/api/service", _service)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/api/keys/evidence.pem", _public_key)
    app.router.add_get("/api/cases/{case_id}/evidence/verify", _evidence_verification)
    caseweb.setup(app)
    try:
        from . import officer_ui
    except ImportError:  # pages land separately; the API works without them
        logger.warning("officer_ui not available")
    else:
        officer_ui.setup(app)
    return app
