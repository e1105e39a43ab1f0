"""Keyframe detection, parameter sets and codec preferences against literal bytes."""

from __future__ import annotations

from kuaichu.media.bitstream import (
    audio_codec_preferences,
    h264_is_keyframe,
    h264_nal_types,
    h264_parameter_sets,
    is_keyframe,
    video_codec_preferences,
    vp8_dimensions,
    vp8_is_keyframe,
)

SPS = bytes.fromhex("6742c01f8c8d40")
PPS = bytes.fromhex("68ce3c80")
IDR = bytes.fromhex("65888400ffff")
P_SLICE = bytes.fromhex("419a2238")
SEI = bytes.fromhex("0605ff")

IDR_AU = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS + b"\x00\x00\x01" + IDR
P_AU = b"\x00\x00\x00\x01" + SEI + b"\x00\x00\x00\x01" + P_SLICE
BARE_IDR_AU = b"\x00\x00\x00\x01" + IDR

# VP8 key frame: tag 0x9d 0x01 0x2a start code, 1280x720 (0x0500, 0x02d0)
VP8_KEY = bytes([0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x00, 0x05, 0xD0, 0x02]) + b"\x00" * 8
VP8_INTER = bytes([0x31, 0x0A, 0x00]) + b"\x00" * 8


def test_h264_nal_types_with_3_and_4_byte_start_codes() -> None:
    assert h264_nal_types(IDR_AU) == [7, 8, 5]
    assert h264_nal_types(P_AU) == [6, 1]


def test_h264_keyframe_detection() -> None:
    assert h264_is_keyframe(IDR_AU)
    assert h264_is_keyframe(BARE_IDR_AU)
    assert not h264_is_keyframe(P_AU)
    assert not h264_is_keyframe(b"")
    assert is_keyframe("H264", IDR_AU) and not is_keyframe("h264", P_AU)


def test_h264_parameter_sets() -> None:
    assert h264_parameter_sets(IDR_AU) == b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS
    assert h264_parameter_sets(BARE_IDR_AU) is None
    assert h264_parameter_sets(P_AU) is None


def test_vp8_keyframe_and_size() -> None:
    assert vp8_is_keyframe(VP8_KEY)
    assert not vp8_is_keyframe(VP8_INTER)
    assert vp8_dimensions(VP8_KEY) == (1280, 720)
    assert vp8_dimensions(VP8_INTER) is None
    assert is_keyframe("VP8", VP8_KEY) and not is_keyframe("VP8", VP8_INTER)
    assert is_keyframe("opus", b"\xfc")


def test_codec_preferences() -> None:
    prefs = video_codec_preferences()
    names = [(c.mimeType, c.parameters.get("profile-level-id")) for c in prefs]
    assert names == [("video/H264", "42e01f"), ("video/VP8", None), ("video/rtx", None)]
    assert prefs[0].parameters["packetization-mode"] == "1"
    assert [c.mimeType for c in video_codec_preferences("VP8")] == ["video/VP8", "video/rtx"]
    assert [c.mimeType for c in video_codec_preferences("H264")] == ["video/H264", "video/rtx"]
    assert [c.mimeType for c in audio_codec_preferences()] == ["audio/opus"]
