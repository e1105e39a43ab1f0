"""The signed evidence manifest of a case folder: real files, real keys, real processes."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from kuaichu.evidence.manifest import (
    GENESIS,
    MANIFEST_NAME,
    EvidenceAlreadyListed,
    EvidenceManifest,
    EvidenceRefused,
    ManifestBroken,
    verify_case_folder,
    verify_command,
)
from kuaichu.evidence.signing import (
    ServerKey,
)
from kuaichu.media.picture import encode_jpeg

CASE_ID = "KC20240501K7M3QX"


def tiny_jpeg(shade: int) -> bytes:
    picture = np.full((16, 24, 3), shade, np.uint8)
    return encode_jpeg(av.VideoFrame.from_ndarray(picture, format="rgb24"))


def publish(path: Path, data: bytes) -> Path:
    """As the media code does: a hidden temporary name, then a hard link to the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.link(tmp, path)
    tmp.unlink()
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def key(data_dir: Path) -> ServerKey:
    return ServerKey.load_or_create(data_dir)


@pytest.fixture
def case_dir(data_dir: Path) -> Path:
    folder = data_dir / "recordings" / CASE_ID
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def filled(case_dir: Path, key: ServerKey) -> EvidenceManifest:
    """A case with two captures, the call recording and a determination."""
    manifest = EvidenceManifest(case_dir, key)
    plate = publish(case_dir / "plate-20240501T080001123Z-1.jpg", tiny_jpeg(40))
    manifest.append(plate, "capture", {"capture_kind": "plate", "width": 24, "height": 16})
    damage = publish(case_dir / "damage-20240501T080005456Z-2.jpg", tiny_jpeg(200))
    manifest.append(damage, "capture", {"capture_kind": "damage"})
    recording = publish(case_dir / "call-1.mp4", b"\x00\x00\x00\x18ftypisom" + bytes(5000))
    manifest.append(recording, "recording", {"call_id": "call-1", "duration_s": 61.5})
    doc = publish(case_dir / "determination-v1.pdf", b"%PDF-1.7\n" + "认定书".encode() * 50)
    manifest.append(doc, "document", {"number": "渝公交认字[2024]第00007号", "version": 1})
    return manifest


def kinds(report: object) -> list[tuple[str, str | None, int | None]]:
    return [(p.kind, p.path, p.seq) for p in report.problems]  # type: ignore[attr-defined]


# ---- appending and verifying ---------------------------------------------------------------


def test_append_and_verify_ok(filled: EvidenceManifest, case_dir: Path, key: ServerKey) -> None:
    # What the media code leaves while it works is not evidence yet.
    (case_dir / "call-2.live.mkv").write_bytes(b"\x1a\x45\xdf\xa3 live")
    (case_dir / ".scene-20240501T080009000Z-3.jpg.part").write_bytes(b"half a jpeg")
    (case_dir / ".determination-v2.pdf.1a2b3c4d.tmp").write_bytes(b"%PDF")

    report = verify_case_folder(case_dir, key.public_key)
    assert report.ok, report.problems
    assert report.entries == 4
    assert report.first is None
    assert report.to_dict() == {
        "case_dir": str(case_dir),
        "ok": True,
        "entries": 4,
        "problems": [],
        "first": None,
    }

    entries = filled.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.path for e in entries] == [
        "plate-20240501T080001123Z-1.jpg",
        "damage-20240501T080005456Z-2.jpg",
        "call-1.mp4",
        "determination-v1.pdf",
    ]
    assert entries[0].prev == GENESIS
    assert all(b.prev == a.entry_hash() for a, b in itertools.pairwise(entries))
    assert entries[0].sha256 == hashlib.sha256(tiny_jpeg(40)).hexdigest()
    assert entries[3].meta["number"] == "渝公交认字[2024]第00007号"
    assert {e.key_id for e in entries} == {key.key_id}

    # The line on disk is the canonical JSON plus the signature, Chinese kept as UTF-8.
    lines = (case_dir / MANIFEST_NAME).read_bytes().decode("utf-8").splitlines()
    assert "渝公交认字" in lines[3]
    stored = json.loads(lines[3])
    signature = base64.b64decode(stored.pop("signature"))
    canonical = json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key.public_key.verify(signature, canonical.encode("utf-8"))
    assert filled.head() == (4, entries[3].entry_hash())


def test_append_returns_what_a_reader_reads(case_dir: Path, key: ServerKey) -> None:
    manifest = EvidenceManifest(case_dir, key)
    still = publish(case_dir / "stills" / "phone-1.jpg", tiny_jpeg(90))
    digest = hashlib.sha256(still.read_bytes()).hexdigest()
    entry = manifest.append(still, "phone_still", {"sides": ("front", "rear")}, sha256=digest)
    assert entry.path == "stills/phone-1.jpg"
    assert entry.size == still.stat().st_size
    assert entry.meta == {"sides": ["front", "rear"]}
    assert manifest.entries() == [entry]
    assert verify_case_folder(case_dir, key.public_key).ok


def test_one_changed_byte_in_a_jpeg_is_altered(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    jpeg = case_dir / "damage-20240501T080005456Z-2.jpg"
    data = bytearray(jpeg.read_bytes())
    data[len(data) // 2] ^= 0x01
    jpeg.write_bytes(bytes(data))

    report = verify_case_folder(case_dir, key.public_key)
    assert not report.ok
    assert kinds(report) == [("altered", "damage-20240501T080005456Z-2.jpg", 2)]
    assert report.first == report.problems[0]
    assert "content differs" in report.first.detail


def test_removed_file(filled: EvidenceManifest, case_dir: Path, key: ServerKey) -> None:
    (case_dir / "call-1.mp4").unlink()
    report = verify_case_folder(case_dir, key.public_key)
    assert kinds(report) == [("removed", "call-1.mp4", 3)]


def test_added_files_come_after_the_manifest_problems_sorted_by_name(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    publish(case_dir / "zz-extra.jpg", tiny_jpeg(10))
    publish(case_dir / "extra" / "a-extra.jpg", tiny_jpeg(11))
    (case_dir / "determination-v1.pdf").write_bytes(b"%PDF-1.7 forged")
    report = verify_case_folder(case_dir, key.public_key)
    assert kinds(report) == [
        ("altered", "determination-v1.pdf", 4),
        ("added", "extra/a-extra.jpg", None),
        ("added", "zz-extra.jpg", None),
    ]
    assert "size differs" in report.problems[0].detail


def test_sha_edited_in_the_manifest_to_match_a_tampered_file_is_a_bad_signature(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    jpeg = case_dir / "plate-20240501T080001123Z-1.jpg"
    forged = tiny_jpeg(41)
    jpeg.write_bytes(forged)
    manifest_path = case_dir / MANIFEST_NAME
    lines = manifest_path.read_text(encoding="utf-8").splitlines(keepends=True)
    obj = json.loads(lines[0])
    obj["sha256"] = hashlib.sha256(forged).hexdigest()
    obj["size"] = len(forged)
    lines[0] = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    manifest_path.write_text("".join(lines), encoding="utf-8")

    report = verify_case_folder(case_dir, key.public_key)
    # The file now matches its (forged) line: only the signature tells.
    assert kinds(report) == [("bad_signature", "plate-20240501T080001123Z-1.jpg", 1)]
    assert "edited" in report.problems[0].detail

    with pytest.raises(ManifestBroken) as refused:
        filled.append(publish(case_dir / "scene-1.jpg", tiny_jpeg(5)), "capture")
    # Appends check every link and the last signature: the edit shows as a broken link.
    assert refused.value.detail["first"]["kind"] == "broken_chain"
    assert len(filled.entries()) == 4


def test_append_refuses_when_the_last_entry_fails_verification(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    manifest_path = case_dir / MANIFEST_NAME
    lines = manifest_path.read_text(encoding="utf-8").splitlines(keepends=True)
    obj = json.loads(lines[-1])
    obj["meta"]["version"] = 2
    lines[-1] = json.dumps(obj, ensure_ascii=False) + "\n"
    manifest_path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ManifestBroken) as refused:
        filled.append(publish(case_dir / "scene-1.jpg", tiny_jpeg(5)), "capture")
    assert refused.value.detail["first"]["kind"] == "bad_signature"
    assert refused.value.detail["first"]["seq"] == 4
    # A server with another key does not extend this chain either.
    stranger = EvidenceManifest(case_dir, ServerKey.generate())
    manifest_path.write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(ManifestBroken):
        stranger.append(case_dir / "scene-1.jpg", "capture")
    assert len(filled.entries()) == 3


def test_deleted_middle_line_breaks_the_chain(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    manifest_path = case_dir / MANIFEST_NAME
    lines = manifest_path.read_bytes().splitlines(keepends=True)
    manifest_path.write_bytes(b"".join(lines[:1] + lines[2:]))

    report = verify_case_folder(case_dir, key.public_key)
    assert kinds(report) == [
        ("broken_chain", "call-1.mp4", 3),
        ("added", "damage-20240501T080005456Z-2.jpg", None),
    ]
    assert "entry 2 is missing" in report.first.detail  # type: ignore[union-attr]


def test_deleting_a_line_and_its_file_still_breaks_the_chain(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    manifest_path = case_dir / MANIFEST_NAME
    lines = manifest_path.read_bytes().splitlines(keepends=True)
    manifest_path.write_bytes(b"".join(lines[:1] + lines[2:]))
    (case_dir / "damage-20240501T080005456Z-2.jpg").unlink()
    assert kinds(verify_case_folder(case_dir, key.public_key)) == [
        ("broken_chain", "call-1.mp4", 3)
    ]


def test_swapped_lines_break_the_chain(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    manifest_path = case_dir / MANIFEST_NAME
    lines = manifest_path.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    manifest_path.write_bytes(b"".join(lines))
    report = verify_case_folder(case_dir, key.public_key)
    assert not report.ok
    assert {p.kind for p in report.problems} == {"broken_chain"}
    assert report.first is not None and report.first.seq == 2


def test_another_servers_key_is_a_bad_signature(
    filled: EvidenceManifest, case_dir: Path, tmp_path: Path
) -> None:
    other = ServerKey.load_or_create(tmp_path / "other-server")
    report = verify_case_folder(case_dir, other.public_key)
    assert [p.kind for p in report.problems] == ["bad_signature"] * 4
    assert [p.seq for p in report.problems] == [1, 2, 3, 4]
    assert other.key_id in report.problems[0].detail

    # The same entries signed by another key (key id forged to match) fail too.
    manifest_path = case_dir / MANIFEST_NAME
    forged = []
    for line in manifest_path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        obj["key_id"] = other.key_id
        forged.append(json.dumps(obj, ensure_ascii=False))
    manifest_path.write_text("\n".join(forged) + "\n", encoding="utf-8")
    report = verify_case_folder(case_dir, other.public_key)
    assert report.first is not None and report.first.kind == "bad_signature"
    assert "edited" in report.first.detail


def test_truncated_last_line_is_malformed_and_stops_appends(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    manifest_path = case_dir / MANIFEST_NAME
    data = manifest_path.read_bytes()
    manifest_path.write_bytes(data[:-40])  # a crash in the middle of the last write

    report = verify_case_folder(case_dir, key.public_key)
    assert kinds(report) == [
        ("malformed", None, None),
        ("added", "determination-v1.pdf", None),
    ]
    assert "line 4 is incomplete" in report.problems[0].detail
    assert report.entries == 3

    with pytest.raises(ManifestBroken):
        filled.append(publish(case_dir / "scene-1.jpg", tiny_jpeg(5)), "capture")
    with pytest.raises(ManifestBroken):
        filled.entries()


def test_garbage_line_and_unsigned_extra_field_are_malformed(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey
) -> None:
    manifest_path = case_dir / MANIFEST_NAME
    lines = manifest_path.read_text(encoding="utf-8").splitlines(keepends=True)
    obj = json.loads(lines[1])
    obj["note"] = "reviewed"
    lines[1] = json.dumps(obj) + "\n"
    manifest_path.write_text("".join(lines), encoding="utf-8")
    report = verify_case_folder(case_dir, key.public_key)
    assert report.first is not None
    assert report.first.kind == "malformed"
    assert "unknown field(s) note" in report.first.detail


def test_no_manifest(case_dir: Path, key: ServerKey) -> None:
    publish(case_dir / "plate-1.jpg", tiny_jpeg(3))
    report = verify_case_folder(case_dir, key.public_key)
    assert kinds(report) == [("no_manifest", MANIFEST_NAME, None), ("added", "plate-1.jpg", None)]
    missing = verify_case_folder(case_dir.parent / "C-nope", key.public_key)
    assert [p.kind for p in missing.problems] == ["no_manifest"]


def test_a_kept_live_recording_is_evidence_once_listed(case_dir: Path, key: ServerKey) -> None:
    # The recorder keeps call-9.live.mkv as the recording when the remux fails.
    live = publish(case_dir / "call-9.live.mkv", b"\x1a\x45\xdf\xa3" + bytes(300))
    assert kinds(verify_case_folder(case_dir, key.public_key)) == [
        ("no_manifest", MANIFEST_NAME, None)
    ]
    EvidenceManifest(case_dir, key).append(live, "recording")
    assert verify_case_folder(case_dir, key.public_key).ok
    live.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(299) + b"\x01")
    assert kinds(verify_case_folder(case_dir, key.public_key)) == [
        ("altered", "call-9.live.mkv", 1)
    ]


def test_append_refusals(
    filled: EvidenceManifest, case_dir: Path, key: ServerKey, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(tiny_jpeg(1))
    with pytest.raises(EvidenceRefused) as exc:
        filled.append(outside, "capture")
    assert exc.value.detail["reason"] == "outside_case"
    with pytest.raises(EvidenceRefused) as exc:
        filled.append(case_dir / ".." / ".." / "elsewhere.jpg", "capture")
    assert exc.value.detail["reason"] in ("outside_case", "not_a_file")

    link = case_dir / "linked.jpg"
    link.symlink_to(outside)
    with pytest.raises(EvidenceRefused) as exc:
        filled.append(link, "capture")
    assert exc.value.detail["reason"] == "not_a_file"

    temp = case_dir / ".scene-1.jpg.part"
    temp.write_bytes(b"x")
    with pytest.raises(EvidenceRefused) as exc:
        filled.append(temp, "capture")
    assert exc.value.detail["reason"] == "not_evidence"
    with pytest.raises(EvidenceRefused):
        filled.append(case_dir / MANIFEST_NAME, "capture")
    with pytest.raises(EvidenceRefused) as exc:
        filled.append(case_dir / "call-1.mp4", "Recording!")
    assert exc.value.detail["reason"] == "bad_kind"
    with pytest.raises(EvidenceRefused) as exc:
        filled.append(publish(case_dir / "x.jpg", b"x"), "capture", {"at": float("nan")})
    assert exc.value.detail["reason"] == "bad_meta"

    # Evidence is never replaced, even by identical bytes.
    with pytest.raises(EvidenceAlreadyListed) as listed:
        filled.append(case_dir / "call-1.mp4", "recording")
    assert listed.value.detail["seq"] == 3
    assert len(filled.entries()) == 4


# ---- concurrency -----------------------------------------------------------------------------


def test_eight_threads_append_one_unbroken_chain(case_dir: Path, key: ServerKey) -> None:
    per_thread = 6
    files = [
        [publish(case_dir / f"t{t}" / f"scene-{i}.jpg", bytes([t, i]) * 100) for i in range(6)]
        for t in range(8)
    ]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(mine: list[Path]) -> None:
        # A manifest object per thread, as each capture's worker would make its own.
        manifest = EvidenceManifest(case_dir, key)
        start.wait()
        try:
            for path in mine:
                manifest.append(path, "capture")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = EvidenceManifest(case_dir, key).entries()
    assert [e.seq for e in entries] == list(range(1, 8 * per_thread + 1))
    report = verify_case_folder(case_dir, key.public_key)
    assert report.ok and report.entries == 8 * per_thread


def _append_in_process(data_dir: str, case_dir: str, prefix: str, count: int, go: str) -> None:
    key = ServerKey.load_or_create(Path(data_dir))
    manifest = EvidenceManifest(Path(case_dir), key)
    paths = [
        publish(Path(case_dir) / f"{prefix}-{i}.jpg", f"{prefix}{i}".encode()) for i in range(count)
    ]
    while not os.path.exists(go):
        time.sleep(0.002)
    for path in paths:
        manifest.append(path, "capture")


def test_two_processes_append_one_unbroken_chain(
    data_dir: Path, case_dir: Path, key: ServerKey, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_append_in_process,
            args=(str(data_dir), str(case_dir), name, 15, str(go)),
        )
        for name in ("proc-a", "proc-b")
    ]
    for p in procs:
        p.start()
    go.touch()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    entries = EvidenceManifest(case_dir, key).entries()
    assert [e.seq for e in entries] == list(range(1, 31))
    assert {e.path.split("-")[1] for e in entries} == {"a", "b"}
    assert verify_case_folder(case_dir, key.public_key).ok


# ---- the command -------------------------------------------------------------------------------


def run(
    target: str, data_dir: Path, public_key: str | None = None, recordings: Path | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    recordings = data_dir / "recordings" if recordings is None else recordings
    code = verify_command(target, data_dir, recordings, public_key, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_verify_command(
    filled: EvidenceManifest, case_dir: Path, data_dir: Path, key: ServerKey, tmp_path: Path
) -> None:
    code, out, err = run(CASE_ID, data_dir)
    assert code == 0, err
    assert out.startswith("OK  ")
    assert "4 evidence file(s)" in out and key.key_id in out

    code, out, _ = run(str(case_dir), data_dir, key.public_key_raw_b64)
    assert code == 0
    key_file = tmp_path / "server.pub"
    key_file.write_text(key.public_key_pem)
    assert run(str(case_dir), data_dir, str(key_file))[0] == 0

    jpeg = case_dir / "plate-20240501T080001123Z-1.jpg"
    data = bytearray(jpeg.read_bytes())
    data[-3] ^= 0xFF
    jpeg.write_bytes(bytes(data))
    publish(case_dir / "extra.jpg", b"extra")
    code, out, _ = run(CASE_ID, data_dir)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("NOT OK") and "2 problems" in lines[0]
    assert lines[2] == "first problem:"
    assert "ALTERED" in lines[3] and "plate-20240501T080001123Z-1.jpg (entry 1)" in lines[3]
    assert "ADDED" in out and "extra.jpg" in out

    other = ServerKey.generate()
    code, out, _ = run(CASE_ID, data_dir, other.public_key_pem)
    assert code == 1 and "BAD_SIGNATURE" in out

    # Usage errors.
    assert run("C-unknown", data_dir)[0] == 2
    code, _, err = run(CASE_ID, data_dir, "not-a-key")
    assert code == 2 and "public key" in err
    code, _, err = run(CASE_ID, tmp_path / "no-data-dir", recordings=case_dir.parent)
    assert code == 2 and "no server key" in err
    assert not (tmp_path / "no-data-dir").exists()  # verifying never creates a key
