"""``python server.py evidence verify TARGET``: the command and its printed report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from kuaichu.errors import KuaichuError

from ..signing import ServerKey, key_id_of, load_public_key
from .verify import Problem, VerificationReport, verify_case_folder


def verify_command(
    target: str,
    data_dir: Path,
    recordings_dir: Path,
    public_key: str | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``python server.py evidence verify TARGET``: TARGET is a case id (its folder under
    ``recordings_dir``) or a folder path (anything with a ``/``). The key is ``public_key``
    (PEM, base64 of the raw key, or a file holding either), else the server's own key in
    ``data_dir``. Prints a report, first problem first. Returns 0 ok, 1 problems, 2 usage."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if not target or target in (".", "..") or "/" in target or os.sep in target:
        case_dir = Path(target or ".")
    else:
        case_dir = Path(recordings_dir) / target
    if not case_dir.is_dir():
        print(f"error: no case folder {case_dir}", file=err)
        return 2
    try:
        if public_key is not None:
            text = public_key
            if "-----BEGIN" not in text and Path(text).is_file():
                text = Path(text).read_text(encoding="ascii", errors="replace")
            key = load_public_key(text)
        else:
            key = ServerKey.load(Path(data_dir)).public_key
    except KuaichuError as exc:
        print(f"error: {exc.message}", file=err)
        return 2
    report = verify_case_folder(case_dir, key)
    for line in format_report(report, key_id_of(key)):
        print(line, file=out)
    return 0 if report.ok else 1


def format_report(report: VerificationReport, key_id: str) -> list[str]:
    """The human report of the verify command."""
    lines: list[str] = []
    if report.ok:
        lines.append(f"OK  {report.case_dir}")
        lines.append(
            f"    {report.entries} evidence file(s) match the manifest; chain unbroken, "
            f"every entry signed by key {key_id}"
        )
        return lines
    count = len(report.problems)
    lines.append(f"NOT OK  {report.case_dir}: {count} problem{'s' if count > 1 else ''}")
    lines.append(f"    manifest entries: {report.entries}, verified with key {key_id}")
    assert report.first is not None
    lines.append("first problem:")
    lines.append("    " + _describe(report.first))
    if count > 1:
        lines.append("all problems:")
        width = len(str(count))
        for i, problem in enumerate(report.problems, 1):
            lines.append(f"  {i:>{width}}. " + _describe(problem))
    return lines


def _describe(problem: Problem) -> str:
    where = problem.path or "-"
    seq = f"entry {problem.seq}" if problem.seq is not None else "no entry"
    return f"{problem.kind.upper():<13} {where} ({seq}): {problem.detail}"
