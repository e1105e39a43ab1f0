"""Load CSV files into a server's local registry, in-process, through the same code path as
``python server.py --data-dir D registry import KIND FILE`` (that command's own tests are in
tests/verification/test_commands.py)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path


async def import_registry(data_dir: Path, files: Mapping[str, Path]) -> None:
    """Import ``{kind: csv_path}`` (licences, vehicles, policies) into DATA_DIR's database."""
    from kuaichu.settings import Settings
    from kuaichu.verification.commands import run

    database = Settings(data_dir=data_dir).database
    for kind, path in files.items():
        args = argparse.Namespace(registry_command="import", kind=kind, file=path)
        status = await run(args, database)
        assert status == 0, f"registry import {kind} {path} exited {status}"
