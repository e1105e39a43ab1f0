"""Settings, read once at start-up into a frozen object and passed down explicitly.

Every field is a CLI flag (``--data-dir``) and an environment variable (``KUAICHU_DATA_DIR``);
the flag wins. Every default works on one machine with nothing else installed. Secrets
(tokens, a database URL that may carry a password) stay out of the repr, so logging the
settings cannot leak them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any, Final, get_type_hints

from .cases.eligibility import (
    WEEKDAYS,
    ServiceArea,
    ServiceHours,
    ServiceRules,
    service_area_from_json,
)
from .cases.errors import InvalidServiceConfig


@dataclass(frozen=True)
class Settings:
    """Every setting of the server, with its default; ``help`` becomes the flag's help."""

    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = field(default=8080, metadata={"help": "TCP port"})
    data_dir: Path = field(
        default=Path("data"), metadata={"help": "database, keys and recordings live here"}
    )
    database_url: str = field(
        default="",
        repr=False,  # may carry a password
        metadata={"help": "SQLAlchemy URL; default sqlite in the data dir"},
    )
    recordings_dir: Path | None = field(
        default=None, metadata={"help": "default: DATA_DIR/recordings"}
    )
    tls_cert: Path | None = field(default=None, metadata={"help": "PEM certificate: serve https"})
    tls_key: Path | None = field(default=None, metadata={"help": "PEM private key for --tls-cert"})
    secure_cookies: bool = field(
        default=False, metadata={"help": "mark session cookies Secure (behind https)"}
    )
    reservation_timeout: float = field(
        default=20.0, metadata={"help": "seconds an officer has to accept an offered call"}
    )
    wrapup_seconds: float = field(
        default=30.0, metadata={"help": "wrap-up time after a call before the next offer"}
    )
    decline_cooldown: float = field(
        default=60.0,
        metadata={"help": "seconds before a declined call is offered to the same officer"},
    )
    default_handle_seconds: float = field(
        default=300.0,
        metadata={"help": "assumed call length for wait estimates before history exists"},
    )
    driver_grace_seconds: float = field(
        default=20.0,
        metadata={"help": "how long a call waits for a driver whose connection dropped"},
    )
    # issue 12: a console reloaded (or switched language) mid-call takes its call back.
    officer_grace_seconds: float = field(
        default=20.0,
        metadata={
            "help": "how long a call waits for its officer's console to come back (a reload) "
            "before it goes back to the queue (0: at once)"
        },
    )
    shutdown_timeout: float = field(
        default=20.0,
        metadata={
            "help": "on SIGTERM: seconds to end live calls, finalize their recordings and exit"
        },
    )
    disk_min_free_mb: int = field(
        default=2048,
        metadata={
            "help": "free space (MiB) the recordings directory must keep; below it new calls "
            "are refused and the officers told, until it is back"
        },
    )
    disk_check_seconds: float = field(
        default=10.0,
        metadata={"help": "seconds between checks of the recordings directory's free space"},
    )
    session_hours: float = field(default=12.0, metadata={"help": "officer login lifetime"})
    login_max_failures: int = field(
        default=5,
        metadata={"help": "failed logins per account within --login-window before back-off"},
    )
    login_max_failures_per_address: int = field(
        default=20,
        metadata={"help": "failed logins per client address within --login-window before back-off"},
    )
    login_window: float = field(
        default=900.0, metadata={"help": "seconds over which failed logins are counted"}
    )
    login_backoff: float = field(
        default=30.0,
        metadata={"help": "first lock-out in seconds; each further failure doubles it"},
    )
    login_backoff_cap: float = field(
        default=900.0, metadata={"help": "longest lock-out in seconds"}
    )
    login_hash_queue: int = field(
        default=8,
        metadata={
            "help": "logins that may wait for the one password-hashing thread; beyond that a "
            "login is refused at once (503, retry in 1 s)"
        },
    )
    trusted_proxies: str = field(
        default="",
        metadata={
            "help": "comma-separated addresses or networks of reverse proxies whose "
            "X-Forwarded-For names the client (for login throttling); default: none, the "
            "socket's address is the client"
        },
    )
    max_message_bytes: int = field(
        default=64 * 1024, metadata={"help": "largest socket.io message accepted"}
    )
    # issue 9 (part 2, TURN): ICE servers for both sides, checked by kuaichu.media.ice.
    ice_servers: str = field(
        default="",
        metadata={
            "help": "comma-separated STUN/TURN URLs (stun:host:3478, turn:host:3478?transport=tcp, "
            "turns:host:5349) used by the pages and by the server's own peer connections"
        },
    )
    turn_secret: str = field(
        default="",
        repr=False,
        metadata={
            "help": "secret shared with the TURN server (coturn: use-auth-secret, "
            "static-auth-secret); required with turn: URLs"
        },
    )
    turn_ttl: int = field(
        default=3600, metadata={"help": "lifetime of the TURN credentials handed out, seconds"}
    )
    ice_port_range: str = field(
        default="",
        metadata={
            "help": "UDP ports for the server's own ICE candidates, e.g. 40000-40999 (open them "
            "in the firewall); default: any free port"
        },
    )
    ice_announce_address: str = field(
        default="",
        metadata={
            "help": "public IPv4 address to announce as a candidate beside the server's own "
            "(a server behind 1:1 NAT, ports unchanged); default: none"
        },
    )
    log_level: str = field(default="INFO", metadata={"help": "logging level"})
    service_hours: str = field(
        default="",
        metadata={
            "help": 'opening hours per weekday, e.g. "mon-fri 07:00-19:00; sat-sun 08:00-18:00" '
            "(days not named are closed) or the same as JSON; default: always open"
        },
    )
    service_area: Path | None = field(
        default=None,
        metadata={
            "help": "GeoJSON FeatureCollection of the service area (WGS-84 polygons); "
            "default: no area limit"
        },
    )
    timezone: str = field(
        default="+08:00",
        metadata={"help": "time zone of the service hours and case times (+08:00, Asia/Shanghai)"},
    )
    public_url: str = field(
        default="",
        metadata={
            "help": "address the parties' phones reach this server at, for SMS links and the "
            "QR code on documents (e.g. https://kuaichu.example.gov.cn); "
            "default: http://HOST:PORT"
        },
    )
    authority: str = field(
        default="某市公安局交通警察支队",
        metadata={"help": "issuing authority printed on determinations"},
    )
    document_prefix: str = field(
        default="公交认字",
        metadata={"help": "document number prefix, e.g. 京公交认字"},
    )
    sms_gateway_url: str = field(
        default="",
        metadata={"help": "HTTP SMS gateway URL (POST JSON); default: SMS only written to the log"},
    )
    sms_signature: str = field(
        default="【快处】", metadata={"help": "signature the SMS gateway requires in every text"}
    )
    progress_link_code: bool = field(
        default=True,
        metadata={
            "help": "a progress link opens on a device other than the reporting one only after "
            "a one-time code sent by SMS to the party's phone"
        },
    )
    sms_body_template: str = field(
        default="",
        metadata={
            "help": "JSON body for the SMS gateway with {phone}, {text}, {signature}, {id} "
            'placeholders; default: {"phone": ..., "text": ..., "signature": ..., "id": ...}'
        },
    )
    sms_token: str = field(
        default="", repr=False, metadata={"help": "bearer token for the SMS gateway"}
    )
    registry_url: str = field(
        default="",
        metadata={
            "help": "upstream licence/vehicle/insurance registry (HTTP); default: the local "
            "registry tables (python server.py registry import|demo)"
        },
    )
    registry_token: str = field(
        default="", repr=False, metadata={"help": "bearer token for --registry-url"}
    )
    registry_timeout: float = field(
        default=3.0, metadata={"help": "seconds per attempt before the registry is 'unavailable'"}
    )
    auto_plate_seconds: float = field(
        default=15.0,
        metadata={
            "help": "during a call, read plates on a frame nobody asked for every N seconds and "
            "propose them in the console (0: only on the officer's plate captures)"
        },
    )
    # issue 9 (health): failure detection of the media legs, ICE consent, UDP buffers.
    leg_connect_timeout: float = field(
        default=10.0,
        metadata={
            "help": "seconds an answered media leg has to connect and receive before it is "
            "declared failed (the driver's is re-offered)"
        },
    )
    leg_media_timeout: float = field(
        default=3.0,
        metadata={
            "help": "seconds without a single packet on a connected media leg before it is "
            "declared failed"
        },
    )
    media_reoffers: int = field(
        default=2,
        metadata={
            "help": "fresh driver legs offered in a row before the call goes back to the "
            "head of the queue"
        },
    )
    ice_consent_expiry: float = field(
        default=30.0,
        metadata={"help": "seconds without any ICE consent answer before a path is closed"},
    )
    udp_receive_buffer: int = field(
        default=4 * 1024 * 1024,
        metadata={
            "help": "SO_RCVBUF asked for each media socket (the kernel caps it at "
            "net.core.rmem_max)"
        },
    )
    background_nice: int = field(
        default=10,
        metadata={
            "help": "nice value added to every thread but the event loop's (plate reading, "
            "decoding, recording), so they cannot crowd the loop off a busy core; 0: off"
        },
    )
    pdf_font: Path | None = field(
        default=None,
        metadata={"help": "TrueType/TTC font with Chinese glyphs for PDFs; default: searched"},
    )
    # issue 13 (insurers): the companies the centre works with, and the complaint line.
    insurers: str = field(
        default="",
        metadata={
            "help": 'insurers as JSON {"picc": "中国人民财产保险", ...} (a name, or {"name", '
            '"aliases"}), or a .json/.toml file; default: the demo registry\'s companies'
        },
    )
    complaint_after_hours: float = field(
        default=24.0,
        metadata={
            "help": "hours an insurer may leave a handed-off claim without acting before the "
            "counterpart party may file a complaint (callback due 24 h after it)"
        },
    )
    # -- issue 13: the open API's webhooks (kuaichu.api) and the fraud signals (kuaichu.fraud) --
    webhook_timeout: float = field(
        default=10.0, metadata={"help": "seconds an insurer's webhook has to answer an event"}
    )
    webhook_retry_seconds: float = field(
        default=5.0,
        metadata={"help": "first retry of a failed webhook event; doubles after each failure"},
    )
    webhook_retry_max_seconds: float = field(
        default=3600.0, metadata={"help": "longest wait between two tries of a webhook event"}
    )
    webhook_attempts: int = field(
        default=15, metadata={"help": "tries of a webhook event before it is marked failed"}
    )
    webhook_poll_seconds: float = field(
        default=5.0, metadata={"help": "how often the webhook worker looks for due retries"}
    )
    fraud_window_days: float = field(
        default=90.0,
        metadata={"help": "fraud signals: a plate, person or pair seen again within N days"},
    )
    fraud_pair_min: int = field(
        default=2,
        metadata={"help": "fraud signals: cases two parties must share to be flagged as a pair"},
    )
    fraud_gps_km: float = field(
        default=2.0,
        metadata={"help": "fraud signals: GPS (phone, photo) this far from the declared place"},
    )
    fraud_photo_minutes: float = field(
        default=120.0,
        metadata={"help": "fraud signals: photo EXIF time this far from the accident's time"},
    )
    # -- issue 13: the photo channel (kuaichu.photoreports) -------------------------------------
    photo_channel: bool = field(
        default=True,
        metadata={
            "help": "offer the photo report (拍照快处) when no officer can take a video call"
        },
    )
    photo_queue_cap: int = field(
        default=10,
        metadata={"help": "waiting video calls at which drivers are offered photos (0: no cap)"},
    )
    photo_max_wait_seconds: float = field(
        default=600.0,
        metadata={"help": "a driver waiting this long for an officer is offered photos instead"},
    )
    # issue 13 (fixups): a photo report never sent is void after this long; SMS to its driver.
    photo_draft_minutes: float = field(
        default=30.0,
        metadata={
            "help": "a photo report whose photos are not sent within this is void (0: never)"
        },
    )
    # issue 9 (bandwidth): the REMB the server gives the driver's uplink (kuaichu.media.bandwidth).
    video_max_kbps: int = field(
        default=2500,
        metadata={"help": "most video bitrate (kbit/s) a driver's phone is asked to send"},
    )
    video_min_kbps: int = field(
        default=300,
        metadata={"help": "least video bitrate (kbit/s) the server asks of a driver's phone"},
    )
    video_start_kbps: int = field(
        default=1500,
        metadata={
            "help": "video bitrate (kbit/s) a driver's phone starts at, before the officer's "
            "feedback arrives (below ~500 a 720p camera starts at a lower resolution)"
        },
    )
    # issue 12 (panel): maps on closed networks (kuaichu.officer_ui.mapconfig).
    map_tiles: str = field(
        default="",
        metadata={
            "help": "map tiles as a path template on this server, e.g. /tiles/{z}/{x}/{y}.png "
            "(routed by the reverse proxy to the centre's tile server); default: a tile-free "
            "sketch"
        },
    )

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def base_url(self) -> str:
        """Where links in SMS and on documents point: --public-url, else this listener."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'kuaichu.sqlite3'}"


def _env_name(name: str) -> str:
    return "KUAICHU_" + name.upper()


def _to_bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean, got {raw!r}")


def _to_path(raw: str) -> Path:
    if not raw:
        raise ValueError("expected a path, got nothing")
    return Path(raw)


def _to_optional_path(raw: str) -> Path | None:
    return Path(raw) if raw else None


# One parser per annotated type; a field of any other type fails the import (and its test).
_CONVERTERS: Final[Mapping[object, Callable[[str], Any]]] = {
    bool: _to_bool,
    int: int,
    float: float,
    str: str,
    Path: _to_path,
    Path | None: _to_optional_path,
}
_FIELD_TYPES: Final = get_type_hints(Settings)
_FIELD_CONVERTERS: Final[Mapping[str, Callable[[str], Any]]] = {
    name: _CONVERTERS[kind] for name, kind in _FIELD_TYPES.items()
}


def _convert(f: dataclasses.Field[Any], raw: str) -> Any:
    try:
        return _FIELD_CONVERTERS[f.name](raw)
    except ValueError as exc:
        raise ValueError(f"{_env_name(f.name)}: {exc}") from None


def flag_names() -> frozenset[str]:
    """Every setting's ``--flag``."""
    return frozenset("--" + f.name.replace("_", "-") for f in dataclasses.fields(Settings))


def add_arguments(parser: argparse.ArgumentParser, *, in_subcommand: bool = False) -> None:
    """A ``--flag`` per setting. ``in_subcommand``: the same flags, accepted after a
    sub-command too but hidden from its help and unset unless given (so a flag placed
    before the sub-command is not overwritten)."""
    for f in dataclasses.fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(
            flag,
            dest=f.name,
            default=argparse.SUPPRESS if in_subcommand else None,
            help=(
                argparse.SUPPRESS
                if in_subcommand
                else f"{f.metadata.get('help', '')} [{_env_name(f.name)}]"
            ),
        )


def load(
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults < environment < CLI flags < keyword overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        raw: str | None = env.get(_env_name(f.name))
        cli = getattr(args, f.name, None) if args is not None else None
        if cli is not None:
            raw = cli
        if raw is not None:
            try:
                values[f.name] = _convert(f, raw)
            except ValueError as exc:
                raise SystemExit(f"invalid setting {f.name}: {exc}") from None
    values.update(overrides)
    return Settings(**values)


def parse(argv: Sequence[str] | None = None) -> Settings:
    """Settings from command-line flags (and the environment), without sub-commands."""
    parser = argparse.ArgumentParser(prog="kuaichu")
    add_arguments(parser)
    return load(parser.parse_args(argv))


# --- service hours and area ------------------------------------------------------------------
# Parsed once at start-up into the pure domain objects of kuaichu.cases.eligibility; a bad
# value is an InvalidServiceConfig naming the flag, and the server refuses to start. The day
# names (WEEKDAYS, Monday first) are the domain's, so the two cannot disagree.

_DAY_SPEC = re.compile(r"^[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*$")


def parse_timezone(raw: str) -> tzinfo:
    """``+08:00`` (no time-zone database needed) or a zone name such as ``Asia/Shanghai``."""
    try:
        # The domain module owns zone parsing; an empty week is just a way to ask it.
        return ServiceHours.from_config({"timezone": raw.strip()}).zone
    except InvalidServiceConfig as exc:
        raise InvalidServiceConfig(
            f"--timezone / KUAICHU_TIMEZONE: {exc.message}", path="timezone"
        ) from None


def _expand_days(spec: str, clause: str) -> list[str]:
    if spec in ("daily", "all", "every-day"):
        return list(WEEKDAYS)
    if not _DAY_SPEC.match(spec):
        raise ValueError(f"{clause!r}: expected days like mon-fri or sat,sun before the hours")
    days: list[str] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        for name in (first, last or first):
            if name not in WEEKDAYS:
                raise ValueError(
                    f"{clause!r}: unknown day {name!r} (use mon tue wed thu fri sat sun)"
                )
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"{clause!r}: {part} runs backwards; write e.g. sat-sun,mon")
        days.extend(WEEKDAYS[start : end + 1])
    return days


def hours_config(text: str, zone_name: str) -> dict[str, Any]:
    """The compact form ``"mon-fri 07:00-19:00; sat 08:00-12:00,13:00-17:00; sun closed"``
    (or a bare ``"07:00-19:00"`` for every day) as the mapping ``ServiceHours.from_config``
    takes. Days not named are closed. JSON in that mapping's shape is passed through."""
    text = text.strip()
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        if isinstance(raw, dict):
            raw.setdefault("timezone", zone_name)
        return raw  # type: ignore[no-any-return]
    config: dict[str, Any] = {"timezone": zone_name}
    for clause in (c.strip() for c in text.split(";")):
        if not clause:
            continue
        words = clause.lower().split()
        if len(words) == 1:
            days, windows = list(WEEKDAYS), words[0]
        elif len(words) == 2:
            days, windows = _expand_days(words[0], clause), words[1]
        else:
            raise ValueError(f"{clause!r}: expected DAYS HH:MM-HH:MM[,HH:MM-HH:MM] or DAYS closed")
        for day in days:
            if day in config:
                raise ValueError(f"{clause!r}: {day} is already given")
            config[day] = [] if windows == "closed" else windows.split(",")
    if len(config) == 1:
        raise ValueError("no opening hours given")
    return config


def service_rules(settings: Settings) -> ServiceRules:
    """The configured service hours and area. Raises :class:`InvalidServiceConfig` whose
    message names the flag and, for GeoJSON, the JSON path at fault."""
    parse_timezone(settings.timezone)
    hours: ServiceHours | None = None
    if settings.service_hours.strip():
        flag = "--service-hours / KUAICHU_SERVICE_HOURS"
        try:
            config = hours_config(settings.service_hours, settings.timezone.strip())
            hours = ServiceHours.from_config(config)
        except InvalidServiceConfig as exc:
            where = exc.detail.get("path")
            at = f" (at {where})" if where else ""
            raise InvalidServiceConfig(f"{flag}: {exc.message}{at}", path="service_hours") from None
        except ValueError as exc:
            raise InvalidServiceConfig(f"{flag}: {exc}", path="service_hours") from None
    area: ServiceArea | None = None
    if settings.service_area is not None:
        flag = "--service-area / KUAICHU_SERVICE_AREA"
        try:
            text = settings.service_area.read_bytes()
        except OSError as exc:
            raise InvalidServiceConfig(
                f"{flag}: cannot read {settings.service_area}: {exc.strerror or exc}",
                path="service_area",
            ) from None
        try:
            area = service_area_from_json(text)
        except InvalidServiceConfig as exc:
            raise InvalidServiceConfig(
                f"{flag}: {settings.service_area}: {exc.message}",
                path=str(exc.detail.get("path", "")),
            ) from None
    return ServiceRules(hours=hours, area=area)
