"""The picture size of an encoded keyframe, read from its headers without decoding: the H.264
sequence parameter set (ITU-T H.264 section 7.3.2.1.1) or the VP8 key frame header.

The server knows what it receives without decoding a frame: a plate capture made while the
driver's video arrives below 720p asks the phone for a photo instead (kuaichu.evidence).
"""

from __future__ import annotations

from kuaichu.media.bitstream import H264_NAL_SPS, iter_nal_units, vp8_dimensions

# profile_idc values whose SPS carries chroma format, bit depths and scaling lists.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


class _Bits:
    """An RBSP bit reader with Exp-Golomb codes. Raises IndexError past the end."""

    def __init__(self, rbsp: bytes) -> None:
        self.data = rbsp
        self.pos = 0

    def bit(self) -> int:
        byte = self.data[self.pos >> 3]
        value = (byte >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    """Drop the emulation prevention bytes (00 00 03 -> 00 00)."""
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + bits.se() + 256) % 256
        last = last if nxt == 0 else nxt


def h264_sps_dimensions(sps: bytes) -> tuple[int, int] | None:
    """Width and height (after cropping) from an SPS NAL unit (header byte included), or
    None when it cannot be read."""
    try:
        bits = _Bits(_rbsp(sps[1:]))
        profile_idc = bits.bits(8)
        bits.bits(16)  # constraint flags, level_idc
        bits.ue()  # seq_parameter_set_id
        chroma_format_idc = 1
        separate_colour_plane = 0
        if profile_idc in _HIGH_PROFILES:
            chroma_format_idc = bits.ue()
            if chroma_format_idc == 3:
                separate_colour_plane = bits.bit()
            bits.ue()  # bit_depth_luma_minus8
            bits.ue()  # bit_depth_chroma_minus8
            bits.bit()  # qpprime_y_zero_transform_bypass_flag
            if bits.bit():  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma_format_idc != 3 else 12):
                    if bits.bit():
                        _skip_scaling_list(bits, 16 if i < 6 else 64)
        bits.ue()  # log2_max_frame_num_minus4
        poc_type = bits.ue()
        if poc_type == 0:
            bits.ue()
        elif poc_type == 1:
            bits.bit()
            bits.se()
            bits.se()
            for _ in range(bits.ue()):
                bits.se()
        bits.ue()  # max_num_ref_frames
        bits.bit()  # gaps_in_frame_num_value_allowed_flag
        width_mbs = bits.ue() + 1
        height_map_units = bits.ue() + 1
        frame_mbs_only = bits.bit()
        if not frame_mbs_only:
            bits.bit()  # mb_adaptive_frame_field_flag
        bits.bit()  # direct_8x8_inference_flag
        width = width_mbs * 16
        height = (2 - frame_mbs_only) * height_map_units * 16
        if bits.bit():  # frame_cropping_flag
            left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
            chroma = 0 if separate_colour_plane else chroma_format_idc
            crop_x = 1 if chroma == 0 else (2 if chroma in (1, 2) else 1)
            crop_y = (1 if chroma in (0, 2, 3) else 2) * (2 - frame_mbs_only)
            width -= crop_x * (left + right)
            height -= crop_y * (top + bottom)
    except (IndexError, ValueError):
        return None
    if width <= 0 or height <= 0:
        return None
    return width, height


def frame_dimensions(codec: str, data: bytes) -> tuple[int, int] | None:
    """Width and height of a keyframe (an H.264 access unit with its SPS, a VP8 key frame);
    None for other frames and audio."""
    name = codec.upper()
    if name == "VP8":
        return vp8_dimensions(data)
    if name == "H264":
        for nal in iter_nal_units(data):
            if nal[0] & 0x1F == H264_NAL_SPS:
                return h264_sps_dimensions(nal)
    return None
