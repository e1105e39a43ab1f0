"""Phone stills (issue 10, Medium #6): an upload is checked by its magic bytes and the pixel
count in its header before anything decodes it, and is taken only as the answer to an open
request of the officer's (one photo per request, the request expires)."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from PIL import Image

from kuaichu.accounts.model import Officer, Role
from kuaichu.calls.fanout import CallFanout
from kuaichu.calls.model import Call, CallState
from kuaichu.calls.sessions import CallRegistry
from kuaichu.errors import Conflict, InvalidMessage, NotFound
from kuaichu.evidence import captures as captures_module
from kuaichu.evidence.call_capture import CallCapture
from kuaichu.evidence.captures import CallFacts, CaptureDesk, CaptureView
from kuaichu.evidence.stills import MAX_STILL_PIXELS, check_still_header
from kuaichu.queue import QueuedCall
from kuaichu.signaling.emitter import Emitter
from tests.web.test_bodies import CHUNKED, ask_for, chunked, start_call, upload


def photo(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height``: a few dozen bytes that would decode
    to gigabytes (the rest of the file does not matter to a header check)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is rewritten to claim another size."""
    data = bytearray(photo("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


# -- the header check -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_pass_with_their_size(fmt: str) -> None:
    assert check_still_header(photo(fmt, (64, 48))) == (64, 48)


@pytest.mark.parametrize(
    "data",
    [photo("GIF"), photo("BMP"), b"%PDF-1.7 ...", b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
)
def test_other_types_are_refused_by_their_magic_bytes(data: bytes) -> None:
    with pytest.raises(InvalidMessage, match="must be a JPEG, PNG or WebP"):
        check_still_header(data)


def test_a_header_that_does_not_parse_is_not_an_image() -> None:
    with pytest.raises(InvalidMessage, match="not a readable image"):
        check_still_header(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)


@pytest.mark.parametrize(
    "data",
    [
        png_header_only(7000, 7000),  # the 143 KB PNG that cost ~970 MB
        png_header_only(20000, 20000),  # beyond Pillow's own decompression-bomb cap
        jpeg_claiming(6000, 6000),
    ],
)
def test_too_many_pixels_are_refused_from_the_header(data: bytes) -> None:
    with pytest.raises(InvalidMessage, match="too many pixels") as refused:
        check_still_header(data)
    assert refused.value.detail["limit"] == MAX_STILL_PIXELS


async def test_the_desk_never_decodes_an_image_with_too_many_pixels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_decoding(_data: bytes) -> Any:
        raise AssertionError("decoded before the pixel count was checked")

    monkeypatch.setattr(captures_module, "decode_rgb", no_decoding)
    desk = CaptureDesk(cast(Any, None), cast(Any, None), cast(Any, None), tmp_path, None)
    facts = CallFacts("call-1", "KC-1", 1, None, None, None)
    with pytest.raises(InvalidMessage, match="too many pixels"):
        await desk.phone_still(facts, "damage", png_header_only(7000, 7000))
    assert not list(tmp_path.rglob("*"))


# -- only what the officer asked for ----------------------------------------------------------

OFFICER = Officer(7, "zhang", "张警官", Role.OFFICER)


class _Silent(Emitter):
    def __init__(self) -> None:
        super().__init__(sio=None)

    def send(self, event: str, data: Any, namespace: str, to: str | None) -> None:
        pass


class _Desk:
    """The capture desk as far as the call's evidence uses it: stores unless told not to."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []

    async def phone_still(self, facts: CallFacts, kind: str, data: bytes) -> CaptureView:
        if data == b"not a photo":
            raise InvalidMessage("the upload is not a readable image")
        self.stored.append(data)
        return cast(CaptureView, {"id": len(self.stored), "plate": None})


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _live_call() -> tuple[CallCapture, Call, _Desk, _Clock]:
    sessions = CallRegistry()
    call = Call("call-1", "KC-1", "driver-sid", QueuedCall("call-1", "KC-1", 0.0), None)
    call.officer_id, call.state = OFFICER.id, CallState.IN_CALL
    sessions.add(call)
    desk, clock = _Desk(), _Clock()
    capture = CallCapture(
        sessions,
        CallFanout(_Silent(), sessions),
        cast(CaptureDesk, desk),
        cast(Any, None),
        request_seconds=60,
        clock=clock,
    )
    return capture, call, desk, clock


async def test_a_still_is_taken_once_per_request_and_only_while_it_is_open() -> None:
    capture, call, desk, clock = _live_call()
    token = call.resume_token
    # Nobody asked: refused, before and after the body.
    with pytest.raises(Conflict, match="not asked"):
        capture.expect_still("call-1", token, "damage")
    with pytest.raises(Conflict, match="not asked"):
        await capture.phone_still("call-1", token, "damage", b"photo")
    capture.request_still(OFFICER, "call-1", "damage")
    # Another kind than the one asked for is refused.
    with pytest.raises(Conflict):
        await capture.phone_still("call-1", token, "plate", b"photo")
    # A refused upload (not an image) leaves the request open; the next one answers it.
    with pytest.raises(InvalidMessage):
        await capture.phone_still("call-1", token, "damage", b"not a photo")
    capture.expect_still("call-1", token, "damage")
    await capture.phone_still("call-1", token, "damage", b"photo")
    # One photo per request.
    with pytest.raises(Conflict):
        await capture.phone_still("call-1", token, "damage", b"photo again")
    # A request expires.
    capture.request_still(OFFICER, "call-1", "damage")
    clock.now += 61
    with pytest.raises(Conflict):
        await capture.phone_still("call-1", token, "damage", b"late photo")
    assert desk.stored == [b"photo"]


async def test_concurrent_uploads_answer_one_request_once() -> None:
    capture, call, desk, _ = _live_call()
    capture.request_still(OFFICER, "call-1", "damage")
    results = await asyncio.gather(
        *(capture.phone_still("call-1", call.resume_token, "damage", b"p") for _ in range(15)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert len(desk.stored) == 1


@pytest.mark.parametrize("token", ["令牌" * 8, "\udcff" * 20, "x" * 24])
async def test_a_foreign_token_is_no_such_call(token: str) -> None:
    capture, _, _, _ = _live_call()
    capture.request_still(OFFICER, "call-1", "damage")
    with pytest.raises(NotFound):
        capture.expect_still("call-1", token, "damage")
    with pytest.raises(NotFound):
        await capture.phone_still("call-1", token, "damage", b"photo")


async def test_an_ended_call_forgets_its_requests() -> None:
    capture, call, desk, _ = _live_call()
    capture.request_still(OFFICER, "call-1", "damage")
    call.state = CallState.ENDED
    with pytest.raises(Conflict):
        await capture.phone_still("call-1", call.resume_token, "damage", b"photo")
    assert not desk.stored


# -- through the real server ------------------------------------------------------------------


async def test_uploads_nobody_asked_for_are_refused_and_nothing_is_stored(
    live_server: Any,
) -> None:
    driver, officer, call_id, case_id = await start_call(live_server)
    still = photo("JPEG", (320, 240))
    try:
        status, body = await upload(live_server, driver, call_id, CHUNKED, chunked(still, 4096))
        assert status == 409, body
        assert b"not asked" in body
        # One request, fifteen uploads at once: one is evidence.
        await ask_for(officer, driver, call_id, "damage")
        answers = await asyncio.gather(
            *(
                upload(live_server, driver, call_id, CHUNKED, chunked(still, 4096))
                for _ in range(15)
            )
        )
        assert sorted(status for status, _ in answers) == [201] + [409] * 14
        assert live_server.rows("select count(*) from captures")[0][0] == 1
        folder = live_server.data_dir / "recordings" / case_id
        assert len(list(folder.glob("still-*"))) == 1
    finally:
        await driver.close()
        await officer.close()
