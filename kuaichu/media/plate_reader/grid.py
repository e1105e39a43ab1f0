"""The plate's millimetre grid (GA 36 layout) fitted to a candidate, and the strips cut through it
for the recogniser; the plate's colour from its strip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from .arrays import F32, U8
from .candidates import Candidate
from .models import REC_HEIGHT


@dataclass
class Prepared:
    candidate: Candidate
    colour: str
    to_frame: npt.NDArray[np.float64]  # homography: plate millimetres -> frame pixels
    unrefined: npt.NDArray[np.float64]  # the same from the candidate's corners alone
    strip: U8
    plate_height: float  # px in the frame
    # The free reading (folded), when it was the serial alone (extended_candidate).
    read_serial: str = ""

    @property
    def read_chars(self) -> int:
        return len(self.read_serial)


# Where a candidate's four corners sit on the plate, in millimetres (GA 36: 440x140, green
# 480x140, characters 90 mm high from y = 25), x of the right-hand corners counted from the
# plate's right edge. Medians measured on synthetic scenes (not the benchmark's seeds): the
# colour outlines are the plate's own (a green one extrapolated, see _green_quad); the
# detector's unclipped box reaches ~20 mm beyond the plate all round.
_Corners = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]
_COLOUR_CORNERS: Final[dict[str, _Corners]] = {
    "blue": ((2.0, -1.0), (-2.0, -1.0), (-1.0, 139.0), (2.0, 139.0)),
    "yellow": ((1.0, 0.0), (-5.0, 2.0), (-4.0, 136.0), (1.0, 137.0)),
    "green": ((0.0, 6.0), (-3.0, 6.0), (-2.0, 139.0), (-1.0, 139.0)),
}
_DET_CORNERS: Final[_Corners] = ((-21.0, -18.0), (23.0, -17.0), (23.0, 152.0), (-21.0, 151.0))
# The edge band's box: the characters (x 15.5..424.5, y 25..115) grown by the closing.
_EDGE_CORNERS: Final[_Corners] = ((10.0, 20.0), (-10.0, 20.0), (-10.0, 120.0), (10.0, 120.0))
PLATE_HEIGHT_MM: Final = 140.0
# What the recogniser sees: the character band with a margin (y 25..115 holds the characters).
STRIP_Y: Final = (8.0, 132.0)
STRIP_X_MARGIN: Final = 6.0
# Strips are stretched this much wider than the plate's own shape: its characters are half as
# wide as they are high, narrower than most text the recogniser learnt from. 1.1 read more
# than 1.25 on every set (real scenes 119 -> 121 of 126, hard synthetic +1 each) and 1.0 (one
# real plate fewer); a narrower strip is also cheaper to recognise.
_STRIP_STRETCH: Final = 1.1


def plate_width(colour: str) -> float:
    return 480.0 if colour == "green" else 440.0


def _plate_to_frame(candidate: Candidate, colour: str) -> npt.NDArray[np.float64]:
    width = plate_width(colour)
    if candidate.source == "extended":
        corners = ((0.0, 0.0), (0.0, 0.0), (0.0, PLATE_HEIGHT_MM), (0.0, PLATE_HEIGHT_MM))
    elif candidate.source == "colour" and candidate.hint is not None:
        corners = _COLOUR_CORNERS[candidate.hint]
    elif candidate.source == "edges":
        corners = _EDGE_CORNERS
    else:
        corners = _DET_CORNERS
    mm = np.array(corners, np.float32)
    mm[1:3, 0] += width
    return np.asarray(cv2.getPerspectiveTransform(mm, candidate.quad), np.float64)


def cut(
    image: npt.NDArray[Any],
    to_frame: npt.NDArray[np.float64],
    region: tuple[float, float, float, float],
    size: tuple[int, int],
) -> npt.NDArray[Any]:
    """The plate region (x0, y0, x1, y1 in mm) resampled to ``size`` (w, h) pixels.

    Sampled at up to 4x and averaged down: warpPerspective only interpolates, which aliases
    the strokes of a near plate shrunk to 48 px."""
    x0, y0, x1, y1 = region
    out_w, out_h = size
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    in_frame = cv2.perspectiveTransform(corners[None], to_frame)[0]
    frame_h = float(np.hypot(*(in_frame[3] - in_frame[0])) + np.hypot(*(in_frame[2] - in_frame[1])))
    factor = int(np.clip(round(frame_h / 2 / out_h), 1, 4))
    big_w, big_h = out_w * factor, out_h * factor
    dst = np.array([[0, 0], [big_w, 0], [big_w, big_h], [0, big_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(in_frame, dst)
    warped = cv2.warpPerspective(
        image, matrix, (big_w, big_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if factor == 1:
        return warped
    return cv2.resize(warped, (out_w, out_h), interpolation=cv2.INTER_AREA)


# A two-row plate (GA 36: 440x220 mm; the province and the authority letter, 60 mm high and
# 80 wide, centred above the five-character serial, 110 mm high): each row cut to its own strip
# (the recogniser reads characters of one height), side by side with a gap, so the grammar's
# decoding reads "粤·A  B2893" as one plate. The rows' regions, with margins: x0, y0, x1, y1.
TWO_ROW_HEIGHT_MM: Final = 220.0
TWO_ROW_TOP: Final = (80.0, 6.0, 360.0, 82.0)
TWO_ROW_BOTTOM: Final = (-STRIP_X_MARGIN, 80.0, 440.0 + STRIP_X_MARGIN, 212.0)
# The upper row's characters are wider than high: squeezed to the recogniser's square script.
_TOP_STRETCH: Final = 0.75
_ROW_GAP_PX: Final = 12


def _prepare_two_rows(bgr: U8, candidate: Candidate) -> Prepared:
    mm = np.array([[0, 0], [440, 0], [440, TWO_ROW_HEIGHT_MM], [0, TWO_ROW_HEIGHT_MM]],
                  np.float32)  # fmt: skip
    to_frame = np.asarray(cv2.getPerspectiveTransform(mm, candidate.quad), np.float64)
    parts: list[U8] = []
    for region, stretch in ((TWO_ROW_TOP, _TOP_STRETCH), (TWO_ROW_BOTTOM, _STRIP_STRETCH)):
        aspect = (region[2] - region[0]) / (region[3] - region[1])
        width = int(np.clip(round(REC_HEIGHT * aspect * stretch), 48, 240))
        parts.append(cut(bgr, to_frame, region, (width, REC_HEIGHT)))
    # The gap in the plate's own colour (its median), not black: a dark bar reads as a stroke.
    background = np.median(parts[1].reshape(-1, 3), axis=0).astype(np.uint8)
    gap = np.broadcast_to(background, (REC_HEIGHT, _ROW_GAP_PX, 3))
    strip: U8 = np.ascontiguousarray(np.concatenate([parts[0], gap, parts[1]], axis=1))
    corners = np.array([[0, 80.0], [0, TWO_ROW_HEIGHT_MM - 20.0]], np.float32)
    top, bottom = cv2.perspectiveTransform(corners[None], to_frame)[0]
    # The serial's characters' height counts as the plate's (a one-row plate's are 90 of 140).
    height = float(np.hypot(*(bottom - top))) * PLATE_HEIGHT_MM / 90.0 * 110.0 / 120.0
    colour = plate_colour(strip, candidate.hint)
    return Prepared(candidate, colour, to_frame, to_frame, strip, height)


def prepare(bgr: U8, gray: U8, candidate: Candidate) -> Prepared:
    if candidate.rows == 2:
        return _prepare_two_rows(bgr, candidate)
    colour = candidate.hint or "blue"
    for _ in range(2):  # the detector's candidates learn their width from their colour
        width = plate_width(colour)
        unrefined = _plate_to_frame(candidate, colour)
        # A blue or yellow plate's outline is its own four corners, already in perspective;
        # the other candidates' corners are a rectangle about the characters or extrapolated.
        # Not a detector box made longer either: a third of it is whatever lies beside the
        # text, and tilted to fit that, a road sign's "500m" read as a plate.
        own_corners = candidate.source == "colour" and candidate.hint in ("blue", "yellow")
        tilt = not own_corners and candidate.source != "widened"
        to_frame = refine(gray, unrefined, width, tilt=tilt)
        region = (-STRIP_X_MARGIN, STRIP_Y[0], width + STRIP_X_MARGIN, STRIP_Y[1])
        aspect = (region[2] - region[0]) / (region[3] - region[1])
        out_w = int(np.clip(round(REC_HEIGHT * aspect * _STRIP_STRETCH), 96, 480))
        strip: U8 = cut(bgr, to_frame, region, (out_w, REC_HEIGHT))
        found = plate_colour(strip, candidate.hint)
        if found == colour or candidate.hint is not None:
            break
        colour = found
    corners = np.array([[0, 0], [0, PLATE_HEIGHT_MM]], np.float32)
    top, bottom = cv2.perspectiveTransform(corners[None], to_frame)[0]
    height = float(np.hypot(*(bottom - top)))
    return Prepared(candidate, found, to_frame, unrefined, strip, height)


# The character cells (left, width) in mm, GA 36: blue/yellow 45 wide at a 57 mm pitch with a
# 34 mm gap for the "·" after the second; green (new energy) 43 wide at 52 mm.
CELLS: Final[dict[int, tuple[tuple[float, float], ...]]] = {
    440: ((15.5, 45.0), (72.5, 45.0), *((151.5 + 57.0 * i, 45.0) for i in range(5))),
    480: ((15.5, 45.0), (69.5, 43.0), *((161.5 + 52.0 * i, 43.0) for i in range(6))),
}
_TEXT_Y: Final = (25.0, 115.0)
_BAND_SCALES: Final = np.arange(0.8, 1.201, 0.025)
# An end of a plate seen from the side may be 40 % higher than the rectangle about the whole
# plate, or 30 % lower (0.8-1.2 left plates whose near end is twice the far end's height cut
# short and proposed as sure: benchmarks/plate_side_view.py).
_END_SCALES: Final = np.arange(0.7, 1.401, 0.025)
_MM_PER_PX: Final = 2.0  # resolution of the layout search


def refine(
    gray: U8, to_frame: npt.NDArray[np.float64], width: float, *, tilt: bool = False
) -> npt.NDArray[np.float64]:
    """Move and scale the plate's millimetre grid so its character band and character cells
    sit on the strokes: a candidate's corners are a few millimetres off (a green plate's
    extrapolated top, the detector's loose box, a plate half lost in glare), and the province
    character is then compared by shape at a known place.

    Vertical first: the band y 25..115 holds the characters' vertical edges, the 12 mm margins
    above and below it none (the rim is horizontal). Where the band is clearly taller at one
    end of the plate than at the other (a plate filmed from the side, whose candidate was a
    rectangle or a green plate's extrapolated top), the grid is tilted in depth to match
    (:func:`_keystone`) and fitted again, and the tilt kept if the cells sit clearly better on
    the strokes. Then horizontal, within that band: edges
    inside the character cells, few in the gaps (the wide one of the "·" above all) and in the
    10 mm beyond the first and last character. All are exhaustive searches over shift and
    scale, on edge profiles summed once (cumulative sums make every band a subtraction)."""
    profiles = _Profiles(gray, to_frame, width)
    fitted, fit = profiles.fit()
    keystone = _keystone(profiles) if tilt else None
    if keystone is not None:
        tilted = to_frame @ keystone
        tilted_fit, tilted_move = _Profiles(gray, tilted, width).fit()
        # Kept only where the cells then sit better on the strokes: an end's band fitted on
        # a bolt or the holder's rim tilts a plate that was not.
        if tilted_fit > fitted * _KEYSTONE_GAIN:
            to_frame, fit = tilted, tilted_move
    out: npt.NDArray[np.float64] = to_frame @ fit
    return out


# Ends of the plate whose character band is fitted apart (mm from each end, as shares of the
# width): the province and letter at the left, the last characters at the right.
_END_SHARE: Final = 0.35
_END_MARGIN_MM: Final = 10.0
# A band this much taller at one end than the other is a plate seen from the side; below it,
# the two ends' fits differ by no more than their own noise.
_KEYSTONE_MIN: Final = 0.1
# ... and the tilt is kept only if the cells then sit this much better on the strokes (a
# green plate whose near end is twice its far end's height, which the tilt cut short by a
# character, scored 4 % better with it).
_KEYSTONE_GAIN: Final = 1.05


def _cumulative(profile: F32, at: npt.NDArray[Any]) -> Any:
    cum = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])

    def total(lo: npt.NDArray[Any], hi: npt.NDArray[Any]) -> Any:
        return np.interp(hi, at, cum) - np.interp(lo, at, cum)

    return total


class _Profiles:
    """The edge profiles of a candidate's plate through one grid, with the band and cell
    searches of :func:`refine`."""

    def __init__(self, gray: U8, to_frame: npt.NDArray[np.float64], width: float) -> None:
        pad_x, pad_y = 40.0, 30.0
        x0, y0, x1, y1 = -pad_x, -pad_y, width + pad_x, PLATE_HEIGHT_MM + pad_y
        size = (round((x1 - x0) / _MM_PER_PX), round((y1 - y0) / _MM_PER_PX))
        view = cut(gray, to_frame, (x0, y0, x1, y1), size).astype(np.float32)
        self.gx = np.abs(cv2.Sobel(view, cv2.CV_32F, 1, 0, ksize=3))
        self.gy = np.abs(cv2.Sobel(view, cv2.CV_32F, 0, 1, ksize=3))
        self.xs = x0 + np.arange(size[0] + 1) * _MM_PER_PX  # mm at each bin's left edge
        self.ys = y0 + np.arange(size[1] + 1) * _MM_PER_PX
        self.width = width
        left = self.xs[:-1]
        self.inner = (left > 40) & (left < width - 40)

    def columns(self, lo_mm: float, hi_mm: float) -> npt.NDArray[np.bool_]:
        left = self.xs[:-1]
        return (left >= lo_mm) & (left < hi_mm)  # type: ignore[no-any-return]

    def fit(self) -> tuple[float, npt.NDArray[np.float64]]:
        """How well the character cells then sit on the strokes, and the move (in plate
        millimetres) that puts the band and the cells there."""
        shift_y, scale_y = self.band(self.inner)
        lo_mm, hi_mm = shift_y + scale_y * _TEXT_Y[0], shift_y + scale_y * _TEXT_Y[1]
        score, shift_x, scale_x = self.cells(lo_mm, hi_mm)
        move = np.array([[scale_x, 0, shift_x], [0, scale_y, shift_y], [0, 0, 1]], np.float64)
        return score, move

    def band(
        self, columns: npt.NDArray[np.bool_], scales: npt.NDArray[Any] = _BAND_SCALES
    ) -> tuple[float, float]:
        """(shift, scale) of the character band y 25..115 over these columns."""
        rows = _cumulative(self.gx[:, columns].mean(axis=1), self.ys)
        scale, shift = np.meshgrid(scales, np.arange(-30.0, 30.1, 1.0))
        top, bottom = shift + scale * _TEXT_Y[0], shift + scale * _TEXT_Y[1]
        margin = 12.0 * scale
        inside = rows(top, bottom) / (bottom - top)
        outside = (rows(top - margin, top) + rows(bottom, bottom + margin)) / (2 * margin)
        best = np.unravel_index(np.argmax(inside - outside), inside.shape)
        return float(shift[best]), float(scale[best])

    def cells(self, lo_mm: float, hi_mm: float) -> tuple[float, float, float]:
        """(score, shift, scale) along the plate that puts the character cells on the strokes
        of the band lo_mm..hi_mm: the score is the edges' mean inside the cells less their mean
        in the gaps."""
        band = (self.ys[:-1] >= lo_mm) & (self.ys[:-1] <= hi_mm)
        if band.sum() < 2:
            band[:] = True
        cols = _cumulative((self.gx + self.gy)[band].mean(axis=0), self.xs)
        cells = CELLS[int(self.width)]
        scale, shift = np.meshgrid(np.arange(0.84, 1.161, 0.01), np.arange(-30.0, 30.1, 1.0))
        ink = np.zeros_like(scale)
        ink_mm = np.zeros_like(scale)
        for left, w in cells:
            a, b = shift + scale * left, shift + scale * (left + w)
            ink += cols(a, b)
            ink_mm += b - a
        first = shift + scale * cells[0][0] - 10.0 * scale
        last = shift + scale * (cells[-1][0] + cells[-1][1]) + 10.0 * scale
        rest = cols(first, last) - ink
        rest_mm = (last - first) - ink_mm
        score = ink / ink_mm - rest / rest_mm
        best = np.unravel_index(np.argmax(score), score.shape)
        return float(score[best]), float(shift[best]), float(scale[best])


def _keystone(profiles: _Profiles) -> npt.NDArray[np.float64] | None:
    """The plate tilted in depth, as a homography of its millimetres, when the character band is
    clearly taller at one end than at the other; None otherwise. The band is fitted at each end
    alone; the homography maps the true band at both ends onto what was found there (heights
    that fall off along the plate also squeeze its far characters closer together, which a
    homography gets right and a stretch would not)."""
    width = profiles.width
    ends = (
        (_END_MARGIN_MM, width * _END_SHARE),
        (width * (1 - _END_SHARE), width - _END_MARGIN_MM),
    )
    src: list[list[float]] = []
    dst: list[list[float]] = []
    heights: list[float] = []
    for lo, hi in ends:
        shift, scale = profiles.band(profiles.columns(lo, hi), _END_SCALES)
        if not _END_SCALES[0] < scale < _END_SCALES[-1]:
            return None  # the search's bound: the end's band was not found
        centre = (lo + hi) / 2
        heights.append(scale)
        for y in _TEXT_Y:
            src.append([centre, y])
            dst.append([centre, shift + scale * y])
    if abs(heights[0] / heights[1] - 1.0) < _KEYSTONE_MIN:
        return None
    tilt = cv2.getPerspectiveTransform(np.array(src, np.float32), np.array(dst, np.float32))
    return np.asarray(tilt, np.float64)


def longer_candidate(item: Prepared, share: float) -> Candidate:
    """The plate a candidate's grid found, ``share`` of its width longer at the right: for a
    green plate read as seven characters, whose last one may lie beyond a grid that a
    rectangle about a plate seen from the side put too short."""
    width = plate_width(item.colour)
    mm = np.array([[0, 0], [width * (1 + share), 0], [width * (1 + share), PLATE_HEIGHT_MM],
                   [0, PLATE_HEIGHT_MM]], np.float32)  # fmt: skip
    quad = cv2.perspectiveTransform(mm[None], item.to_frame)[0].astype(np.float32)
    return Candidate(quad, item.candidate.hint, "extended", seen=item.read_serial)


def extended_candidate(item: Prepared) -> Candidate:
    """The whole plate around a candidate that showed only the serial: its cells (x 151.5 to
    424.5 mm of a 440 mm plate, y 25 to 115 mm) are where the candidate's grid put the first
    and last characters, so the plate's corners follow by proportion; refine corrects. When
    it showed the authority letter too (six characters of a 440 mm plate: the blob of a dark
    province stops before it), only the province's cell is missing."""
    width = plate_width(item.colour)
    cells = CELLS[int(width)]
    start = min(2, max(1, len(cells) - item.read_chars))
    first, last = cells[start][0], cells[-1][0] + cells[-1][1]
    mm = np.array([[0, 0], [width, 0], [width, PLATE_HEIGHT_MM], [0, PLATE_HEIGHT_MM]],
                  np.float32)  # fmt: skip
    # The candidate's grid spread the serial over the whole plate: the plate's true x maps to
    # (x - first) * width / (last - first) on it.
    squeeze = width / (last - first)
    true_to_grid = np.array([[squeeze, 0, -first * squeeze], [0, 1, 0], [0, 0, 1]], np.float64)
    to_frame = item.to_frame @ true_to_grid
    quad = cv2.perspectiveTransform(mm[None], to_frame)[0].astype(np.float32)
    return Candidate(quad, item.candidate.hint, "extended", seen=item.read_serial)


def plate_colour(strip: U8, hint: str | None = None) -> str:
    """Blue, yellow or green from the saturated pixels of a plate strip (BGR)."""
    hsv = cv2.cvtColor(strip, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    saturated = (s > 50) & (v > 35)
    counts = {
        "blue": int(np.count_nonzero(saturated & (h >= 95) & (h <= 130))),
        "yellow": int(np.count_nonzero(saturated & (h >= 10) & (h < 36))),
        "green": int(np.count_nonzero(saturated & (h >= 36) & (h < 95))),
    }
    if hint is not None:
        counts[hint] = int(counts[hint] * 1.5) + 1
    return max(counts, key=lambda k: counts[k])


def cut_before_province(item: Prepared, frame_shape: tuple[int, ...]) -> bool:
    """The candidate reaches the frame's left edge and ends well inside its right one: a car
    half in the picture. (A tight crop of a plate reaches both edges.)"""
    xs = item.candidate.quad[:, 0]
    return bool(xs.min() <= _EDGE_PX and xs.max() < frame_shape[1] - 1 - _EDGE_PX)


_EDGE_PX: Final = 2.0  # a plate's end this close to the frame's edge may go on beyond it
