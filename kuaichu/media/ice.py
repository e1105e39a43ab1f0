"""ICE servers as configuration: STUN/TURN URLs, TURN REST credentials, the server's network.

Pure functions and values, no I/O. The settings (``--ice-servers``, ``--turn-secret``,
``--turn-ttl``, ``--ice-port-range``, ``--ice-announce-address``) are parsed once at start-up
by :func:`ice_config`, which refuses what cannot work with an :class:`InvalidIceConfig` naming
the flag. From the result come the two lists both sides use: :func:`browser_ice_servers` for
the pages (``/api/config``) and :func:`aiortc_ice_servers` for the server's own peer
connections.

TURN credentials follow the "TURN REST API" scheme that coturn implements with
``use-auth-secret`` / ``static-auth-secret`` (draft-uberti-behave-turn-rest-00): the username is
``"<expiry unix time>:<tag>"`` and the password is ``base64(HMAC-SHA1(secret, username))``. The
TURN server recomputes the password from the shared secret and refuses a username whose time
has passed, so nothing is stored and a credential handed to a page is only good until its
expiry. The secret never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ..errors import KuaichuError

if TYPE_CHECKING:
    from aiortc import RTCIceServer

    from ..settings import Settings

# RFC 7064 (stun/stuns) and RFC 7065 (turn/turns): scheme:host[:port][?transport=udp|tcp].
_URL = re.compile(
    r"^(?P<scheme>stuns?|turns?):(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?(?:\?transport=(?P<transport>udp|tcp))?$"
)
MAX_URLS: Final = 8
MIN_TTL: Final = 60  # a shorter credential can expire between fetching it and the answer
MAX_TTL: Final = 7 * 24 * 3600
MIN_SECRET: Final = 16
# A page re-fetches its credentials this long (at most a quarter of their life) before they
# expire (static/rtc.js), so an offer never meets a credential that just ran out.
REFRESH_MARGIN: Final = 300


class InvalidIceConfig(KuaichuError):
    """An ICE setting that cannot work; the message names the flag. The server does not start."""

    code = "invalid_ice_config"


@dataclass(frozen=True)
class IceUrl:
    url: str  # as configured
    scheme: str  # stun, stuns, turn, turns
    host: str
    port: int

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")


@dataclass(frozen=True)
class IceConfig:
    """The ICE settings, checked. ``turn_secret`` stays out of the repr."""

    urls: tuple[IceUrl, ...] = ()
    turn_secret: str = field(default="", repr=False)
    turn_ttl: int = 3600
    port_range: tuple[int, int] | None = None
    announce_address: str | None = None

    @property
    def stun_urls(self) -> list[str]:
        return [u.url for u in self.urls if not u.is_turn]

    @property
    def turn_urls(self) -> list[str]:
        return [u.url for u in self.urls if u.is_turn]


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str = field(repr=False)
    expires_at: int


def parse_url(raw: str) -> IceUrl:
    """One STUN/TURN URL, or ValueError saying what is wrong with it."""
    match = _URL.match(raw)
    if match is None:
        scheme = raw.split(":", 1)[0] if ":" in raw else ""
        if scheme not in ("stun", "stuns", "turn", "turns"):
            raise ValueError(f"{raw!r}: the scheme must be stun:, stuns:, turn: or turns:")
        raise ValueError(f"{raw!r}: expected {scheme}:HOST[:PORT][?transport=udp|tcp]")
    scheme = match["scheme"]
    if match["transport"] and scheme.startswith("stun"):
        raise ValueError(f"{raw!r}: ?transport= belongs to turn: URLs only")
    default = 5349 if scheme in ("stuns", "turns") else 3478
    port = int(match["port"]) if match["port"] else default
    if not 0 < port < 65536:
        raise ValueError(f"{raw!r}: port {port} is out of range")
    return IceUrl(raw, scheme, match["host"].strip("[]"), port)


def parse_port_range(raw: str) -> tuple[int, int] | None:
    """``"40000-40999"`` -> (40000, 40999); empty -> None."""
    raw = raw.strip()
    if not raw:
        return None
    match = re.fullmatch(r"(\d{1,5})\s*-\s*(\d{1,5})", raw)
    if match is None:
        raise ValueError(f"{raw!r}: expected LOW-HIGH, e.g. 40000-40999")
    low, high = int(match[1]), int(match[2])
    if not 1024 <= low <= high <= 65535:
        raise ValueError(f"{raw!r}: need 1024 <= LOW <= HIGH <= 65535")
    return low, high


def ice_config(settings: Settings) -> IceConfig:
    """The ICE settings checked at start-up; :class:`InvalidIceConfig` names the flag at fault."""
    urls: list[IceUrl] = []
    for raw in (u.strip() for u in settings.ice_servers.split(",")):
        if not raw:
            continue
        try:
            urls.append(parse_url(raw))
        except ValueError as exc:
            raise InvalidIceConfig(f"--ice-servers / KUAICHU_ICE_SERVERS: {exc}") from None
    if len(urls) > MAX_URLS:
        raise InvalidIceConfig(f"--ice-servers: at most {MAX_URLS} URLs, not {len(urls)}")
    secret = settings.turn_secret
    if any(u.is_turn for u in urls):
        if not secret:
            raise InvalidIceConfig(
                "--ice-servers names a TURN server but --turn-secret / KUAICHU_TURN_SECRET is "
                "not set: the pages and the server cannot get TURN credentials without the "
                "secret shared with the TURN server (coturn: static-auth-secret)"
            )
        if len(secret) < MIN_SECRET:
            raise InvalidIceConfig(
                f"--turn-secret / KUAICHU_TURN_SECRET: at least {MIN_SECRET} characters"
            )
    if not MIN_TTL <= settings.turn_ttl <= MAX_TTL:
        raise InvalidIceConfig(
            f"--turn-ttl / KUAICHU_TURN_TTL: {settings.turn_ttl} s is not within "
            f"{MIN_TTL}..{MAX_TTL} s"
        )
    try:
        port_range = parse_port_range(settings.ice_port_range)
    except ValueError as exc:
        raise InvalidIceConfig(f"--ice-port-range / KUAICHU_ICE_PORT_RANGE: {exc}") from None
    announce: str | None = settings.ice_announce_address.strip() or None
    if announce is not None:
        try:
            address = ipaddress.ip_address(announce)
        except ValueError:
            raise InvalidIceConfig(
                f"--ice-announce-address / KUAICHU_ICE_ANNOUNCE_ADDRESS: {announce!r} is not an "
                "IP address"
            ) from None
        if address.version != 4 or address.is_unspecified or address.is_loopback:
            raise InvalidIceConfig(
                f"--ice-announce-address: {announce} must be a routable IPv4 address"
            )
    return IceConfig(tuple(urls), secret, int(settings.turn_ttl), port_range, announce)


def turn_credential(secret: str, tag: str, now: float, ttl: int) -> TurnCredential:
    """A TURN REST credential valid until ``now + ttl`` (unix seconds)."""
    if ":" in tag:
        raise ValueError("the tag must not contain ':' (it ends the expiry field)")
    expires_at = int(now) + int(ttl)
    username = f"{expires_at}:{tag}" if tag else str(expires_at)
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(mac).decode(), expires_at)


def browser_ice_servers(
    config: IceConfig, now: float, tag: str, *, with_turn: bool = True
) -> dict[str, Any]:
    """The ``/api/config`` body: ``ice_servers`` in the shape RTCPeerConnection takes, and
    ``expires_at`` (unix seconds) when TURN credentials are in it. ``with_turn=False`` leaves
    TURN out (a caller that may not have credentials)."""
    servers: list[dict[str, Any]] = []
    if config.stun_urls:
        servers.append({"urls": config.stun_urls})
    body: dict[str, Any] = {"ice_servers": servers}
    if with_turn and config.turn_urls:
        cred = turn_credential(config.turn_secret, tag, now, config.turn_ttl)
        servers.append(
            {"urls": config.turn_urls, "username": cred.username, "credential": cred.credential}
        )
        body["expires_at"] = cred.expires_at
        # The page counts from its own clock (a phone's may be minutes off the server's).
        body["ttl"] = config.turn_ttl
        body["refresh_margin"] = min(REFRESH_MARGIN, config.turn_ttl // 4)
    return body


def aiortc_ice_servers(config: IceConfig, now: float, tag: str = "server") -> list[RTCIceServer]:
    """The same servers for one of the server's own peer connections (fresh credentials: a
    re-offer long after the start gets a valid one). aiortc uses the first STUN and the first
    TURN URL it can (turn: over udp or tcp, turns: over tcp)."""
    from aiortc import RTCIceServer

    servers = [RTCIceServer(urls=url) for url in config.stun_urls]
    if config.turn_urls:
        cred = turn_credential(config.turn_secret, tag, now, config.turn_ttl)
        servers.append(
            RTCIceServer(
                urls=config.turn_urls, username=cred.username, credential=cred.credential
            )
        )
    return servers


class TurnRateLimited(KuaichuError):
    """Too many TURN credentials asked for from one address without a call or a login."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many ICE configurations asked for; retry in {seconds} s", retry_after=seconds
        )


class HandoutLimit:
    """How many TURN credentials one client address may get without a call or a login:
    ``limit`` per ``window`` seconds (a sliding window of hand-out times per address), at most
    ``max_entries`` addresses remembered (the oldest forgotten first). Time is passed in."""

    def __init__(self, limit: int = 20, window: float = 600.0, max_entries: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_entries = max_entries
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def take(self, key: str, now: float) -> None:
        """Count one hand-out to ``key``, or raise :class:`TurnRateLimited`."""
        times = self._times.pop(key, None) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            self._times[key] = times
            raise TurnRateLimited(times[0] + self.window - now)
        times.append(now)
        self._times[key] = times  # most recent last
        while len(self._times) > self.max_entries:
            self._times.popitem(last=False)
