"""Calls through TURN (issue 9): a simulated driver in a network namespace that can reach the
server only through coturn (tests/support/netns.py) gets TURN REST credentials from
/api/config, connects through the relay, and its video reaches the officer; the same with
UDP blocked in its namespace (TURN over TCP). The server's own peer connections use the same
TURN server (its offers carry relayed candidates)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sim.client import SimOfficer
from tests.conftest import LIVE_SETTINGS, ServerFactory
from tests.support.eventually import eventually
from tests.support.netns import TurnNetwork, serve_unix_bridge, turn_network
from tests.support.servers import ROOT

FRAMES = 30  # a second of the driver's video at the officer


class DriverProcess:
    """tests/support/turn_driver.py running inside the driver namespace."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            self.raw.append(text)
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(text))

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]

    def output(self) -> str:
        return "driver output:\n" + "\n".join(self.raw[-40:])

    async def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        await self.reader


@contextlib.asynccontextmanager
async def driver_in(net: TurnNetwork, bridge: Path, transport: str) -> AsyncIterator[DriverProcess]:
    proc = await asyncio.create_subprocess_exec(
        *net.exec_args(),
        sys.executable, "-m", "tests.support.turn_driver",
        "--bridge", str(bridge), "--transport", transport,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    driver = DriverProcess(proc)
    try:
        yield driver
    finally:
        await driver.stop()


async def _call_through_turn(server_factory: ServerFactory, tmp_path: Path, udp: bool) -> None:
    async with turn_network(tmp_path / "net") as net:
        if not udp:
            net.block_udp()
        server = await server_factory(
            **LIVE_SETTINGS, ice_servers=net.turn_urls("udp", "tcp"), turn_secret=net.secret
        )
        officer = await SimOfficer(
            server.url, server.officer_username, server.officer_password
        ).connect()
        bridge_path = tmp_path / "http.sock"
        try:
            async with (
                serve_unix_bridge(bridge_path, ("127.0.0.1", server.port)),
                driver_in(net, bridge_path, "udp" if udp else "tcp") as driver,
            ):
                await officer.set_available()
                reported = await eventually(
                    lambda: driver.events("reported"), timeout=30, message=driver.output
                )
                assert reported[0]["ok"], driver.output()
                offer = await officer.wait_offer(timeout=20)
                assert (await officer.accept(offer["call_id"]))["ok"]

                await eventually(
                    lambda: officer.frames("video") >= FRAMES,
                    timeout=40,
                    message=lambda: f"{officer.frames('video')} frames at the officer; "
                    + driver.output()
                    + "\ncoturn:\n"
                    + net.coturn_log()[-3000:],
                )
                # The driver's page config: TURN with REST credentials, from the call's token.
                config = driver.events("config")[0]
                assert config["status"] == 200 and "expires_at" in config["body_keys"]
                turn = [s for s in config["servers"] if s["with_credential"]]
                assert turn and all(u.startswith("turn:") for u in turn[0]["urls"])
                # The media path: the driver's end is a relayed candidate (there is no other
                # way out of its namespace); the server offered relayed candidates of its own.
                answered = driver.events("answered")[0]
                assert "relay" in answered["answer_candidates"], answered
                assert "relay" in answered["offer_candidates"], answered
                pairs = [e["pair"] for e in driver.events("ice") if e.get("pair")]
                assert pairs and pairs[0]["local"] == "relay", driver.output()
                log = net.coturn_log()
                assert "ALLOCATE processed, success" in log, log[-2000:]
                if not udp:
                    # The driver's allocation came over TCP from its namespace.
                    assert f"tcp or tls connected to: {net.driver_address}:" in log, log[-2000:]
                # The shared secret is in no log line of the server.
                assert net.secret not in server.log()
        finally:
            await officer.close()
            # While coturn still runs: the server's TURN allocations are released, not
            # waited out (aioice retries the deletion of each for many seconds).
            await server.close()


async def test_driver_behind_turn_only_reaches_the_officer_over_udp(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    await _call_through_turn(server_factory, tmp_path, udp=True)


async def test_driver_with_udp_blocked_reaches_the_officer_over_turn_tcp(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    await _call_through_turn(server_factory, tmp_path, udp=False)


def test_without_root_the_network_tests_fail_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not root: the fixture fails (never skips), saying why.
    from tests.support import netns

    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="need root"):
        netns.require_netns()


def test_a_turn_server_without_the_secret_refuses_to_start(tmp_path: Path) -> None:
    # The other start-up checks (URL scheme, port range, TTL...) are in tests/media/test_ice.py;
    # this one runs the command line as an operator would.
    flags = ["--ice-servers", "turn:turn.example.cn:3478"]
    message = (
        "--ice-servers names a TURN server but --turn-secret / KUAICHU_TURN_SECRET is not set"
    )
    result = subprocess.run(
        [sys.executable, "server.py", "--data-dir", str(tmp_path), "--port", "0", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("KUAICHU_")},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kuaichu: invalid configuration:" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
