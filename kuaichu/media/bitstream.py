"""Pure helpers on encoded video and on codec negotiation. No I/O, no aiortc internals."""

from __future__ import annotations

from collections.abc import Iterator

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

H264_NAL_IDR = 5
H264_NAL_SPS = 7
H264_NAL_PPS = 8

# Constrained baseline 3.1, packetization-mode 1: what iOS Safari and every browser decode.
H264_PROFILE_LEVEL_ID = "42e01f"


def iter_nal_units(access_unit: bytes) -> Iterator[bytes]:
    """Yield the NAL units (without start codes) of an Annex-B byte stream."""
    i = access_unit.find(b"\x00\x00\x01")
    while i != -1:
        start = i + 3
        nxt = access_unit.find(b"\x00\x00\x01", start)
        if nxt == -1:
            nal = access_unit[start:]
        else:
            # A 4-byte start code leaves a zero byte at the end of the previous NAL unit.
            end = nxt - 1 if access_unit[nxt - 1] == 0 else nxt
            nal = access_unit[start:end]
        if nal:
            yield nal
        i = nxt


def h264_nal_types(access_unit: bytes) -> list[int]:
    return [nal[0] & 0x1F for nal in iter_nal_units(access_unit)]


def h264_is_keyframe(access_unit: bytes) -> bool:
    """An access unit a decoder can start from: it carries an IDR slice or an SPS."""
    return any(t in (H264_NAL_IDR, H264_NAL_SPS) for t in h264_nal_types(access_unit))


def h264_parameter_sets(access_unit: bytes) -> bytes | None:
    """The SPS and PPS of an access unit as Annex-B (start code + NAL each), or None when
    either is missing. Usable as Annex-B extradata."""
    sps = pps = None
    for nal in iter_nal_units(access_unit):
        nal_type = nal[0] & 0x1F
        if nal_type == H264_NAL_SPS and sps is None:
            sps = nal
        elif nal_type == H264_NAL_PPS and pps is None:
            pps = nal
    if sps is None or pps is None:
        return None
    return b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps


def vp8_is_keyframe(frame: bytes) -> bool:
    """RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame."""
    return len(frame) >= 3 and frame[0] & 0x01 == 0


def vp8_dimensions(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header, or None for other frames."""
    if not vp8_is_keyframe(frame) or len(frame) < 10 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return width, height


def is_keyframe(codec: str, data: bytes) -> bool:
    """Keyframe test by SDP codec name; audio frames are all independent."""
    name = codec.upper()
    if name == "H264":
        return h264_is_keyframe(data)
    if name == "VP8":
        return vp8_is_keyframe(data)
    return True


def _is_preferred_h264(codec: RTCRtpCodecCapability) -> bool:
    return (
        codec.mimeType.lower() == "video/h264"
        and str(codec.parameters.get("packetization-mode")) == "1"
        and str(codec.parameters.get("profile-level-id", "")).lower() == H264_PROFILE_LEVEL_ID
    )


def video_codec_preferences(only: str | None = None) -> list[RTCRtpCodecCapability]:
    """H.264 constrained baseline (packetization-mode 1, 42e01f), then VP8, each with RTX.

    ``only`` ("H264"/"VP8") restricts the list to that codec: the officer leg must carry
    exactly what the driver sends, since nothing is transcoded.
    """
    caps = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in caps if _is_preferred_h264(c)]
    vp8 = [c for c in caps if c.mimeType.lower() == "video/vp8"]
    rtx = [c for c in caps if c.mimeType.lower() == "video/rtx"]
    by_name = {"H264": h264[:1], "VP8": vp8[:1]}
    if only is not None:
        chosen = by_name.get(only.upper(), [])
        if not chosen:
            raise ValueError(f"unsupported video codec {only!r}")
        return chosen + rtx
    return h264[:1] + vp8[:1] + rtx


def audio_codec_preferences() -> list[RTCRtpCodecCapability]:
    caps = RTCRtpSender.getCapabilities("audio").codecs
    return [c for c in caps if c.mimeType.lower() == "audio/opus"]
