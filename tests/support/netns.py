"""Network namespaces for tests that need a real network between the peers: a driver that
can reach the server only through a TURN relay (coturn), optionally with UDP blocked.

Topology made by :func:`turn_network` (addresses are picked per instance from 10.64-127.x.x,
so parallel tests and other people's runs do not collide; names carry the xdist worker and
the process id)::

    driver ns                 relay ns (coturn)                    host (the server under test)
    [veth 10.a.b.2/30] <----> [10.a.b.1/30  ...  10.a.b.6/30] <---> [10.a.b.5/30]
     no other route            no forwarding                        route to 10.a.b.1 via .6

The driver namespace can reach only coturn's listening address ``turn_host`` (10.a.b.1): the
relay namespace does not forward, so nothing else on the host is reachable from it, and the
host cannot reach the driver's addresses. The host (where the server runs, in the test's own
namespace) reaches ``turn_host`` too, so the server's own peer connections can use the same
TURN URLs as the pages do (as with a TURN server on a public address). coturn relays from
10.a.b.6, which can reach every host address, so a relayed candidate reaches the server's
host candidates.

HTTP and socket.io do not cross this network: :func:`serve_unix_bridge` (in the test
process) and :func:`tcp_to_unix` (in the process inside the driver namespace) carry TCP
connections to the server over a Unix socket, which network namespaces do not separate. A
process inside the namespace is started with ``TurnNetwork.exec_args() + [argv...]``.

The host's side of the relay link is not in the host's own namespace but in a *hub* namespace
made once for the whole test run (:func:`make_hub`, before any browser starts), with one link
and one route to the host (10.n.0.0/16, n from 64-127: a block per test run, so that two runs
on one machine each have theirs). An address added to or removed from the host's own
interfaces is a network change to every Chromium running on the host: it aborts their
requests in flight (``net::ERR_NETWORK_CHANGED``), and the other test workers' pages broke
while a TURN test built or removed its network. Links between namespaces that are not the
host's are invisible to it. Without a hub (a single test run outside pytest's set-up), the
relay link ends in the host's namespace as before.

Everything made is removed when the context exits, also on failure (and at interpreter exit
as a last resort). Needs root (CAP_NET_ADMIN), ``ip`` (iproute2), ``nft`` (nftables) and
``turnserver`` (coturn); without them the fixture fails, naming what is missing.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.eventually import eventually

TURN_PORT = 3478
REALM = "kuaichu.test"
_counter = itertools.count()
_live: set[str] = set()  # namespaces to delete at exit if a teardown never ran


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip() or result.returncode}")
    return result


def require_netns() -> None:
    """Fail the test (never skip) when namespaces cannot be made here, saying why."""
    missing = [tool for tool in ("ip", "nft", "turnserver") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"network-namespace tests need {', '.join(missing)} "
            "(Debian: iproute2 nftables coturn; scripts/test installs them)"
        )
    if os.geteuid() != 0:
        pytest.fail("network-namespace tests need root (CAP_NET_ADMIN to create namespaces)")


def _delete_namespaces(names: Iterable[str]) -> None:
    for name in list(names):
        # Deleting a namespace deletes the veth ends in it, and so their peers.
        _run("ip", "netns", "del", name, check=False)
        _live.discard(name)


atexit.register(lambda: _delete_namespaces(_live))


HUB_ENV = "KUAICHU_TEST_NETHUB"  # "<namespace>,<n>": the hub made by make_hub(), its 10.n/16


def hub() -> str | None:
    """The hub namespace made for this test run, if any."""
    value = os.environ.get(HUB_ENV) or ""
    return value.split(",")[0] or None


def _hub_octet() -> int | None:
    """The second octet of the 10.n.0.0/16 the hub routes: this run's test networks."""
    value = os.environ.get(HUB_ENV) or ""
    return int(value.split(",")[1]) if "," in value else None


def make_hub() -> str | None:
    """Make the hub namespace (see the module docstring) and export its name to the test
    processes started after this (pytest's workers). None when this machine cannot (no root
    or no ``ip``: the tests that need namespaces fail then, saying why) or the route is taken."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return None
    name = f"kchub{os.getpid() % 100000}"
    used = _used_subnets()
    free = [b for b in range(256) if (63, b) not in used]
    # A /16 of its own for this run's networks: another run on the machine (each pytest run
    # makes its hub) has another.
    octets = [a for a in range(64, 128) if not any(u[0] == a for u in used)]
    if not free or not octets:
        return None
    prefix = f"10.63.{random.choice(free)}"
    octet = random.choice(octets)
    up, down = f"khu{os.getpid() % 100000}", "hubup"
    try:
        _run("ip", "netns", "add", name)
        _live.add(name)
        _run("ip", "-n", name, "link", "set", "lo", "up")
        _run("ip", "link", "add", up, "type", "veth", "peer", "name", down, "netns", name)
        # No IPv6 on the host's end: its link-local address would come a second or two later
        # (after duplicate address detection), a network change to a browser started by then.
        _run("sysctl", "-qw", f"net.ipv6.conf.{up}.disable_ipv6=1")
        _run("ip", "addr", "add", f"{prefix}.1/30", "dev", up)
        _run("ip", "-n", name, "addr", "add", f"{prefix}.2/30", "dev", down)
        _run("ip", "link", "set", up, "up")
        _run("ip", "-n", name, "link", "set", down, "up")
        _run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _run("ip", "-n", name, "route", "add", "default", "via", f"{prefix}.1")
        _run("ip", "route", "add", f"10.{octet}.0.0/16", "via", f"{prefix}.2", "dev", up)
    except RuntimeError as exc:
        remove_hub(name)
        print(f"tests/support/netns.py: no hub namespace ({exc})", file=sys.stderr)
        return None
    os.environ[HUB_ENV] = f"{name},{octet}"
    return name


def remove_hub(name: str) -> None:
    _delete_namespaces([name])
    _run("ip", "link", "del", f"khu{os.getpid() % 100000}", check=False)
    if hub() == name:
        del os.environ[HUB_ENV]


def _used_subnets() -> set[tuple[int, int]]:
    out = _run("ip", "-4", "-o", "addr", "show").stdout + _run("ip", "-4", "route").stdout
    center = hub()
    if center is not None:
        out += _run("ip", "-n", center, "-4", "-o", "addr", "show").stdout
        out += _run("ip", "-n", center, "-4", "route").stdout
    used = set()
    for word in out.split():
        parts = word.split("/")[0].split(".")
        if len(parts) == 4 and parts[0] == "10" and all(p.isdigit() for p in parts):
            used.add((int(parts[1]), int(parts[2])))
    return used


@dataclass
class TurnNetwork:
    driver_ns: str
    relay_ns: str
    turn_host: str  # coturn's listening address, reachable from the driver ns and the host
    relay_address: str  # coturn's relayed (host-facing) address
    host_address: str  # the host's end of the relay link
    driver_address: str
    secret: str = field(repr=False)
    workdir: Path
    turn_port: int = TURN_PORT
    coturn: Coturn | None = None

    def turn_urls(self, *transports: str) -> str:
        """``--ice-servers`` for this coturn: one turn: URL per transport (udp, tcp)."""
        return ",".join(f"turn:{self.turn_host}:{self.turn_port}?transport={t}" for t in transports)

    def exec_args(self, ns: str | None = None) -> list[str]:
        """The prefix that runs a command inside the driver namespace (or ``ns``)."""
        return ["ip", "netns", "exec", ns or self.driver_ns]

    def block_udp(self) -> None:
        """Drop every UDP datagram the driver namespace sends (TCP still works)."""
        ns = self.exec_args()
        _run(*ns, "nft", "add", "table", "inet", "kcblock")
        _run(
            *ns, "nft", "add", "chain", "inet", "kcblock", "out",
            "{ type filter hook output priority 0; policy accept; }",
        )  # fmt: skip
        _run(*ns, "nft", "add", "rule", "inet", "kcblock", "out", "meta", "l4proto", "udp", "drop")

    def unblock_udp(self) -> None:
        _run(*self.exec_args(), "nft", "delete", "table", "inet", "kcblock", check=False)

    def coturn_log(self) -> str:
        return self.coturn.log() if self.coturn is not None else ""


def _names() -> tuple[str, str, str]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw").removeprefix("gw") or "m"
    tag = f"{worker}{os.getpid() % 100000}{next(_counter) % 100}"
    # Interface names are at most 15 characters; namespace names have more room.
    return f"kc{tag}d", f"kc{tag}r", tag[-9:]


@dataclass
class Coturn:
    """A ``turnserver`` run in the foreground (never the Debian service) with the TURN REST
    secret, on ``listen``:``port`` (UDP and TCP), relaying from ``relay``."""

    listen: str
    relay: str
    secret: str = field(repr=False)
    workdir: Path
    port: int = TURN_PORT
    ns: str | None = None  # the namespace it runs in; None: this one
    proc: asyncio.subprocess.Process | None = None

    def log(self) -> str:
        path = self.workdir / "turnserver.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, transport: str) -> str:
        return f"turn:{self.listen}:{self.port}?transport={transport}"

    async def start(self, *extra: str) -> None:
        prefix = ["ip", "netns", "exec", self.ns] if self.ns else []
        argv = [
            *prefix,
            "turnserver",
            "-n",  # no configuration file: everything is on this line
            "--listening-ip", self.listen,
            "--listening-port", str(self.port),
            "--relay-ip", self.relay,
            "--min-port", "49152",
            "--max-port", "49999",
            "--use-auth-secret",
            "--static-auth-secret", self.secret,
            "--realm", REALM,
            "--fingerprint",
            "--no-tls", "--no-dtls", "--no-cli", "--no-rfc5780",
            "--no-stun-backward-compatibility",
            "--pidfile", str(self.workdir / "turnserver.pid"),
            "--log-file", str(self.workdir / "turnserver.log"), "--simple-log", "--verbose",
            *extra,
        ]  # fmt: skip
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

        async def listening() -> bool:
            assert self.proc is not None
            if self.proc.returncode is not None:
                code = self.proc.returncode
                raise AssertionError(f"turnserver exited ({code}):\n{self.log()}")
            probe = await asyncio.create_subprocess_exec(
                *prefix, "ss", "-ltnH", f"sport = :{self.port}",
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await probe.communicate()
            return f"{self.listen}:{self.port}" in out.decode()

        await eventually(
            listening, timeout=10, message=lambda: "coturn not listening:\n" + self.log()
        )

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def coturn(
    workdir: Path, listen: str = "127.0.0.1", port: int | None = None
) -> AsyncIterator[Coturn]:
    """coturn in this namespace on ``listen`` (a free port unless given), relaying from the
    same address, loopback peers allowed: for a page that only needs working credentials."""
    if shutil.which("turnserver") is None:
        pytest.fail("this test needs turnserver (Debian: coturn; scripts/test installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    if port is None:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind((listen, 0))
            port = int(tcp.getsockname()[1])
            udp.bind((listen, port))  # free for UDP too (else bind raises and the test says so)
    server = Coturn(listen, listen, secrets.token_urlsafe(24), workdir, port)
    try:
        await server.start("--allow-loopback-peers")
        yield server
    finally:
        await server.stop()


def _build(net: TurnNetwork, tag: str) -> None:
    """Make the namespaces, links, addresses and routes of ``net`` (RuntimeError naming the
    ``ip`` command that failed)."""
    prefix = net.turn_host.rsplit(".", 1)[0]
    d_if, r_if, h_if = f"kd{tag}", f"kr{tag}", f"kh{tag}"
    for ns in (net.driver_ns, net.relay_ns):
        _run("ip", "netns", "add", ns)
        _live.add(ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")
    # driver <-> relay
    _run("ip", "link", "add", d_if, "netns", net.driver_ns, "type", "veth",
         "peer", "name", r_if + "a", "netns", net.relay_ns)  # fmt: skip
    _run("ip", "-n", net.driver_ns, "addr", "add", f"{prefix}.2/30", "dev", d_if)
    _run("ip", "-n", net.relay_ns, "addr", "add", f"{prefix}.1/30", "dev", r_if + "a")
    # relay <-> host: through the hub when there is one (nothing changes in the host's own
    # namespace), else directly
    center = hub()
    on_host = [] if center is None else ["-n", center]
    _run("ip", *on_host, "link", "add", h_if, "type", "veth", "peer", "name", r_if + "b",
         "netns", net.relay_ns)  # fmt: skip
    _run("ip", "-n", net.relay_ns, "addr", "add", f"{prefix}.6/30", "dev", r_if + "b")
    _run("ip", *on_host, "addr", "add", f"{prefix}.5/30", "dev", h_if)
    for ns, dev in ((net.driver_ns, d_if), (net.relay_ns, r_if + "a"), (net.relay_ns, r_if + "b")):
        _run("ip", "-n", ns, "link", "set", dev, "up")
    _run("ip", *on_host, "link", "set", h_if, "up")
    _run("ip", "netns", "exec", net.relay_ns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    _run("ip", "-n", net.relay_ns, "route", "add", "default", "via", f"{prefix}.5")
    _run("ip", *on_host, "route", "add", f"{prefix}.1/32", "via", f"{prefix}.6", "dev", h_if)


def _tear_down(net: TurnNetwork, tag: str) -> None:
    _delete_namespaces([net.driver_ns, net.relay_ns])
    # Its peer went with the relay namespace, but the kernel frees that lazily.
    center = hub()
    _run("ip", *([] if center is None else ["-n", center]), "link", "del", f"kh{tag}", check=False)


def _new_network(workdir: Path) -> tuple[TurnNetwork, str]:
    driver_ns, relay_ns, tag = _names()
    used = _used_subnets()
    octet = _hub_octet()
    octets = range(64, 128) if octet is None else [octet]
    free = [(a, b) for a in octets for b in range(1, 256) if (a, b) not in used]
    a, b = random.choice(free)
    prefix = f"10.{a}.{b}"
    net = TurnNetwork(
        driver_ns=driver_ns,
        relay_ns=relay_ns,
        turn_host=f"{prefix}.1",
        relay_address=f"{prefix}.6",
        host_address=f"{prefix}.5",
        driver_address=f"{prefix}.2",
        secret=secrets.token_urlsafe(24),
        workdir=workdir,
    )
    return net, tag


@contextlib.asynccontextmanager
async def turn_network(workdir: Path) -> AsyncIterator[TurnNetwork]:
    """The topology in the module docstring with coturn running in the relay namespace."""
    require_netns()
    workdir.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for _attempt in range(3):
        # Another process making namespaces at the same moment can make an ``ip`` command
        # fail (a name or subnet taken meanwhile): start over with fresh ones, a few times.
        net, tag = _new_network(workdir)
        try:
            _build(net, tag)
            break
        except RuntimeError as exc:
            errors.append(str(exc))
            _tear_down(net, tag)
    else:
        raise RuntimeError("cannot make the test network: " + "; ".join(errors))
    try:
        net.coturn = Coturn(
            net.turn_host, net.relay_address, net.secret, workdir, TURN_PORT, ns=net.relay_ns
        )
        await net.coturn.start()
        yield net
    finally:
        if net.coturn is not None:
            await net.coturn.stop()
        _tear_down(net, tag)


# --- HTTP/socket.io across the namespace boundary, over a Unix socket -------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    unix: str | None = None,
    tcp: tuple[str, int] | None = None,
) -> None:
    try:
        if unix is not None:
            up_reader, up_writer = await asyncio.open_unix_connection(unix)
        else:
            assert tcp is not None
            up_reader, up_writer = await asyncio.open_connection(*tcp)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    except asyncio.CancelledError:
        # The bridge is shutting down (asyncio.run's end cancels the connections' tasks). A
        # handler task that ends cancelled makes asyncio's stream server log a traceback for
        # it; this is the connection's last act, so it ends quietly instead.
        writer.close()
        up_writer.close()


@contextlib.asynccontextmanager
async def serve_unix_bridge(path: Path, target: tuple[str, int]) -> AsyncIterator[Path]:
    """In the test process: connections to the Unix socket ``path`` go to TCP ``target``."""
    server = await asyncio.start_unix_server(lambda r, w: _splice(r, w, tcp=target), str(path))
    try:
        yield path
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
        path.unlink(missing_ok=True)


async def tcp_to_unix(listen: tuple[str, int], path: str) -> asyncio.Server:
    """Inside the namespace: TCP connections to ``listen`` go to the Unix socket ``path``."""
    return await asyncio.start_server(lambda r, w: _splice(r, w, unix=path), *listen)
