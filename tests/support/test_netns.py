"""The TURN test network isolates what it claims (tests/support/netns.py): from the driver
namespace only coturn is reachable, not the host; blocked UDP cannot leave it; HTTP crosses
over the Unix-socket bridge; and nothing is left behind."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from tests.support.netns import serve_unix_bridge, turn_network

PROBE = """
import socket, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
s.settimeout(2)
try:
    if kind == "tcp":
        s.connect((host, port))
    else:
        s.sendto(b"x", (host, port))
    print("ok")
except OSError as exc:
    print("refused", exc.errno)
"""


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


async def _probe(prefix: list[str], kind: str, host: str, port: int) -> str:
    proc = await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-c", PROBE, kind, host, str(port),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return out.decode().strip()


async def test_the_driver_namespace_reaches_only_coturn(tmp_path: Path) -> None:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="through the bridge")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with turn_network(tmp_path / "net") as net:
            inside = net.exec_args()
            assert await _probe(inside, "tcp", net.turn_host, net.turn_port) == "ok"
            # The host's end of the relay link (where a server listens on 0.0.0.0): no route.
            assert (await _probe(inside, "tcp", net.host_address, port)).startswith("refused")
            # The host reaches coturn too (the server's own TURN allocations).
            assert await _probe([], "tcp", net.turn_host, net.turn_port) == "ok"
            assert await _probe(inside, "udp", net.turn_host, net.turn_port) == "ok"
            net.block_udp()
            assert (await _probe(inside, "udp", net.turn_host, net.turn_port)).startswith(
                "refused"
            )
            # HTTP over the bridge: inside the namespace, a local port leads to the server.
            bridge = tmp_path / "b.sock"
            async with serve_unix_bridge(bridge, ("127.0.0.1", port)):
                script = (
                    "import asyncio, urllib.request\n"
                    "from tests.support.netns import tcp_to_unix\n"
                    "async def main():\n"
                    f"    await tcp_to_unix(('127.0.0.1', 18081), {str(bridge)!r})\n"
                    "    url = 'http://127.0.0.1:18081/'\n"
                    "    get = lambda: urllib.request.urlopen(url, timeout=5).read().decode()\n"
                    "    print(await asyncio.to_thread(get))\n"
                    "asyncio.run(main())\n"
                )
                proc = await asyncio.create_subprocess_exec(
                    *inside, sys.executable, "-c", script,
                    cwd=Path(__file__).resolve().parents[2],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                )  # fmt: skip
                out, err = await proc.communicate()
                assert out.decode().strip() == "through the bridge", err.decode()
                assert "Traceback" not in err.decode(), err.decode()
            names = (net.driver_ns, net.relay_ns)
    finally:
        await runner.cleanup()
    listed = _namespaces()
    assert not any(name in listed for name in names), listed


async def test_a_failure_inside_still_removes_the_namespaces(tmp_path: Path) -> None:
    names: tuple[str, str] = ("", "")
    try:
        async with turn_network(tmp_path / "net") as net:
            names = (net.driver_ns, net.relay_ns)
            raise KeyError("the test failed")
    except KeyError:
        pass
    listed = _namespaces()
    assert names[0] and not any(name in listed for name in names), listed
