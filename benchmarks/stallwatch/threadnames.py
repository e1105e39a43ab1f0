"""Which thread is which, for ``benchmarks/call_load.py --threads``: every Python thread of the
server appends ``<native id> <name>`` to ``KUAICHU_THREAD_NAMES`` as it starts (Python 3.11
does not give the kernel its threads' names, so /proc shows them all as "python").

Threads started outside Python (onnxruntime's, FFmpeg's) are not listed; the census calls
them by their kernel name."""

from __future__ import annotations

import os
import threading
from typing import Any


def install(path: str) -> None:
    lock = threading.Lock()

    def record(name: str) -> None:
        line = f"{threading.get_native_id()} {name}\n"
        with lock, open(path, "a") as f:
            f.write(line)

    bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def named_bootstrap_inner(self: Any) -> None:
        try:
            record(self.name)
        except OSError:
            pass  # a diagnostic: never in the way of the thread
        bootstrap_inner(self)

    threading.Thread._bootstrap_inner = named_bootstrap_inner  # type: ignore[attr-defined]
    record("loop")  # the main thread, which runs the event loop
    os.environ.pop("KUAICHU_THREAD_NAMES", None)  # not inherited by the server's children
