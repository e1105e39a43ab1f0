"""A manifest that lost entries fails verification, and an append on a full disk leaves the
manifest as it was (a real tmpfs filled to the last byte)."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest

from kuaichu.evidence.manifest import (
    HEAD_NAME,
    MANIFEST_NAME,
    EvidenceManifest,
    ManifestNotWritten,
    verify_case_folder,
    verify_command,
)
from kuaichu.evidence.manifest import append as append_module
from kuaichu.evidence.signing import ServerKey
from tests.evidence.test_manifest import CASE_ID, publish, tiny_jpeg
from tests.support.tmpfs import fill, small_tmpfs


def _kinds(case_dir: Path, key: ServerKey) -> list[str]:
    return [p.kind for p in verify_case_folder(case_dir, key.public_key).problems]


def _three(case_dir: Path, key: ServerKey) -> EvidenceManifest:
    manifest = EvidenceManifest(case_dir, key)
    for i in range(3):
        manifest.append(publish(case_dir / f"scene-{i}.jpg", tiny_jpeg(10 * i)), "capture")
    return manifest


def test_an_empty_manifest_fails_verification(tmp_path: Path) -> None:
    key = ServerKey.load_or_create(tmp_path / "data")
    case_dir = tmp_path / "data" / "recordings" / CASE_ID
    case_dir.mkdir(parents=True)
    (case_dir / "call.live.mkv").write_bytes(b"\x1a\x45\xdf\xa3")  # only ignored files
    (case_dir / MANIFEST_NAME).write_bytes(b"")
    report = verify_case_folder(case_dir, key.public_key)
    assert not report.ok
    assert report.first is not None and report.first.kind == "truncated"
    out = io.StringIO()
    assert (
        verify_command(CASE_ID, tmp_path / "data", tmp_path / "data" / "recordings", out=out) == 1
    )
    assert "NOT OK" in out.getvalue() and "empty" in out.getvalue()


@pytest.mark.parametrize("keep", [0, 1, 2])
def test_a_manifest_cut_to_whole_lines_fails_verification(tmp_path: Path, keep: int) -> None:
    key = ServerKey.load_or_create(tmp_path / "data")
    case_dir = tmp_path / "data" / "recordings" / CASE_ID
    case_dir.mkdir(parents=True)
    _three(case_dir, key)
    assert verify_case_folder(case_dir, key.public_key).ok
    path = case_dir / MANIFEST_NAME
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:keep]))  # a valid chain, entries lost from the end
    # Remove the files too, so only the head can tell.
    for i in range(keep, 3):
        (case_dir / f"scene-{i}.jpg").unlink()
    report = verify_case_folder(case_dir, key.public_key)
    assert not report.ok
    assert [p.kind for p in report.problems] == ["truncated"]
    assert report.first is not None and "missing" in report.first.detail


def test_an_append_cut_short_by_a_full_disk_leaves_the_manifest_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the line reaches the disk, then ENOSPC (a small append on a real full disk often
    fits the file's last page, so the fault is injected here)."""
    key = ServerKey.load_or_create(tmp_path / "data")
    case_dir = tmp_path / "data" / "recordings" / CASE_ID
    case_dir.mkdir(parents=True)
    manifest = _three(case_dir, key)
    before = (case_dir / MANIFEST_NAME).read_bytes()
    late = publish(case_dir / "late.jpg", tiny_jpeg(99))
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(append_module.os, "write", half_then_full)
        with pytest.raises(ManifestNotWritten) as caught:
            manifest.append(late, "capture")
    assert caught.value.detail["reason"] == "disk_full"
    assert (case_dir / MANIFEST_NAME).read_bytes() == before  # no half line, no loss
    # The unlisted file is reported; the three entries still verify.
    assert _kinds(case_dir, key) == ["added"]
    manifest.append(late, "capture")  # space is back: the same file is listed
    assert verify_case_folder(case_dir, key.public_key).ok


def test_a_first_append_on_a_full_disk_leaves_no_empty_manifest(tmp_path: Path) -> None:
    key = ServerKey.load_or_create(tmp_path / "data")
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        case_dir = disk / CASE_ID
        case_dir.mkdir()
        still = publish(case_dir / "still.jpg", tiny_jpeg(5))
        filler = fill(disk)
        with pytest.raises(ManifestNotWritten):
            EvidenceManifest(case_dir, key).append(still, "phone_photo")
        assert not (case_dir / MANIFEST_NAME).exists()
        assert not (case_dir / HEAD_NAME).exists()
        assert _kinds(case_dir, key) == ["no_manifest", "added"]
        filler.unlink()
        EvidenceManifest(case_dir, key).append(still, "phone_photo")
        assert verify_case_folder(case_dir, key.public_key).ok
