"""The server's Ed25519 signing key: made once, kept private, never replaced, the same for
processes that start together."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from pathlib import Path

import pytest

from kuaichu.evidence.signing import KEY_FILE_NAME, ServerKey, ServerKeyError, load_public_key


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_key_created_once_private_and_reloaded(data_dir: Path) -> None:
    first = ServerKey.load_or_create(data_dir)
    path = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE_NAME]  # no temporary left

    again = ServerKey.load_or_create(data_dir)
    assert path.read_bytes() == pem
    assert again.key_id == first.key_id
    assert again.public_key_pem == first.public_key_pem
    assert len(first.key_id) == 16
    assert again.sign(b"evidence") == first.sign(b"evidence")  # Ed25519 is deterministic

    # The published forms load back to the same key.
    for published in (first.public_key_pem, first.public_key_raw_b64):
        load_public_key(published).verify(first.sign(b"x"), b"x")
    assert first.public_info()["algorithm"] == "Ed25519"


def test_corrupt_key_file_is_refused_not_replaced(data_dir: Path) -> None:
    data_dir.mkdir()
    path = data_dir / KEY_FILE_NAME
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ServerKeyError) as exc:
        ServerKey.load_or_create(data_dir)
    assert exc.value.code == "server_key_invalid"
    assert exc.value.detail["reason"] == "unparsable"
    assert b"not a key" in path.read_bytes()


def _key_id_in_process(data_dir: str, go: str, out: str) -> None:
    while not os.path.exists(go):
        time.sleep(0.002)
    Path(out).write_text(ServerKey.load_or_create(Path(data_dir)).key_id)


def test_racing_first_starts_get_the_same_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    go = tmp_path / "go"
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"key-{i}" for i in range(3)]
    procs = [
        ctx.Process(target=_key_id_in_process, args=(str(data_dir), str(go), str(out)))
        for out in outs
    ]
    for p in procs:
        p.start()
    go.touch()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    ids = {out.read_text() for out in outs}
    assert ids == {ServerKey.load(data_dir).key_id}
