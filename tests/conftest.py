"""Fixtures that start real things: the server as a subprocess on a free port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    officer_username: str = "zhang"
    officer_password: str = "zhang-password-1"
    supervisor_username: str = "wang"
    supervisor_password: str = "wang-password-1"
    extra_officers: list[tuple[str, str]] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Read the server's SQLite database as an operator would."""
        conn = sqlite3.connect(self.data_dir / "kuaichu.sqlite3")
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    async def wait_recording(self, call_id: str, timeout: float = 20) -> sqlite3.Row:
        """The recording row appears once the call's media is finalized (after hang-up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.rows("select * from recordings where call_id = ?", call_id)
            if rows:
                return rows[0]
            await asyncio.sleep(0.2)
        raise AssertionError(f"no recording row for {call_id}\n{self.log()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _cli(data_dir: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--data-dir", str(data_dir), *args],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )


def start_server(data_dir: Path, officers: int = 3, **settings: object) -> LiveServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "kuaichu.sqlite3").exists():
        _cli(
            data_dir,
            "officer",
            "add",
            "zhang",
            "--name",
            "张警官",
            "--password",
            "zhang-password-1",
        )
        _cli(
            data_dir,
            "officer",
            "add",
            "wang",
            "--name",
            "王值班长",
            "--role",
            "supervisor",
            "--password",
            "wang-password-1",
        )
        for i in range(2, officers + 1):
            _cli(
                data_dir,
                "officer",
                "add",
                f"officer{i}",
                "--name",
                f"警员{i}",
                "--password",
                f"officer{i}-password",
            )
    port = free_port()
    args = [
        sys.executable,
        str(ROOT / "server.py"),
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "INFO",
    ]
    for key, value in settings.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    log_path = data_dir / f"server-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = LiveServer(
        f"http://127.0.0.1:{port}",
        port,
        data_dir,
        proc,
        log_path,
        extra_officers=[(f"officer{i}", f"officer{i}-password") for i in range(2, officers + 1)],
    )
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"server did not come up:\n{server.log()}")
        time.sleep(0.1)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def factory(**settings: object) -> LiveServer:
        server = start_server(tmp_path / f"data{len(started)}", **settings)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
        if "Traceback" in server.log():
            print(f"--- server log ({server.log_path}) ---\n{server.log()[-8000:]}")


@pytest.fixture
def live_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory(
        reservation_timeout=5, wrapup_seconds=2, decline_cooldown=30, driver_grace_seconds=1
    )
