"""The one module that reaches into aioice's internals (aioice is pinned exactly).

aioice (aiortc's ICE) is changed in three places, all installed by :func:`install` at
start-up and checked by :func:`check_aioice_internals` (and ``tests/media/test_aioice_tap.py``),
so that a new aioice fails loudly instead of quietly bringing the old behaviour back:

* **Consent freshness as RFC 7675 intends.** aioice sends one consent request every ~5 s
  with no retransmission and a 500 ms timeout, and closes the connection after six misses in
  a row: a busy event loop (a response read late) or a few lost datagrams end a healthy
  call. Here each check is a STUN transaction with retransmissions, and consent expires
  only when *no* answer came for ``consent_expiry`` seconds (30 s, RFC 7675 section 5.1).
  A dead path is noticed much sooner by the media watchdog (``kuaichu.media.leg_health``),
  which re-offers the leg; consent expiry is the last resort that frees the sockets.
* **Receive buffers.** aioice asks for 256 KiB per socket; a 720p keyframe burst of several
  calls overflows that while the loop is busy. :func:`install` raises the size asked for
  (the kernel caps it at ``net.core.rmem_max``, see :func:`effective_receive_buffer`).
* **Datagrams read in batches.** asyncio's datagram transport reads one datagram per
  readiness event, so a socket is drained at most once per loop iteration: at 10 calls an
  iteration takes several ms and a 720p driver leg (~250 datagrams/s) outgrows its reader
  whatever the buffer size, and the kernel drops the rest. Each aioice socket here reads up
  to ``READ_BATCH`` datagrams per event.
* **No mDNS lookups.** A ``.local`` remote candidate (Chromium without camera permission)
  makes aioice send an mDNS query and wait up to 1 s inside ``setRemoteDescription``, under
  the call's media lock. The server is never on the phone's link, so the name cannot
  resolve anyway; such candidates are dropped, and the browser's checks reach the server
  from its real address, which aioice learns as a peer-reflexive candidate (RFC 8445 7.3.1.3).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import socket
from asyncio import selector_events
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aioice
from aioice import ice, mdns, stun, turn
from aioice.candidate import Candidate, candidate_foundation, candidate_priority

logger = logging.getLogger(__name__)

EXPECTED_AIOICE_VERSION = "0.13.0"

CONSENT_INTERVAL = 5.0  # RFC 7675 section 5.1: every 5 s, randomized 0.8-1.2
CONSENT_EXPIRY = 30.0  # RFC 7675 section 5.1: consent lost 30 s after the last answer
# Retransmissions of one consent check (RTO 0.5 s doubling: sent at 0, 0.5, 1.5 s and given
# up at 3.5 s), so that one lost datagram or a late read is not a miss.
CONSENT_RETRANSMISSIONS = 2
RECEIVE_BUFFER = 4 * 1024 * 1024  # asked for; the kernel caps it at net.core.rmem_max
# Datagrams read from one socket per readiness event, at most, and (short_turns'
# RECEIVE_BURST) handled per step: once the loop is behind, every socket is ready in every
# turn, and what a turn reads it also handles and forwards. With 64, turns of 10 calls (20
# sockets) ran up to 170 ms of the loop's own CPU; with 16, up to 35 ms (benchmarks/stallwatch,
# docs/benchmarks.md, a shared loaded machine). 8 shortened them again, but in one 4-call run
# with the loop waiting 675 ms of every second for its core the kernel dropped 4,715
# datagrams on the server's sockets; 16 dropped none in ten runs waiting up to 662 ms/s
# (64 dropped 8,492 in one waiting 909 ms/s): 16 is the setting measured.
READ_BATCH = 16


class AioiceInternalsChanged(RuntimeError):
    """aioice no longer looks like the version this module was written against."""


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    interval: float = CONSENT_INTERVAL
    expiry: float = CONSENT_EXPIRY
    retransmissions: int = CONSENT_RETRANSMISSIONS


_policy = ConsentPolicy()
_installed = False
_original_add_remote_candidate: Callable[..., Coroutine[Any, Any, None]] | None = None
_original_connection_made: Callable[..., None] | None = None
# aioice's own methods as imported, before install() replaces them: what the checks look at.
_AIOICE_QUERY_CONSENT = ice.Connection.query_consent
_AIOICE_ADD_REMOTE_CANDIDATE = ice.Connection.add_remote_candidate


def check_aioice_internals() -> None:
    """Raise AioiceInternalsChanged if anything this module relies on moved."""
    problems: list[str] = []
    if aioice.__version__ != EXPECTED_AIOICE_VERSION:
        problems.append(
            f"aioice {aioice.__version__} installed, kuaichu.media.aioice_tap was written "
            f"for {EXPECTED_AIOICE_VERSION}"
        )
    conn = ice.Connection
    consent = inspect.getsource(_AIOICE_QUERY_CONSENT)
    if "retransmissions=0" not in consent or "CONSENT_FAILURES" not in consent:
        problems.append("Connection.query_consent is not the one-shot check it replaces")
    connect = inspect.getsource(conn.connect)
    if "asyncio.create_task(self.query_consent())" not in connect:
        problems.append("Connection.connect no longer starts query_consent()")
    for name in ("_nominated", "remote_password", "_query_consent_task"):
        if f"self.{name}" not in inspect.getsource(conn.__init__):
            problems.append(f"Connection.__init__ no longer sets {name}")
    if list(inspect.signature(conn.build_request).parameters) != ["self", "pair", "nominate"]:
        problems.append("Connection.build_request signature changed")
    request = list(inspect.signature(ice.StunProtocol.request).parameters)
    if request != ["self", "request", "addr", "integrity_key", "retransmissions"]:
        problems.append(f"StunProtocol.request signature is now {request}")
    gather = inspect.getsource(conn.get_component_candidates)
    if "turn.UDP_SOCKET_BUFFER_SIZE" not in gather or not hasattr(turn, "UDP_SOCKET_BUFFER_SIZE"):
        problems.append("host sockets' SO_RCVBUF is no longer turn.UDP_SOCKET_BUFFER_SIZE")
    if "SO_RCVBUF, UDP_SOCKET_BUFFER_SIZE" not in inspect.getsource(turn):
        problems.append("TURN sockets' SO_RCVBUF is no longer UDP_SOCKET_BUFFER_SIZE")
    add = inspect.getsource(_AIOICE_ADD_REMOTE_CANDIDATE)
    if "mdns.is_mdns_hostname(remote_candidate.host)" not in add:
        problems.append("Connection.add_remote_candidate no longer resolves mDNS names")
    if not callable(getattr(mdns, "is_mdns_hostname", None)):
        problems.append("aioice.mdns.is_mdns_hostname is gone")
    if "connection_made" not in vars(ice.StunProtocol):
        problems.append("StunProtocol.connection_made is gone")
    problems += _read_internals_problems()
    if problems:
        raise AioiceInternalsChanged(
            "kuaichu.media cannot run its ICE with this aioice: " + "; ".join(problems)
        )


def install(
    *,
    consent_interval: float = CONSENT_INTERVAL,
    consent_expiry: float = CONSENT_EXPIRY,
    consent_retransmissions: int = CONSENT_RETRANSMISSIONS,
    receive_buffer: int = RECEIVE_BUFFER,
) -> None:
    """Apply the three changes above to every aioice connection made from now on. Called
    once at start-up (and by tests); a second call only updates the numbers."""
    global _policy, _installed, _original_add_remote_candidate, _original_connection_made
    if consent_interval <= 0 or consent_expiry <= consent_interval or consent_retransmissions < 0:
        raise ValueError("consent: need 0 < interval < expiry and retransmissions >= 0")
    if receive_buffer < 65536:
        raise ValueError("receive_buffer below 64 KiB")
    _policy = ConsentPolicy(consent_interval, consent_expiry, consent_retransmissions)
    turn.UDP_SOCKET_BUFFER_SIZE = receive_buffer  # read per socket, at gathering time
    if _installed:
        return
    check_aioice_internals()
    _original_add_remote_candidate = ice.Connection.add_remote_candidate
    ice.Connection.query_consent = _query_consent  # type: ignore[method-assign]
    ice.Connection.add_remote_candidate = _add_remote_candidate  # type: ignore[method-assign]
    _original_connection_made = ice.StunProtocol.connection_made
    ice.StunProtocol.connection_made = _connection_made  # type: ignore[method-assign]
    _installed = True
    logger.info(
        "ICE: consent checks every %.0f s, expiry %.0f s; UDP receive buffer %d bytes "
        "(effective %d)",
        consent_interval,
        consent_expiry,
        receive_buffer,
        effective_receive_buffer(),
    )


def ensure_installed() -> None:
    """Install with the defaults unless :func:`install` ran already (a CallMedia made
    outside the app: tests, tools)."""
    if not _installed:
        install()


def installed() -> bool:
    return _installed


def policy() -> ConsentPolicy:
    """The consent timing in force."""
    return _policy


def effective_receive_buffer() -> int:
    """What the kernel grants a socket that asks for the configured size (Linux reports
    twice the usable payload; capped at ``net.core.rmem_max``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, turn.UDP_SOCKET_BUFFER_SIZE)
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


async def _query_consent(self: ice.Connection) -> None:
    """RFC 7675 consent freshness for the nominated pairs: a check every ~``interval`` s,
    each retransmitted; the connection is closed once no check was answered for
    ``expiry`` seconds."""
    assert self.remote_password is not None
    key = self.remote_password.encode("utf8")
    loop = asyncio.get_running_loop()
    last_answer = loop.time()

    async def check(pair: ice.CandidatePair) -> bool:
        request = self.build_request(pair, nominate=False)
        try:
            await pair.protocol.request(
                request,
                pair.remote_addr,
                integrity_key=key,
                retransmissions=_policy.retransmissions,
            )
        except stun.TransactionError:
            return False
        return True

    while True:
        await asyncio.sleep(_policy.interval * (0.8 + 0.4 * random.random()))
        pairs = list(self._nominated.values())
        answers = await asyncio.gather(*(check(pair) for pair in pairs))
        now = loop.time()
        if pairs and all(answers):
            last_answer = now
        elif now - last_answer >= _policy.expiry:
            logger.info(
                "ICE %s: no consent answer for %.0f s, closing the connection",
                self.local_username,
                now - last_answer,
            )
            self._query_consent_task = None
            await self.close()
            return


async def _add_remote_candidate(self: ice.Connection, remote_candidate: Candidate | None) -> None:
    if remote_candidate is not None and mdns.is_mdns_hostname(remote_candidate.host):
        # Not resolved (see the module docstring): the browser's checks make it known.
        logger.debug("ICE %s: mDNS candidate %s dropped", self, remote_candidate.host)
        return
    assert _original_add_remote_candidate is not None
    await _original_add_remote_candidate(self, remote_candidate)


def _read_internals_problems() -> list[str]:
    """What the batched reads rely on in asyncio's selector datagram transport."""
    problems: list[str] = []
    transport = getattr(selector_events, "_SelectorDatagramTransport", None)
    if transport is None:
        return ["asyncio.selector_events._SelectorDatagramTransport is gone"]
    read = inspect.getsource(transport._read_ready)
    if "self._sock.recvfrom(self.max_size)" not in read:
        problems.append("the datagram transport no longer reads with recvfrom(max_size)")
    if "self._add_reader" not in inspect.getsource(transport.__init__):
        problems.append("the datagram transport no longer registers its reader in __init__")
    if not callable(getattr(selector_events.BaseSelectorEventLoop, "_add_reader", None)):
        problems.append("BaseSelectorEventLoop._add_reader is gone")
    return problems


def _connection_made(self: ice.StunProtocol, transport: asyncio.BaseTransport) -> None:
    assert _original_connection_made is not None
    _original_connection_made(self, transport)
    datagram_transport: Any = getattr(selector_events, "_SelectorDatagramTransport")  # noqa: B009
    if isinstance(transport, datagram_transport):
        # The transport registers its own one-datagram reader right after this call
        # (call_soon, in its __init__); ours replaces it one step later.
        asyncio.get_running_loop().call_soon(_read_in_batches, transport)


def _read_in_batches(transport: Any) -> None:
    """Replace the transport's reader with one that drains up to READ_BATCH datagrams."""
    if transport.is_closing():
        return
    sock, protocol, size = transport._sock, transport._protocol, transport.max_size

    def read_ready() -> None:
        # asyncio's own _read_ready, looped until the socket is empty (or the batch is done).
        for _ in range(READ_BATCH):
            if transport._conn_lost:
                return
            try:
                data, addr = sock.recvfrom(size)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                transport._fatal_error(exc, "Fatal read error on datagram transport")
                return
            protocol.datagram_received(data, addr)

    transport._loop._add_reader(transport._sock_fd, read_ready)


# --- the server's own candidates: a fixed port range and an announced address (issue 9) -----
# Separate from the consent/buffer/mDNS changes above: its own patch, check and switch.
# aioice binds each host candidate to port 0 and knows nothing of a NAT in front of the host.
# With a policy set, host sockets are bound within ``port_range`` (so a firewall can open just
# that range) and every IPv4 host candidate gets a server-reflexive twin at
# ``announce_address`` with the same port (a server behind 1:1 NAT, e.g. a cloud VM's public
# address). STUN and TURN gathering are aioice's own, unchanged.


@dataclass(frozen=True, slots=True)
class CandidatePolicy:
    port_range: tuple[int, int] | None = None
    announce_address: str | None = None

    @property
    def active(self) -> bool:
        return self.port_range is not None or self.announce_address is not None


_candidate_policy = CandidatePolicy()
_original_get_component_candidates: Callable[..., Coroutine[Any, Any, list[Candidate]]] | None = (
    None
)


class PortRangeExhausted(OSError):
    """No free port left in the configured range on one address."""


def check_candidate_internals() -> None:
    """Raise AioiceInternalsChanged if what :func:`set_candidate_policy` relies on moved."""
    problems: list[str] = []
    if aioice.__version__ != EXPECTED_AIOICE_VERSION:
        problems.append(f"aioice {aioice.__version__}, expected {EXPECTED_AIOICE_VERSION}")
    gather = _original_get_component_candidates or ice.Connection.get_component_candidates
    params = list(inspect.signature(gather).parameters)
    if params != ["self", "component", "addresses", "timeout"]:
        problems.append(f"Connection.get_component_candidates takes {params}")
    source = inspect.getsource(gather)
    for needle in (
        "local_addr=(address, 0)",  # the host binding this replaces
        "self._protocols += host_protocols",
        "server_reflexive_candidate(protocol, self.stun_server)",
        "if self.turn_server:",
    ):
        if needle not in source:
            problems.append(f"get_component_candidates no longer has {needle!r}")
    if list(inspect.signature(ice.server_reflexive_candidate).parameters) != [
        "protocol",
        "stun_server",
    ]:
        problems.append("server_reflexive_candidate's signature changed")
    if "candidate_foundation" not in source or "candidate_priority" not in source:
        problems.append("host candidates are no longer built with candidate_foundation/priority")
    if problems:
        raise AioiceInternalsChanged(
            "kuaichu cannot set the server's ICE port range / announced address with this "
            "aioice: " + "; ".join(problems)
        )


def set_candidate_policy(
    port_range: tuple[int, int] | None = None, announce_address: str | None = None
) -> None:
    """Use ``port_range`` and ``announce_address`` for every aioice connection gathered from
    now on (process-wide: aioice has no per-connection option). None, None: aioice's own."""
    global _candidate_policy, _original_get_component_candidates
    policy = CandidatePolicy(port_range, announce_address)
    if policy.active and _original_get_component_candidates is None:
        check_candidate_internals()
        _original_get_component_candidates = ice.Connection.get_component_candidates
        ice.Connection.get_component_candidates = _get_component_candidates  # type: ignore[method-assign]
    _candidate_policy = policy
    if policy.active:
        logger.info(
            "ICE: server candidates on ports %s, announced address %s",
            f"{port_range[0]}-{port_range[1]}" if port_range else "any",
            announce_address or "none",
        )


def candidate_policy() -> CandidatePolicy:
    return _candidate_policy


async def _bind_in_range(
    conn: ice.Connection, address: str, port_range: tuple[int, int]
) -> ice.StunProtocol:
    """A StunProtocol on ``address`` at a free port of the range, starting at a random one
    (two connections gathering at once rarely race for the same port)."""
    loop = asyncio.get_running_loop()
    low, high = port_range
    count = high - low + 1
    start = random.randrange(count)
    for i in range(count):
        port = low + (start + i) % count
        try:
            _, protocol = await loop.create_datagram_endpoint(
                lambda: ice.StunProtocol(conn), local_addr=(address, port)
            )
        except OSError:
            continue  # in use (or not bindable): the next one
        return protocol
    raise PortRangeExhausted(f"no free UDP port in {low}-{high} on {address}")


async def _get_component_candidates(
    self: ice.Connection, component: int, addresses: list[str], timeout: int = 5
) -> list[Candidate]:
    policy = _candidate_policy
    original = _original_get_component_candidates
    assert original is not None
    if policy.port_range is None:
        candidates = await original(self, component, addresses, timeout)
    else:
        candidates = await _ranged_candidates(self, component, addresses, timeout, policy)
    if policy.announce_address is not None:
        candidates += _announced(component, candidates, policy.announce_address)
    return candidates


async def _ranged_candidates(
    self: ice.Connection,
    component: int,
    addresses: list[str],
    timeout: int,
    policy: CandidatePolicy,
) -> list[Candidate]:
    assert policy.port_range is not None and _original_get_component_candidates is not None
    candidates: list[Candidate] = []
    host_protocols: list[ice.StunProtocol] = []
    for address in addresses:
        try:
            protocol = await _bind_in_range(self, address, policy.port_range)
        except PortRangeExhausted as exc:
            logger.warning("ICE: %s: no host candidate there", exc)
            continue
        sock = protocol.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, turn.UDP_SOCKET_BUFFER_SIZE)
        host, port = protocol.transport.get_extra_info("sockname")[:2]
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", host),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=host,
            port=port,
            type="host",
        )
        candidates.append(protocol.local_candidate)
        host_protocols.append(protocol)
    self._protocols += host_protocols

    # Server-reflexive candidates of these sockets (IPv4), and aioice's own TURN allocation
    # (asked for with no host addresses, so it binds nothing else).
    reflexive: list[asyncio.Task[tuple[Candidate, None]]] = []
    if self.stun_server:
        for protocol in host_protocols:
            if ":" not in protocol.local_candidate.host:
                reflexive.append(
                    asyncio.create_task(ice.server_reflexive_candidate(protocol, self.stun_server))
                )
    relayed = await _original_get_component_candidates(self, component, [], timeout)
    if reflexive:
        done, pending = await asyncio.wait(reflexive, timeout=timeout)
        for task in pending:
            task.cancel()
        candidates += [t.result()[0] for t in done if t.exception() is None]
    return candidates + relayed


def _announced(component: int, candidates: list[Candidate], address: str) -> list[Candidate]:
    """A server-reflexive candidate at ``address`` for each IPv4 host candidate, same port."""
    return [
        Candidate(
            foundation=candidate_foundation("srflx", "udp", address),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "srflx"),
            host=address,
            port=c.port,
            type="srflx",
            related_address=c.host,
            related_port=c.port,
        )
        for c in candidates
        if c.type == "host" and ":" not in c.host and c.host != address
    ]
