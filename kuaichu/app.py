"""create_app(settings): the aiohttp application with every part wired in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import tzinfo

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from .accounts.first_account import ensure_first_account
from .accounts.passwords import PasswordPool
from .accounts.service import Accounts
from .accounts.throttle import LoginPolicy, LoginThrottle
from .api import setup as api_setup
from .api import web as api_web
from .api.webhooks import WebhookHook
from .appkeys import (
    accounts_key,
    call_capture_key,
    captures_key,
    casework_key,
    center_key,
    db_key,
    gc_pauses_key,
    insurers_key,
    loop_lag_key,
    rules_key,
    server_key_key,
    settings_key,
    sio_key,
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
from .casework import CaseWork, CaseWorkConfig
from .casework.context import CaseContext
from .clock import SystemClock
from .documents import Renderer
from .errors import KuaichuError
from .evidence.call_capture import CallCapture
from .evidence.captures import CaptureDesk
from .evidence.ledger import Ledger
from .evidence.signing import ServerKey
from .fraud import setup as fraud_setup
from .fraud import web as fraud_web
from .insurers import setup as insurer_setup
from .insurers.service import InsurerDesk
from .looplag import GcPauses, LoopLag
from .media import setup as media_setup
from .media.call_media import CallMedia
from .media.leg_health import HealthPolicy
from .media.plate_reader import PlateReader
from .notify import Doorbell, Notifier, Outbox, make_adapter
from .officer_ui.mapconfig import check_tiles
from .photoreports import setup as photo_setup
from .photoreports import web as photo_web
from .photoreports.callbacks import VideoCallbacks
from .queue import Dispatcher
from .queue.eventlog import EventLog
from .queue.memory import MemoryCallQueue
from .settings import Settings, parse_timezone, service_rules
from .signaling import shutdown
from .signaling.base import SignalingServer
from .signaling.driver import DriverNamespace
from .signaling.emitter import Emitter
from .signaling.officer import OfficerNamespace
from .signaling.rooms import OFFICER_NS, SUPERVISOR_NS
from .signaling.supervisor import SupervisorNamespace
from .storage.casefiles import CaseStore
from .storage.db import Database, create_schema, make_engine
from .storage.diskspace import MIB, DiskWatch
from .tasks import TaskOwner
from .threadpriority import BackgroundThreads
from .verification import Registry
from .verification.setup import open_registry
from .web import rejoin as rejoin_web
from .web import setup_routes
from .web import todo_api as todo_web
from .web.headers import setup_security_headers

logger = logging.getLogger(__name__)


WALLBOARD_PERIOD = 2.0
HOUSEKEEPING_PERIOD = 3600.0


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
    case_ctx: CaseContext
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
        media_factory: Callable[..., CallMedia],
    ) -> None:
        self.settings = settings
        self.sio = sio
        self.renderer = renderer
        self.rules = rules
        self.zone = zone
        self.media_factory = media_factory

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
            await ensure_first_account(self.accounts, settings.data_dir)
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
        self.registry = await open_registry(self.settings, self.engine)
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
        # issue 13, the photo channel and the insurer desk: their case steps share the case
        # work's collaborators.
        self.case_ctx = CaseContext(
            self.db, CaseStore(self.engine), self.case_config, live=self.fanout, doorbell=doorbell
        )
        self.callbacks = VideoCallbacks(self.case_ctx)
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
        """The insurer desk (issue 13, kuaichu.insurers)."""
        self.insurer_desk = insurer_setup.desk(
            app, self.settings, self.case_ctx, self.casework, self.ledger
        )
        yield

    async def open_api(self, app: web.Application) -> AsyncIterator[None]:
        """The fraud signals, the insurers' open API and its webhooks' sender (issue 13,
        kuaichu.fraud, kuaichu.api)."""
        fraud = fraud_setup.setup(app, self.settings, self.engine)
        async with api_setup.running(
            app,
            self.settings,
            self.engine,
            self.db,
            self.ledger,
            fraud,
            self.insurer_desk,
            self.webhook_hook,
            zone=self.zone,
        ):
            yield

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
        """SIGTERM (aiohttp's on_shutdown): kuaichu.signaling.shutdown."""
        center = getattr(self, "center", None)  # None if start-up failed before the calls
        emitter = getattr(self, "emitter", None)
        await shutdown.drain(self.sio, center, emitter, self.settings.shutdown_timeout)

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
            media_factory=self.media_factory,
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
        async with photo_setup.running(
            app,
            self.settings,
            self.engine,
            self.db,
            self.case_ctx,
            self.captures,
            self.dispatcher,
            self.rules,
            self.callbacks,
            zone=self.zone,
        ):
            yield

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


def create_app(settings: Settings) -> web.Application:
    # Read once at start-up; a bad file or value raises InvalidServiceConfig here, before
    # anything listens (the CLI turns it into a one-line message and exit status 1).
    rules = service_rules(settings)
    zone = parse_timezone(settings.timezone)
    app = web.Application(middlewares=[_errors], client_max_size=1024 * 1024)
    # issue 9: the ICE servers, aioice's policy, the uplink's bitrates, the media counters.
    media_factory = media_setup.setup(app, settings)
    renderer = Renderer(settings.pdf_font)  # CjkFontNotFound names the package to install
    insurer_setup.setup(app, settings)  # issue 13: the --insurers directory
    app[settings_key] = settings
    app[rules_key] = rules
    check_tiles(settings.map_tiles)  # issue 12: a bad --map-tiles stops the start-up here
    app[zone_key] = zone
    # A hard cap at the transport; the per-message 64 KiB limit with a clear error is ours.
    sio = SignalingServer(
        async_mode="aiohttp", max_http_buffer_size=1024 * 1024, ping_interval=10, ping_timeout=10
    )
    sio.attach(app)
    app[sio_key] = sio

    root = _Root(settings, sio, renderer, rules, zone, media_factory)
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
