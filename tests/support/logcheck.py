"""The in-process server's log, kept per server, and the rule that fails a test whose server
raised: any record at ERROR or above that carries an exception (``logger.exception``, aiohttp's
"Error handling request", asyncio's "Task exception was never retrieved") or a traceback in its
text (the notifier logs a scrubbed one), as a "Traceback" in the subprocess server's log does."""

from __future__ import annotations

import asyncio
import logging
import threading
from types import TracebackType

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as kuaichu.cli logs

# The server's own loggers at INFO, as ``--log-level INFO`` gives the subprocess; the chatty
# third parties stay at WARNING, as kuaichu.cli sets them.
_INFO_LOGGERS = ("kuaichu",)


def _noise(record: logging.LogRecord) -> bool:
    """Records with an exception that are not an error of ours (each says why)."""
    exc = record.exc_info[1] if record.exc_info else None
    # aiortc 1.x: RTCPeerConnection.close() awaits its shared "closed" future unshielded, so
    # when a task awaiting close() is cancelled (a call torn down while the remote side's DTLS
    # close has already started aiortc's own close task) the future is cancelled and aiortc's
    # own task then fails on set_result. Nothing of ours raised; the connection is closed.
    if (
        record.name == "asyncio"
        and isinstance(exc, asyncio.InvalidStateError)
        and exc.__traceback__ is not None
        and _last_frame(exc.__traceback__).endswith("aiortc/rtcpeerconnection.py:close")
    ):
        return True
    # aiortc 1.x: setRemoteDescription starts RTCPeerConnection.__connect as a task nobody
    # awaits; when the connection is closed while ICE is still starting (a call linked or
    # ended during its media set-up), ICE's start() raises "RTCIceTransport is closed" in
    # that task. The connection is closed as asked; the exception is aiortc's own task's.
    if (
        record.name == "asyncio"
        and type(exc).__name__ == "InvalidStateError"
        and type(exc).__module__ == "aiortc.exceptions"
        and str(exc) == "RTCIceTransport is closed"
        and exc is not None
        and exc.__traceback__ is not None
        and "aiortc/rtcpeerconnection.py:" in _first_frame(exc.__traceback__)
    ):
        return True
    return False


def _first_frame(tb: TracebackType) -> str:
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_frame.f_code.co_name}"


def _last_frame(tb: TracebackType) -> str:
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_frame.f_code.co_name}"


class LogCapture(logging.Handler):
    """Collects every record the process logs while a server runs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(FORMAT))
        self._lines: list[str] = []
        self._problems: list[str] = []
        self._lock_list = threading.Lock()
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record that cannot format is itself worth seeing
            text = f"{record.levelname} {record.name}: unformattable {record.msg!r}"
        with self._lock_list:
            self._lines.append(text)
            raised = bool(record.exc_info) or "Traceback" in text
            if record.levelno >= logging.ERROR and raised and not _noise(record):
                self._problems.append(text)

    def install(self) -> None:
        for name in _INFO_LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        logging.getLogger().addHandler(self)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._levels.clear()

    def text(self) -> str:
        with self._lock_list:
            return "\n".join(self._lines)

    def problems(self) -> list[str]:
        with self._lock_list:
            return list(self._problems)
