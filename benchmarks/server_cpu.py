"""The server process's CPU as the kernel counts it, for ``benchmarks/call_load.py``: the
process's and its loop thread's CPU, the time the loop waited for a core, which of its threads
ran over a window (``--threads``), and the session group's nice value (``--nice``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any


def loop_thread_schedstat(pid: int) -> tuple[float, float]:
    """The server's main (event loop) thread: seconds on a CPU, and seconds it was ready to
    run but waited for one (another thread or process had the core)."""
    fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


class ThreadCensus:
    """Which of the server's threads ran on its core over a window, and how much: per thread
    its CPU, how long it waited on the runqueue and how many times it ran
    (``/proc/PID/task/*/schedstat``), grouped by the thread's name (``--threads``: the names
    the server's threads were started with, benchmarks/stallwatch/threadnames.py). A thread
    that ended inside the window is not seen; what such threads used is the process's CPU
    not accounted for by the threads still there."""

    def __init__(self, pid: int, names: Path | None) -> None:
        self.pid = pid
        self.names = names
        self.start = self._snapshot()
        self.cpu0 = cpu_seconds(pid)

    def _snapshot(self) -> dict[int, tuple[int, int, int, int]]:
        out: dict[int, tuple[int, int, int, int]] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                run, wait, slices = (
                    int(v) for v in (task / "schedstat").read_text().split()[:3]
                )
                stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue  # ended meanwhile
            out[int(task.name)] = (run, wait, slices, int(stat[16]))  # stat[16]: nice
        return out

    def _name(self, tid: int, names: dict[int, str]) -> str:
        if tid == self.pid:
            return "loop"
        name = names.get(tid)
        if name is None:
            try:
                comm = Path(f"/proc/{self.pid}/task/{tid}/comm").read_text().strip()
            except OSError:
                comm = "?"
            return f"{comm} (not a Python thread)"
        # One group per kind: recorder-<call id>, evidence-<call id>-<n>, asyncio_<n>...
        kind = re.match(r"(recorder|evidence|recording-finish)-", name)
        return f"{kind.group(1)}-*" if kind else re.sub(r"[-_]\d+$", "-*", name)

    def since(self, seconds: float) -> list[dict[str, Any]]:
        end = self._snapshot()
        cpu = cpu_seconds(self.pid) - self.cpu0
        names: dict[int, str] = {}
        if self.names is not None and self.names.exists():
            for line in self.names.read_text().splitlines():
                number, _, name = line.partition(" ")
                names[int(number)] = name  # a later thread with the same id wins
        groups: dict[str, dict[str, Any]] = {}
        seen = 0.0
        for tid, (run, wait, slices, nice) in end.items():
            run0, wait0, slices0, _ = self.start.get(tid, (0, 0, 0, 0))
            seen += (run - run0) / 1e9
            if run == run0:
                continue
            group = groups.setdefault(
                self._name(tid, names),
                {"threads": 0, "nice": set(), "cpu": 0.0, "wait": 0.0, "runs": 0},
            )
            group["threads"] += 1
            group["nice"].add(nice)
            group["cpu"] += (run - run0) / 1e9 / seconds
            group["wait"] += (wait - wait0) / 1e9 / seconds
            group["runs"] += slices - slices0
        rows = [
            {"name": name, **g, "nice": sorted(g["nice"]), "runs": g["runs"] / seconds}
            for name, g in groups.items()
        ]
        rows.append(
            {
                "name": "threads that ended in the window",
                "threads": 0,
                "nice": [],
                "cpu": max(0.0, cpu - seen) / seconds,
                "wait": 0.0,
                "runs": 0.0,
            }
        )
        return sorted(rows, key=lambda r: -r["cpu"])


def set_autogroup_nice(pid: int, nice: int) -> int | None:
    """With the kernel's autogroups on (``kernel.sched_autogroup_enabled``), the CPU is shared
    first between sessions, each as one group, and a thread's nice value only orders it within
    its own session's group: shifting the server's threads does nothing against another
    session's load. So ``--nice`` shifts the group too (the server's session: this harness's
    and whatever else it runs). Returns the group's nice value before, to restore after."""
    path = Path(f"/proc/{pid}/autogroup")
    try:
        before = int(path.read_text().split()[-1])
        path.write_text(str(nice))
    except (OSError, ValueError) as exc:  # no autogroups, or not allowed
        print(f"autogroup nice not set: {exc}", flush=True)
        return None
    print(f"autogroup: {path.read_text().strip()} (was {before})", flush=True)
    return before


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
