"""create_app(settings): the aiohttp application with every part wired in."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta, tzinfo
from typing import Any

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from .accounts.model import Role
from .accounts.passwords import PasswordPool
from .accounts.service import Accounts
from .accounts.throttle import LoginPolicy, LoginThrottle
from .api import web as api_web
from .api.keys import ApiKeys
from .api.service import OpenApi
from .api.webhooks import WebhookHook, WebhookSender, WebhookStore
from .appkeys import (
    accounts_key,
    api_keys_key,
    call_capture_key,
    captures_key,
    casework_key,
    center_key,
    db_key,
    fraud_key,
    gc_pauses_key,
    ice_handouts_key,
    ice_key,
    insurer_desk_key,
    insurer_events_key,
    insurers_key,
    loop_lag_key,
    media_metrics_key,
    open_api_key,
    photo_reports_key,
    rules_key,
    server_key_key,
    settings_key,
    sio_key,
    webhooks_key,
    zone_key,
)
from .calls.center import CallCenter
from .calls.fanout import CallFanout
from .calls.recordings import Recordings
from .calls.recovery import Recovery
from .calls.rejoin import RejoinLinks
from .calls.resume import ResumeTokens
from .calls.sessions import CallRegistry
from .calls.wallboard import Wallboard
from .cases.eligibility import ServiceRules
from .cases.errors import InvalidServiceConfig
from .casework import CaseWork, CaseWorkConfig
from .casework.context import CaseContext
from .clock import SystemClock
from .documents import Renderer
from .errors import KuaichuError
from .evidence.call_capture import CallCapture
from .evidence.captures import CaptureDesk
from .evidence.ledger import Ledger
from .evidence.signing import ServerKey
from .fraud import web as fraud_web
from .fraud.rules import Policy as FraudPolicy
from .fraud.service import FraudSignals
from .insurers import InsurerEvents, InsurerScope, load_insurers
from .insurers.service import InsurerConfig, InsurerDesk
from .looplag import GcPauses, LoopLag
from .media import aioice_tap
from .media.bandwidth import configured_limits
from .media.call_media import CallMedia
from .media.ice import HandoutLimit, IceConfig, aiortc_ice_servers, ice_config
from .media.leg_health import HealthPolicy
from .media.plate_reader import PlateReader
from .media.uplink import MediaMetrics
from .notify import Doorbell, Notifier, Outbox, make_adapter
from .officer_ui.mapconfig import check_tiles
from .photoreports import web as photo_web
from .photoreports.callbacks import VideoCallbacks
from .photoreports.drafts import DRAFT_SWEEP_SECONDS, DraftSweeper
from .photoreports.model import PhotoConfig
from .photoreports.service import PhotoReports
from .queue import Dispatcher
from .queue.eventlog import EventLog
from .queue.memory import MemoryCallQueue
from .settings import Settings, parse_timezone, service_rules
from .signaling.base import SignalingServer
from .signaling.driver import DriverNamespace
from .signaling.emitter import Emitter
from .signaling.officer import OfficerNamespace
from .signaling.rooms import DRIVER_NS, OFFICER_NS, SUPERVISOR_NS
from .signaling.supervisor import SupervisorNamespace
from .storage.casefiles import CaseStore
from .storage.db import Database, create_schema, make_engine
from .storage.diskspace import MIB, DiskWatch
from .tasks import TaskOwner
from .threadpriority import BackgroundThreads
from .verification import LocalRegistry, Registry, RemoteRegistry
from .web import rejoin as rejoin_web
from .web import setup_routes
from .web import todo_api as todo_web
from .web.headers import setup_security_headers

logger = logging.getLogger(__name__)


WALLBOARD_PERIOD = 2.0
HOUSEKEEPING_PERIOD = 3600.0
# Of the shutdown bound: kept for what follows the drain (the last events out, the sockets
# and the services closed).
DRAIN_MARGIN = 4.0


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except KuaichuError as exc:
        return web.json_response({"error": exc.as_dict()}, status=exc.http_status)


async def _wallboard_loop(sio: socketio.AsyncServer, wallboard: Wallboard) -> None:
    while True:
        await asyncio.sleep(WALLBOARD_PERIOD)
        try:
            if sio.manager.rooms.get(SUPERVISOR_NS):
                await sio.emit("wallboard", await wallboard.snapshot(), namespace=SUPERVISOR_NS)
        except Exception:
            logger.exception("wallboard update failed")


async def _warm_up(reader: PlateReader) -> None:
    """Load the OCR models in a thread. A failure is not fatal (the first plate reading
    tries again), but it is said."""
    try:
        await asyncio.to_thread(reader.warm_up)
    except Exception as exc:
        logger.warning(
            "plate reader warm-up failed (%s: %s); the first plate reading loads the models",
            type(exc).__name__,
            exc,
        )
        logger.debug("plate reader warm-up failure", exc_info=True)


async def _housekeeping(casework: CaseWork, rejoin: RejoinLinks | None = None) -> None:
    """Close notified cases whose review window has passed; hourly is plenty (the window is
    counted in days) and a restart runs it at once. Expired rejoin links go too (issue 12)."""
    while True:
        try:
            closed = await casework.close_expired()
            if closed:
                logger.info("closed %d case(s) after their review window", len(closed))
            if rejoin is not None:
                swept = await rejoin.sweep()
                if swept:
                    logger.info("swept %d expired rejoin link(s)", swept)
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


async def _first_account(accounts: Accounts, settings: Settings) -> None:
    """A fresh install gets one supervisor account so the console works at once. The
    password is random and written only to a file only the owner can read; the log names the
    file, never the password."""
    if await accounts.list_officers():
        return
    password = secrets.token_urlsafe(12)
    await accounts.add_officer("admin", password, "管理员", role=Role.SUPERVISOR)
    path = settings.data_dir / "initial-admin-password.txt"
    # Created 0600 (not chmod-ed after writing): the password is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"username: admin\npassword: {password}\n")
    path.chmod(0o600)
    logger.warning(
        "created the first account: username admin, its password is in %s (readable by the "
        "owner only); add officers with: python server.py officer add NAME",
        path,
    )


class _Root:
    """The composition root: each service built complete through its constructor, one
    aiohttp cleanup context per service, in dependency order.

    aiohttp enters the contexts in order and leaves them in reverse, and a failure in one
    does not stop the others from closing (it raises one CleanupError naming them all). So
    shutdown runs loops -> calls -> notifier -> registry -> emitter -> event log -> database.
    The cycles between the services are broken by ports built first: the call fan-out (the
    dispatcher's listener and the case work's live calls) needs only the emitter and the
    session registry, and the doorbell sits between the case work and the notifier.
    """

    # Declared here, assigned by the context that builds each (the later contexts read them).
    db: Database
    engine: AsyncEngine
    accounts: Accounts
    ledger: Ledger
    events: EventLog
    emitter: Emitter
    sessions: CallRegistry
    fanout: CallFanout
    registry: Registry
    doorbell: Doorbell
    casework: CaseWork
    center: CallCenter
    wallboard: Wallboard
    reader: PlateReader
    case_config: CaseWorkConfig
    photo_ctx: CaseContext
    callbacks: VideoCallbacks
    dispatcher: Dispatcher
    captures: CaptureDesk
    insurer_desk: InsurerDesk
    webhook_hook: WebhookHook
    disk: DiskWatch

    def __init__(
        self,
        settings: Settings,
        sio: socketio.AsyncServer,
        renderer: Renderer,
        rules: ServiceRules,
        zone: tzinfo,
    ) -> None:
        self.settings = settings
        self.sio = sio
        self.renderer = renderer
        self.rules = rules
        self.zone = zone

    def contexts(self) -> list[Callable[[web.Application], AsyncIterator[None]]]:
        """The cleanup contexts, in start order."""
        return [
            self.database,
            self.event_log,
            self.emitter_ctx,
            self.verification,
            self.case_work,
            self.insurers,
            self.open_api,
            self.recovery,
            self.disk_space,
            self.calls,
            self.photo_channel,
            self.loops,
        ]

    async def database(self, app: web.Application) -> AsyncIterator[None]:
        """The data folder: database, accounts (a first one on a fresh install), signing key."""
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.recordings_path.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.database)
        await create_schema(self.engine)
        self.db = app[db_key] = Database(self.engine)
        # Logins are throttled and hashed on a thread of their own (issue 10).
        passwords = PasswordPool(settings.login_hash_queue)
        try:
            self.accounts = app[accounts_key] = Accounts(
                self.db,
                settings.session_hours * 3600,
                throttle=LoginThrottle(LoginPolicy.from_settings(settings), SystemClock()),
                passwords=passwords,
            )
            await _first_account(self.accounts, settings)
            key = app[server_key_key] = ServerKey.load_or_create(settings.data_dir)
            self.ledger = Ledger(settings.recordings_path, key)
            yield
        finally:
            passwords.close()
            await self.db.close()

    async def event_log(self, _app: web.Application) -> AsyncIterator[None]:
        """The queue event log's writer."""
        self.events = EventLog(self.db)
        self.events.start()
        try:
            yield
        finally:
            await self.events.close()

    async def emitter_ctx(self, _app: web.Application) -> AsyncIterator[None]:
        """The socket emitter, and the call fan-out that only sends through it."""
        self.emitter = Emitter(self.sio)
        self.sessions = CallRegistry()
        self.fanout = CallFanout(self.emitter, self.sessions)
        self.emitter.start()
        try:
            yield
        finally:
            await self.emitter.close()

    async def verification(self, _app: web.Application) -> AsyncIterator[None]:
        """The licence/vehicle/insurance registry (local tables or a remote service)."""
        self.registry = await _registry(self.settings, self.engine)
        try:
            yield
        finally:
            await self.registry.close()

    async def case_work(self, app: web.Application) -> AsyncIterator[None]:
        """The case work and the SMS notifier, with the doorbell between them."""
        settings = self.settings
        doorbell = self.doorbell = Doorbell()
        # issue 13: the insurers' webhooks hear of liability set inside the step's transaction.
        self.webhook_hook = WebhookHook(app[insurers_key], Doorbell())
        self.case_config = CaseWorkConfig(
            base_url=settings.base_url,
            authority=settings.authority,
            document_prefix=settings.document_prefix,
            sms_signature=settings.sms_signature,
            recordings_dir=settings.recordings_path,
            zone=self.zone,
        )
        # issue 13, the photo channel: its case steps share the case work's collaborators.
        self.photo_ctx = CaseContext(
            self.db, CaseStore(self.engine), self.case_config, live=self.fanout, doorbell=doorbell
        )
        self.callbacks = VideoCallbacks(self.photo_ctx)
        self.casework = app[casework_key] = CaseWork(
            self.db,
            CaseStore(self.engine),
            self.registry,
            self.renderer,
            self.case_config,
            live=self.fanout,
            doorbell=doorbell,
            outbox=Outbox(self.engine),
            ledger=self.ledger,
            liability=self.webhook_hook,
        )
        notifier = Notifier(
            self.engine,
            make_adapter(settings),
            doorbell=doorbell,
            on_sent=self.casework.message_sent,
        )
        notifier.start()
        try:
            yield
        finally:
            await notifier.close()

    async def insurers(self, app: web.Application) -> AsyncIterator[None]:
        """The insurer desk (issue 13, kuaichu.insurers): the insurers' console, claims and
        complaints; no task of its own (its SMS go through the case work's notifier)."""
        self.insurer_desk = app[insurer_desk_key] = InsurerDesk(
            CaseContext(
                self.db,
                CaseStore(self.engine),
                self.case_config,
                live=self.fanout,
                doorbell=self.doorbell,
            ),
            self.casework,
            app[insurers_key],
            app[insurer_events_key],
            self.ledger,
            InsurerConfig(
                complaint_after=timedelta(hours=self.settings.complaint_after_hours)
            ),
        )
        yield

    async def open_api(self, app: web.Application) -> AsyncIterator[None]:
        """The insurers' open API and its webhooks' sender, and the fraud signals (issue 13,
        kuaichu.api, kuaichu.fraud). The sender is the webhooks' outbox worker: woken by the
        hook's doorbell after a step that queued an event, and polling for due retries."""
        settings = self.settings
        insurers = app[insurers_key]
        hook = self.webhook_hook
        app[insurer_events_key].subscribe(hook.on_insurer_event, hook.ring)
        fraud = app[fraud_key] = FraudSignals(
            self.engine,
            FraudPolicy(
                window_days=settings.fraud_window_days,
                pair_min=settings.fraud_pair_min,
                gps_km=settings.fraud_gps_km,
                photo_minutes=settings.fraud_photo_minutes,
            ),
        )
        app[api_keys_key] = ApiKeys(self.engine, insurers)
        app[webhooks_key] = WebhookStore(self.engine, insurers)
        app[open_api_key] = OpenApi(
            self.engine,
            self.db,
            CaseStore(self.engine),
            InsurerScope(self.engine),
            insurers,
            self.ledger,
            fraud,
            self.insurer_desk,
            recordings_dir=settings.recordings_path,
            zone=self.zone,
        )
        sender = WebhookSender(
            self.engine,
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

    async def recovery(self, _app: web.Application) -> AsyncIterator[None]:
        """Start-up recovery (kuaichu.calls.recovery), before the call centre accepts calls:
        recordings, calls and waiting cases a killed process left half done."""
        await Recovery(
            self.db,
            self.ledger,
            self.casework,
            self.doorbell,
            recordings_dir=self.settings.recordings_path,
            zone=self.zone,
        ).run()
        yield

    async def drain(self, _app: web.Application) -> None:
        """SIGTERM (aiohttp's on_shutdown: the listener is closed, the sockets still open):
        every page is told ``server_restarting``, new reports are refused, live calls end
        and their recordings are finalized and registered; then every socket is closed, so
        the server stops within ``shutdown_timeout``."""
        budget = max(1.0, self.settings.shutdown_timeout - DRAIN_MARGIN)
        notice = {"reason": "shutdown", "within_s": round(self.settings.shutdown_timeout)}
        center = getattr(self, "center", None)  # None if start-up failed before the calls
        if center is not None:
            center.stop_reports()
        for namespace in (DRIVER_NS, OFFICER_NS, SUPERVISOR_NS):
            await self.sio.emit("server_restarting", notice, namespace=namespace)
        if center is not None:
            await center.drain(budget)
            try:
                await asyncio.wait_for(self.emitter.flush(), DRAIN_MARGIN / 2)
            except TimeoutError:
                logger.warning("draining: the last socket events were not all sent")
        # Close every client's transport: aiohttp would otherwise wait for the websockets.
        # engine.io waits until each socket's queue is sent; a long-polling page that is
        # already gone never takes it, and the close hung for ever (seen in the suite), so
        # the wait is bounded: aiohttp's own shutdown closes what is left.
        if self.sio.eio.sockets:
            try:
                await asyncio.wait_for(self.sio.eio.disconnect(), DRAIN_MARGIN / 2)
            except TimeoutError:
                logger.warning("draining: some sockets did not take their close in time")

    async def disk_space(self, _app: web.Application) -> AsyncIterator[None]:
        """The recordings disk's free space, watched: below the threshold no new call is
        taken and every console is told (``disk_space``)."""
        settings = self.settings
        emitter = self.emitter
        self.disk = DiskWatch(
            settings.recordings_path,
            settings.disk_min_free_mb * MIB,
            settings.disk_check_seconds,
            lambda state: emitter.send("disk_space", state, OFFICER_NS, None),
        )
        await self.disk.check()  # a server started on a full disk refuses its first call
        self.disk.start()
        try:
            yield
        finally:
            await self.disk.close()

    async def calls(self, app: web.Application) -> AsyncIterator[None]:
        """Dispatch, the call centre, evidence from calls, and the socket.io namespaces."""
        settings = self.settings
        dispatcher = Dispatcher(
            MemoryCallQueue(),
            self.events,
            self.fanout,
            reservation_timeout=settings.reservation_timeout,
            wrapup_seconds=settings.wrapup_seconds,
            decline_cooldown=settings.decline_cooldown,
            default_handle_seconds=settings.default_handle_seconds,
        )
        self.dispatcher = dispatcher
        self.reader = PlateReader()
        self.captures = captures = app[captures_key] = CaptureDesk(
            self.engine, self.db, self.ledger, settings.recordings_path, self.reader, zone=self.zone
        )
        evidence = app[call_capture_key] = CallCapture(
            self.sessions,
            self.fanout,
            captures,
            self.casework,
            auto_plate_seconds=settings.auto_plate_seconds,
        )
        self.center = app[center_key] = CallCenter(
            self.db,
            self.sessions,
            self.fanout,
            dispatcher,
            self.casework,
            evidence,
            Recordings(self.db, self.ledger, self.zone),
            self.doorbell,
            recordings_dir=settings.recordings_path,
            driver_grace=settings.driver_grace_seconds,
            officer_grace=settings.officer_grace_seconds,
            # issue 13: an officer's video callback of a photo report opens a call in its case.
            callbacks=self.callbacks,
            # issue 12: the officer can send a dropped driver an SMS link back into the call.
            rejoin=RejoinLinks(
                self.db.engine,
                self.doorbell,
                base_url=settings.base_url,
                signature=settings.sms_signature,
            ),
            # issue 9 (health): failed legs are noticed, re-offered, and re-queued at last.
            health=HealthPolicy(
                settings.leg_connect_timeout, settings.leg_media_timeout, settings.media_reoffers
            ),
            # issue 9: the server's peer connections use the configured STUN/TURN servers,
            # with TURN credentials made fresh for each one.
            media_factory=functools.partial(
                CallMedia,
                ice_servers=_server_ice(app[ice_key]),
                # issue 9 (bandwidth): the REMB bounds of the driver's uplink, media counters.
                bandwidth=configured_limits(
                    settings.video_min_kbps, settings.video_max_kbps, settings.video_start_kbps
                ),
                metrics=app[media_metrics_key],
            ),
            rules=self.rules,
            zone=self.zone,
            tokens=ResumeTokens.load_or_create(settings.data_dir),
        )
        self.wallboard = Wallboard(
            self.sessions,
            dispatcher,
            self.db,
            self.zone,
            complaints=self.insurer_desk.complaint_counts,
        )
        limit = settings.max_message_bytes
        self.sio.register_namespace(DriverNamespace(self.center, limit, admit=self.disk.admit))
        self.sio.register_namespace(
            OfficerNamespace(self.center, evidence, self.accounts, limit, disk=self.disk)
        )
        self.sio.register_namespace(SupervisorNamespace(self.wallboard, self.accounts, limit))
        try:
            yield
        finally:
            try:
                await self.center.close()
            finally:
                dispatcher.close()

    async def photo_channel(self, app: web.Application) -> AsyncIterator[None]:
        """The photo reports (issue 13, kuaichu.photoreports) and the sweep that voids the
        ones never sent."""
        settings = self.settings
        reports = app[photo_reports_key] = PhotoReports(
            self.engine,
            self.db,
            self.photo_ctx,
            self.captures,
            self.dispatcher,
            self.rules,
            PhotoConfig(
                enabled=settings.photo_channel,
                queue_cap=settings.photo_queue_cap,
                max_wait_seconds=settings.photo_max_wait_seconds,
                draft_expire_seconds=settings.photo_draft_minutes * 60,
            ),
            self.callbacks,
            zone=self.zone,
        )
        drafts = DraftSweeper(reports, SystemClock(), DRAFT_SWEEP_SECONDS)
        drafts.start()
        try:
            yield
        finally:
            await drafts.close()

    async def loops(self, app: web.Application) -> AsyncIterator[None]:
        """The wallboard pushes, the hourly housekeeping, the loop-lag sampler and the OCR
        warm-up."""
        tasks = TaskOwner("app")
        loop_lag = app[loop_lag_key] = LoopLag()
        tasks.spawn(loop_lag.run(), "loop-lag")
        gc_pauses = app[gc_pauses_key] = GcPauses()
        gc_pauses.install()
        # issue 9: worker threads run below the loop's CPU priority (kuaichu/threadpriority.py).
        background = BackgroundThreads(self.settings.background_nice)
        tasks.spawn(background.run(), "thread-priority")
        tasks.spawn(_wallboard_loop(self.sio, self.wallboard), "wallboard")
        tasks.spawn(_housekeeping(self.casework, self.center.rejoin), "housekeeping")
        # Load the OCR models now (a second or two in a thread), not on the first click.
        warm_up = tasks.spawn(_warm_up(self.reader), "plate-warm-up")
        logger.info("kuaichu ready: data in %s", self.settings.data_dir.resolve())
        try:
            yield
        finally:
            # The warm-up runs in a thread that cannot be cancelled: let it finish first.
            await asyncio.wait({warm_up})
            await tasks.close()
            gc_pauses.remove()


def _server_ice(config: IceConfig) -> Callable[[], list[Any]]:
    """The ICE servers of one new server-side peer connection (fresh TURN credentials)."""
    return lambda: aiortc_ice_servers(config, time.time())


def create_app(settings: Settings) -> web.Application:
    # Read once at start-up; a bad file or value raises InvalidServiceConfig here, before
    # anything listens (the CLI turns it into a one-line message and exit status 1).
    rules = service_rules(settings)
    zone = parse_timezone(settings.timezone)
    ice = ice_config(settings)  # InvalidIceConfig names the flag (a TURN URL without secret)
    # Process-wide (aioice has no per-connection option): the server's candidate ports and
    # announced address.
    aioice_tap.set_candidate_policy(ice.port_range, ice.announce_address)
    # issue 9 (health): RFC 7675 consent, bigger UDP receive buffers, no mDNS lookups.
    aioice_tap.install(
        consent_expiry=settings.ice_consent_expiry, receive_buffer=settings.udp_receive_buffer
    )
    renderer = Renderer(settings.pdf_font)  # CjkFontNotFound names the package to install
    try:
        insurers = load_insurers(settings.insurers)
    except KuaichuError as exc:
        raise InvalidServiceConfig(f"--insurers: {exc.message}") from None
    app = web.Application(middlewares=[_errors], client_max_size=1024 * 1024)
    app[settings_key] = settings
    app[rules_key] = rules
    check_tiles(settings.map_tiles)  # issue 12: a bad --map-tiles stops the start-up here
    app[zone_key] = zone
    app[insurers_key] = insurers
    app[insurer_events_key] = InsurerEvents()
    app[ice_key] = ice
    app[ice_handouts_key] = HandoutLimit()
    # issue 9 (bandwidth): bad video bitrates stop the start-up here; the calls' media counters.
    configured_limits(settings.video_min_kbps, settings.video_max_kbps, settings.video_start_kbps)
    app[media_metrics_key] = MediaMetrics()
    # A hard cap at the transport; the per-message 64 KiB limit with a clear error is ours.
    sio = SignalingServer(
        async_mode="aiohttp", max_http_buffer_size=1024 * 1024, ping_interval=10, ping_timeout=10
    )
    sio.attach(app)
    app[sio_key] = sio

    root = _Root(settings, sio, renderer, rules, zone)
    app.cleanup_ctx.extend(root.contexts())
    app.on_shutdown.append(root.drain)
    setup_routes(app)
    rejoin_web.setup_routes(app)  # issue 12: rejoin links for dropped drivers
    todo_web.setup_routes(app)  # issue 12: the officer's to-do list
    photo_web.setup_routes(app)  # issue 13: the photo channel
    api_web.setup_routes(app)  # issue 13: the insurers' open API (/api/v1)
    fraud_web.setup_routes(app)  # issue 13: the fraud signals (case page, supervisors' list)
    setup_security_headers(app)
    return app
