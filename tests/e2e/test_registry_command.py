"""``python server.py registry import`` from the command line, as an operator loads the local
registry. The case tests load theirs through the same code in-process (tests/support)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import PARTY_A, PARTY_B, _write
from tests.support.servers import ROOT


def test_registry_import_from_the_command_line(tmp_path: Path) -> None:
    licences = _write(
        tmp_path / "licences.csv",
        [
            {
                "licence_no": p["licence_no"],
                "name": p["name"],
                "licence_class": "C1",
                "first_issued": "2015-01-01",
                "valid_from": "2021-01-01",
                "valid_until": "2031-01-01",
                "status": "normal",
            }
            for p in (PARTY_A, PARTY_B)
        ],
    )
    data = tmp_path / "data"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "server.py"),
            *("--data-dir", str(data)),
            *("registry", "import", "licences", str(licences)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "imported 2 licences" in result.stdout
    with sqlite3.connect(data / "kuaichu.sqlite3") as conn:
        names = {row[0] for row in conn.execute("select name from registry_licences")}
    assert names == {PARTY_A["name"], PARTY_B["name"]}
