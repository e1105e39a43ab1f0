"""The servers the end-to-end and browser tests talk to.

:func:`start_in_process` serves ``create_app(settings)`` with aiohttp's test server on a real
127.0.0.1 port in the test's own event loop: the simulated clients, the browser and the
server meet over real sockets, but no interpreter starts and nothing is imported again.
:func:`start_server` runs ``python server.py`` as a subprocess, for what only a process can
show: a SIGKILL mid-call, the command line, start-up configuration errors.

Both start from a copy of one database that already holds the test officers (made once per
test process through the Accounts service), instead of hashing four Argon2 passwords with
four ``officer add`` commands per test. Both fail the test whose server raised: a traceback
in the subprocess's log, or an ERROR record with an exception in the in-process server's log.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import gc
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.eventually import eventually
from tests.support.logcheck import LogCapture

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "kuaichu.sqlite3"

# (username, password, display name, role): the first two are LiveServer's named accounts.
OFFICER = ("zhang", "zhang-password-1", "张警官", "officer")
SUPERVISOR = ("wang", "wang-password-1", "王值班长", "supervisor")


def extra_officer(i: int) -> tuple[str, str, str, str]:
    return (f"officer{i}", f"officer{i}-password", f"警员{i}", "officer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the officers' database, made once per process ------------------------------------------

_templates: dict[int, Path] = {}
_template_root: Path | None = None


async def _make_template(data_dir: Path, officers: int) -> None:
    from kuaichu.accounts.service import Accounts
    from kuaichu.settings import Settings
    from kuaichu.storage.db import Database, create_schema, make_engine

    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.database)
    try:
        await create_schema(engine)
        accounts = Accounts(Database(engine), settings.session_hours * 3600)
        for username, password, name, role in (
            OFFICER,
            SUPERVISOR,
            *(extra_officer(i) for i in range(2, officers + 1)),
        ):
            await accounts.add_officer(username, password, name, role)
    finally:
        await engine.dispose()


def officers_database(officers: int) -> Path:
    """A database holding the test officers (zhang, supervisor wang, officer2..N), the same
    rows ``python server.py officer add`` writes. Made on first use in a thread of its own, so
    it can be called from inside a running event loop."""
    global _template_root
    if officers not in _templates:
        if _template_root is None:
            _template_root = Path(tempfile.mkdtemp(prefix="kuaichu-officers-"))
            atexit.register(shutil.rmtree, _template_root, True)
        folder = _template_root / str(officers)
        folder.mkdir()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _make_template(folder, officers)).result()
        _templates[officers] = folder / DATABASE
    return _templates[officers]


def _prepare(data_dir: Path, officers: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / DATABASE).exists():
        shutil.copyfile(officers_database(officers), data_dir / DATABASE)


def _flags(settings: dict[str, object]) -> list[str]:
    # The tests written before the one-time code open progress links from fresh clients; the
    # tests of the code (tests/web/test_progress_links.py) turn it on.
    settings = {"progress_link_code": False, **settings}
    args: list[str] = []
    for key, value in settings.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return args


# --- what both kinds of server offer a test --------------------------------------------------


@dataclass
class _Server:
    url: str
    port: int
    data_dir: Path
    officer_username: str = OFFICER[0]
    officer_password: str = OFFICER[1]
    supervisor_username: str = SUPERVISOR[0]
    supervisor_password: str = SUPERVISOR[1]
    extra_officers: list[tuple[str, str]] = field(default_factory=list)

    def log(self) -> str:
        raise NotImplementedError

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Read the server's SQLite database as an operator would."""
        conn = sqlite3.connect(self.data_dir / DATABASE)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    async def wait_recording(self, call_id: str, timeout: float = 20) -> sqlite3.Row:
        """The recording row appears once the call's media is finalized (after hang-up)."""
        rows = await eventually(
            lambda: self.rows("select * from recordings where call_id = ?", call_id),
            timeout,
            lambda: f"no recording row for {call_id}\n{self.log()[-4000:]}",
            interval=0.2,
        )
        return rows[0]


# --- in-process --------------------------------------------------------------------------------


@dataclass
class InProcessServer(_Server):
    """``create_app`` served on a real port in the test's event loop."""

    app: web.Application | None = None
    test_server: TestServer | None = None
    capture: LogCapture = field(default_factory=LogCapture)

    def log(self) -> str:
        return self.capture.text()

    async def close(self) -> None:
        try:
            if self.test_server is not None:
                await self.test_server.close()
            # A task that failed unobserved is reported when it is collected: collect now, so
            # asyncio's "Task exception was never retrieved" lands in this test, not a later one.
            gc.collect()
            await asyncio.sleep(0)
        finally:
            self.capture.uninstall()

    def problems(self) -> list[str]:
        """Every exception the server logged at ERROR while it ran (see logcheck)."""
        return self.capture.problems()


async def start_in_process(
    data_dir: Path, officers: int = 3, **settings: object
) -> InProcessServer:
    """The application as ``python server.py --port P --data-dir D --log-level INFO --flag v``
    would build it (the same flag parsing and environment), served in this event loop."""
    from kuaichu.app import create_app
    from kuaichu.cli import REQUEST_GRACE
    from kuaichu.settings import parse

    _prepare(data_dir, officers)
    port = free_port()
    config = parse(
        [
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "INFO",
            *_flags(settings),
        ]
    )
    capture = LogCapture()
    capture.install()
    server = InProcessServer(
        f"http://127.0.0.1:{port}",
        port,
        data_dir,
        extra_officers=[extra_officer(i)[:2] for i in range(2, officers + 1)],
        capture=capture,
    )
    try:
        server.app = create_app(config)
        server.test_server = TestServer(server.app, host="127.0.0.1", port=port)
        # Closed as server.py's run_app closes it: in-flight requests (a page's socket.io
        # long-poll) get REQUEST_GRACE after the drain, not aiohttp's default 60 s.
        await server.test_server.start_server(shutdown_timeout=REQUEST_GRACE)
    except BaseException:
        await server.close()
        raise
    return server


# --- subprocess --------------------------------------------------------------------------------


@dataclass
class LiveServer(_Server):
    """``python server.py`` in a process of its own."""

    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def log(self) -> str:
        assert self.log_path is not None
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def problems(self) -> list[str]:
        """A Python traceback anywhere in the server's output."""
        text = self.log()
        return [text[-8000:]] if "Traceback" in text else []


def start_server(data_dir: Path, officers: int = 3, **settings: object) -> LiveServer:
    _prepare(data_dir, officers)
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
        *_flags(settings),
    ]
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
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
        extra_officers=[extra_officer(i)[:2] for i in range(2, officers + 1)],
        proc=proc,
        log_path=log_path,
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
