"""Plate candidates without the detector: plate-coloured backgrounds (blue, yellow, green) and
plate-shaped bands dense in vertical strokes, each as four corners in the frame."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from .arrays import U8

# Read at most this many of each stage's candidates (largest or densest first). On the
# benchmark's 396 frames no colour candidate after the fourth and no edge candidate after the
# fourth read a plate right (docs/benchmarks.md, issue 11): each one costs a recogniser run.
MAX_COLOUR_CANDIDATES: Final = 5
MAX_EDGE_CANDIDATES: Final = 5


# The edge stage looks at the frame at two sizes: at 960 px a plate up to ~200 px wide closes
# into one band of strokes; a nearer one's strokes stand too far apart there and it falls
# into pieces, which at 480 px close up again.
# (the longer side in px, the least band height in the frame's px at that size)
EDGE_MAX_SIDES: Final = ((960, 6.6), (480, 40.0))  # 6.6: MIN_PLATE_HEIGHT * 0.6
EDGE_MIN_LEVEL: Final = 60.0  # |Sobel x| below this is texture, not a character's stroke


# Plate-shaped: width / height of the background, generous for perspective.
_MIN_ASPECT: Final = 1.9
_MAX_ASPECT: Final = 6.5
# A blob filling less than this of its bounding rectangle may still be a plate seen from
# the side, if it fills its own four corners (at least _MIN_QUAD_FILL of them).
_MIN_SHEARED_FILL: Final = 0.35
_MIN_QUAD_FILL: Final = 0.85
# A two-row plate is 2:1; seen from above or the side 1.3-2.6. Only yellow ones exist.
_TWO_ROW_ASPECT: Final = (1.3, 2.6)
MIN_PLATE_HEIGHT: Final = 11.0  # px in the frame: below that no character is legible
_FIT_POINTS: Final = 256  # at most this many outline points per side go to the line fit


@dataclass(frozen=True)
class Candidate:
    quad: npt.NDArray[np.float32]  # 4x2 corners, clockwise from top-left, frame coordinates
    hint: str | None  # the background colour that found it, if any
    source: str  # "colour" | "edges" | "det" | "widened" (a det box made longer) | "extended"
    # 2: a two-row plate (GA 36's rear plate of a lorry or a bus: yellow, 440x220 mm, the
    # province and letter above the serial), read as one line (``grid.prepare``).
    rows: int = 1
    # An extended (or longer) candidate's: the serial its first strip read alone (folded),
    # which the whole plate's reading must hold; "" for every other candidate.
    seen: str = ""


# OpenCV hue is 0..180. Ranges are generous: dusk light and cheap sensors shift them.
_HUES: Final[dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]]] = {
    "blue": ((98, 80, 35), (128, 255, 255)),
    "yellow": ((12, 80, 40), (36, 255, 255)),
    "green": ((36, 45, 60), (90, 255, 255)),
}


def colour_candidates(bgr: U8) -> list[Candidate]:
    """Plate-shaped regions of plate-coloured background, largest first."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    found: list[tuple[float, Candidate]] = []
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    width = bgr.shape[1]
    for colour, (low, high) in _HUES.items():
        mask = cv2.inRange(hsv, low, high)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for contour in contours:
            found += _blob_candidates(contour, colour, width)
    found.sort(key=lambda item: -item[0])
    return [c for _, c in found[:MAX_COLOUR_CANDIDATES]]


def _blob_candidates(
    contour: npt.NDArray[Any], colour: str, frame_width: int
) -> list[tuple[float, Candidate]]:
    """The plate candidates one blob of plate colour makes (none, one, or both readings of a
    yellow 2:1 blob, as one row or as two), with the blob's area."""
    area = cv2.contourArea(contour)
    if area < 250:
        return []
    _, (rw, rh), angle = cv2.minAreaRect(contour)
    long, short = max(rw, rh), min(rw, rh)
    if short < MIN_PLATE_HEIGHT * 0.8 or long > frame_width * 0.8:
        return []
    out: list[tuple[float, Candidate]] = []
    aspect = long / short
    fill = area / (rw * rh)
    along = angle if rw >= rh else angle + 90.0  # the long side's angle
    if (
        colour == "yellow"
        and _TWO_ROW_ASPECT[0] <= aspect <= _TWO_ROW_ASPECT[1]
        # Near 1:1 a standing blob passes the aspect: the plate's long side is the width.
        and abs(((along + 90.0) % 180.0) - 90.0) <= 30.0
        and fill >= 0.55
        and short >= 2 * MIN_PLATE_HEIGHT
    ):
        two = _quad(contour)
        if two is not None:
            out.append((area, Candidate(two, colour, "colour", rows=2)))
    # A green plate's mask is its lower two thirds, ragged along the characters.
    pale_top = colour == "green"
    if not _MIN_ASPECT <= aspect <= _MAX_ASPECT * (1.4 if pale_top else 1.0):
        return out
    if pale_top:
        quad = _green_quad(contour) if fill >= 0.4 else None
    elif fill >= 0.55:
        quad = _quad(contour)
    elif fill >= _MIN_SHEARED_FILL:
        quad = _sheared_plate(contour, area)
    else:
        quad = None
    if quad is not None:
        out.append((area, Candidate(quad, colour, "colour")))
    return out


def _sheared_plate(contour: npt.NDArray[Any], area: float) -> npt.NDArray[np.float32] | None:
    """The corners of a plate seen from the side: a parallelogram, which fills its bounding
    rectangle badly (half of it, at 35 degrees of shear) but its own four corners well."""
    quad = _quad(contour)
    if quad is None:
        return None
    quad_area = float(cv2.contourArea(quad.reshape(-1, 1, 2)))
    if quad_area <= 0 or area / quad_area < _MIN_QUAD_FILL:
        return None
    top, bottom = np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])
    left, right = np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])
    # The long sides over the plate's height (the distance between them, not the short side).
    height = quad_area / max(float(top + bottom) / 2, 1.0)
    if height < MIN_PLATE_HEIGHT or min(left, right) < MIN_PLATE_HEIGHT:
        return None
    if not _MIN_ASPECT <= float(top + bottom) / 2 / height <= _MAX_ASPECT:
        return None
    return quad


def _quad(contour: npt.NDArray[Any]) -> npt.NDArray[np.float32] | None:
    """Four corners of a roughly quadrilateral blob (a plate seen in perspective).

    Corners first: in the frame of the blob's rotated bounding rectangle, the outline's points
    furthest along each diagonal. Then each side is a line fitted to the outline between its
    two corners, and the corners are where those lines meet: a rivet, a chipped edge or a
    character touching the edge moves a point, not the whole side."""
    pts = contour.reshape(-1, 2).astype(np.float32)
    if len(pts) < 4:
        return None
    (cx, cy), (rw, rh), angle = cv2.minAreaRect(pts)
    theta = math.radians(angle)
    e1 = np.array([math.cos(theta), math.sin(theta)], np.float32)
    e2 = np.array([-math.sin(theta), math.cos(theta)], np.float32)
    if rh > rw:
        e1, e2, rw, rh = e2, e1, rh, rw
    if e1[0] < 0:
        e1 = -e1
    if e2[1] < 0:
        e2 = -e2
    rel = pts - np.array([cx, cy], np.float32)
    u = rel @ e1 / max(rw / 2, 1.0)
    v = rel @ e2 / max(rh / 2, 1.0)
    idx = [
        int(np.argmax(-u - v)),
        int(np.argmax(u - v)),
        int(np.argmax(u + v)),
        int(np.argmax(v - u)),
    ]
    corners = pts[idx]
    refined = _fit_sides(pts, idx)
    if refined is not None and np.abs(refined - corners).max() < 0.25 * rh + 2:
        corners = refined
    return corners.astype(np.float32)


def _green_quad(contour: npt.NDArray[Any]) -> npt.NDArray[np.float32] | None:
    """A new-energy plate's corners from its green part: the bottom edge and the lower half of
    both sides are clean, the top is ragged. Worked out in the frame of the blob's rotated
    rectangle (u along, v down); the top is extrapolated to the plate's 480:140 shape (the
    grid search in refine corrects the height)."""
    pts = contour.reshape(-1, 2).astype(np.float64)
    (cx, cy), _, angle = cv2.minAreaRect(contour)
    theta = math.radians(angle)
    e_u = np.array([math.cos(theta), math.sin(theta)])
    if abs(e_u[0]) < abs(e_u[1]):  # the long axis is the other one
        e_u = np.array([-e_u[1], e_u[0]])
    if e_u[0] < 0:
        e_u = -e_u
    e_v = np.array([-e_u[1], e_u[0]])  # 90° clockwise on screen: down the frame
    rel = pts - np.array([cx, cy])
    u, v = rel @ e_u, rel @ e_v
    width = float(np.ptp(u))
    height = float(np.ptp(v))
    if width < 8 or height < 3:
        return _quad(contour)

    def fit(xs: list[float], ys: list[float]) -> tuple[float, float] | None:
        if len(xs) < 2 or np.ptp(xs) < 1e-6:
            return None
        slope, icept = np.polyfit(np.array(xs), np.array(ys), 1)
        return float(slope), float(icept)

    # Bottom: the lowest outline point in each slice across the width, ends left out.
    bu: list[float] = []
    bv: list[float] = []
    edges = np.linspace(u.min(), u.max(), 11)
    for lo, hi in itertools.pairwise(edges[1:-1]):
        sel = (u >= lo) & (u < hi)
        if sel.any():
            bu.append((lo + hi) / 2)
            bv.append(float(v[sel].max()))
    bottom = fit(bu, bv)  # v = slope * u + icept
    # Sides: the outermost outline point in each slice of the lower half, u as a function of v.
    v_low = float(np.percentile(v, 98))
    slices = np.linspace(v_low - 0.55 * height, v_low - 0.1 * height, 6)
    lv: list[float] = []
    lu: list[float] = []
    ru: list[float] = []
    for lo, hi in itertools.pairwise(slices):
        sel = (v >= lo) & (v < hi)
        if sel.any():
            lv.append((lo + hi) / 2)
            lu.append(float(u[sel].min()))
            ru.append(float(u[sel].max()))
    left = fit(lv, lu)  # u = slope * v + icept
    right = fit(lv, ru)
    if bottom is None or left is None or right is None:
        return _quad(contour)

    def meet(side: tuple[float, float]) -> tuple[float, float]:
        # u = s v + c and v = b u + d  ->  v = b (s v + c) + d
        s_, c_ = side
        b_, d_ = bottom
        vv = (b_ * c_ + d_) / max(1 - b_ * s_, 1e-3)
        return s_ * vv + c_, vv

    ul, vl = meet(left)
    ur, vr = meet(right)
    rise = (ur - ul) * 135.0 / 472.0

    def point(uu: float, vv: float) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = np.array([cx, cy]) + uu * e_u + vv * e_v
        return out

    tl = point(left[0] * (vl - rise) + left[1], vl - rise)
    tr = point(right[0] * (vr - rise) + right[1], vr - rise)
    return np.array([tl, tr, point(ur, vr), point(ul, vl)], np.float32)


def _fit_sides(pts: npt.NDArray[np.float32], idx: list[int]) -> npt.NDArray[np.float32] | None:
    """Corners as intersections of lines fitted to the outline between the rough corners."""
    n = len(pts)
    lines: list[tuple[float, float, float, float]] = []
    for k in range(4):
        a, b = idx[k], idx[(k + 1) % 4]
        # The outline runs one way or the other round the blob: take the shorter arc.
        forward = (b - a) % n
        backward = (a - b) % n
        if forward <= backward:
            seq = pts[np.arange(a, a + forward + 1) % n]
        else:
            seq = pts[np.arange(b, b + backward + 1) % n]
        if len(seq) < 4:
            seq = np.vstack([pts[a], pts[b]])
        else:
            # Leave the ends out: corners are rounded.
            trim = max(1, len(seq) // 8)
            seq = seq[trim:-trim]
            # A side of thousands of outline points (a wall or a taxi's yellow flank in a 1080p
            # photo) took the robust fit 10-40 ms: evenly spaced points give the same line.
            seq = seq[:: -(-len(seq) // _FIT_POINTS)]
        vx, vy, x0, y0 = cv2.fitLine(seq, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((float(vx), float(vy), float(x0), float(y0)))
    out = []
    for k in range(4):
        # Corner k lies between the side before it (k-1 -> k) and the side after it (k -> k+1).
        p = _intersect(lines[(k - 1) % 4], lines[k])
        if p is None:
            return None
        out.append(p)
    return np.array(out, np.float32)


def _intersect(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> tuple[float, float] | None:
    avx, avy, ax, ay = a
    bvx, bvy, bx, by = b
    det = avx * (-bvy) - avy * (-bvx)
    if abs(det) < 1e-6:
        return None
    t = ((bx - ax) * (-bvy) - (by - ay) * (-bvx)) / det
    return ax + t * avx, ay + t * avy


def order_corners(pts: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Clockwise from top-left, the first edge being a long (horizontal-ish) one."""
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise in image coordinates (y down), from ~-180°
    # Start at the corner for which the following edge is the longer one and leftmost start.
    best = 0
    best_key: tuple[float, float] | None = None
    for i in range(4):
        a, b = pts[i], pts[(i + 1) % 4]
        length = float(np.hypot(*(b - a)))
        horizontal = abs(float(b[0] - a[0])) >= abs(float(b[1] - a[1]))
        if not horizontal or b[0] < a[0]:
            continue
        key = (float(a[1] + b[1]), -length)
        if best_key is None or key < best_key:
            best, best_key = i, key
    ordered = np.roll(pts, -best, axis=0)
    top = float(np.hypot(*(ordered[1] - ordered[0])))
    side = float(np.hypot(*(ordered[2] - ordered[1])))
    if side > top:  # the fit is standing up: rotate so the long edges are horizontal
        ordered = np.roll(ordered, -1, axis=0)
    return ordered.astype(np.float32)


def edge_candidates(gray: U8) -> list[Candidate]:
    """Plate-shaped bands dense in vertical edges, whatever their colour: a row of characters
    of one height makes many short vertical strokes side by side, a road or a bumper few.
    Found on the frame scaled to each of EDGE_MAX_SIDES; each size's most edge-dense first,
    taken in turn, and a band the other size found already (mostly the same pixels) once."""
    per_size = [_edge_bands(gray, side, least) for side, least in EDGE_MAX_SIDES]
    out: list[Candidate] = []
    for rank in range(max(len(bands) for bands in per_size)):
        for bands in per_size:
            if rank < len(bands) and not _same_band(bands[rank], out):
                out.append(bands[rank])
    return out[:MAX_EDGE_CANDIDATES]


def _same_band(candidate: Candidate, found: list[Candidate]) -> bool:
    """Found already: a band of ``found`` covers mostly the same pixels (intersection over
    union above a half); a band inside a larger one is not the same (a plate's band inside
    the band of the plate and a sticker beside it)."""
    a = cv2.boundingRect(candidate.quad.astype(np.int32))
    for other in found:
        b = cv2.boundingRect(other.quad.astype(np.int32))
        inter = box_intersection(a, b)
        if inter > 0.5 * (a[2] * a[3] + b[2] * b[3] - inter):
            return True
    return False


def box_intersection(a: Sequence[int], b: Sequence[int]) -> int:
    """The area two (x, y, w, h) boxes share."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy


def _edge_bands(gray: U8, max_side: int, least_height: float) -> list[Candidate]:
    height, width = gray.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    small = gray
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        small = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), np.uint8)
    gx = cv2.convertScaleAbs(cv2.Sobel(small, cv2.CV_16S, 1, 0, ksize=3))
    level, _ = cv2.threshold(gx, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = np.asarray(gx > max(level, EDGE_MIN_LEVEL), np.uint8) * 255
    rect = cv2.MORPH_RECT
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(rect, (9, 3)))
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(rect, (5, 5)))
    contours, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found: list[tuple[float, Candidate]] = []
    for contour in contours:
        rect_box = cv2.minAreaRect(contour)
        _, (rw, rh), angle = rect_box
        long, short = max(rw, rh), min(rw, rh)
        if short < least_height * scale or long > small.shape[1] * 0.6:
            continue
        if not 2.0 <= long / max(short, 1.0) <= 7.0:
            continue
        along = angle if rw >= rh else angle + 90.0  # the long side's angle
        if abs(((along + 90.0) % 180.0) - 90.0) > 30.0:
            continue
        area = cv2.contourArea(contour)
        if area < 0.5 * rw * rh:
            continue
        x, y, w, h = cv2.boundingRect(contour)
        density = float(np.count_nonzero(mask[y : y + h, x : x + w])) / max(1, w * h)
        if density < 0.2:
            continue
        quad = order_corners(np.asarray(cv2.boxPoints(rect_box), np.float32) / scale)
        found.append((density * math.sqrt(area), Candidate(quad, None, "edges")))
    found.sort(key=lambda item: -item[0])
    best = [c.quad for _, c in found[: 2 * MAX_EDGE_CANDIDATES]]
    # The "·" gap splits a plate's band in two (京A | 12345): joined ones first.
    merged = [q for q in merge_lines(best) if not any(q is b for b in best)]
    quads = merged[:2] + best
    return [Candidate(q, None, "edges") for q in quads[:MAX_EDGE_CANDIDATES]]


def covered(candidate: Candidate, boxes: list[tuple[int, int, int, int]]) -> bool:
    """The candidate lies on a plate already read (its centre inside a reading's box)."""
    cx, cy = candidate.quad.mean(axis=0)
    return any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes)


def merge_lines(quads: list[npt.NDArray[np.float32]]) -> list[npt.NDArray[np.float32]]:
    """Join boxes of one text line split at the plate's "·" (京A | 12345)."""
    items = sorted(quads, key=lambda q: float(q[:, 0].min()))
    used = [False] * len(items)
    out: list[npt.NDArray[np.float32]] = []
    for i, q in enumerate(items):
        if used[i]:
            continue
        used[i] = True
        current = q
        changed = True
        while changed:
            changed = False
            for j in range(len(items)):
                if used[j]:
                    continue
                if _same_line(current, items[j]):
                    pts = np.vstack([current, items[j]])
                    current = order_corners(cv2.boxPoints(cv2.minAreaRect(pts)).astype(np.float32))
                    used[j] = True
                    changed = True
        out.append(current)
    # Keep the unmerged parts too: a sign next to a plate must not swallow it.
    return out + [q for q in quads if not any(q is m for m in out)]


def _same_line(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> bool:
    ha = float(np.hypot(*(a[3] - a[0])))
    hb = float(np.hypot(*(b[3] - b[0])))
    if not 0.6 < ha / max(hb, 1e-3) < 1.6:
        return False
    ya, yb = float(a[:, 1].mean()), float(b[:, 1].mean())
    if abs(ya - yb) > 0.5 * min(ha, hb):
        return False
    gap = max(float(b[:, 0].min() - a[:, 0].max()), float(a[:, 0].min() - b[:, 0].max()))
    return gap < 1.2 * max(ha, hb)
