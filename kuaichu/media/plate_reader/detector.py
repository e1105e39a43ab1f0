"""Plate candidates from the PP-OCR text detector (DB), the dearest stage: text lines of plate
shape on the frame scaled to DET_MAX_SIDE."""

from __future__ import annotations

from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from .arrays import U8
from .candidates import MIN_PLATE_HEIGHT, Candidate, merge_lines, order_corners

DET_MAX_SIDE: Final = 640


# The largest text lines first: on the benchmark's frames every plate the detector read right
# was its largest or second largest box; a frame full of text (a dashcam's overlay, a shop's
# sign) gave five, each a recogniser run.
MAX_DET_CANDIDATES: Final = 3


def det_candidates(
    det: Any, bgr: U8, region: tuple[int, int, int, int] | None = None
) -> list[Candidate]:
    """Plate-shaped text lines found by the PP-OCR detector on a downscaled frame, or only in
    ``region`` (x, y, w, h) of it, at the frame's own scale."""
    ox = oy = 0
    if region is not None:
        ox, oy, rw_, rh_ = region
        bgr = bgr[oy : oy + rh_, ox : ox + rw_]
    height, width = bgr.shape[:2]
    scale = min(1.0, DET_MAX_SIDE / max(height, width))
    dw = max(32, round(width * scale / 32) * 32)
    dh = max(32, round(height * scale / 32) * 32)
    small = cv2.resize(bgr, (dw, dh), interpolation=cv2.INTER_AREA)
    x = (small.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    prob = det.run(None, {"x": x})[0][0, 0]
    bitmap = (prob > 0.3).astype(np.uint8)
    bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    sx, sy = width / dw, height / dh
    boxes: list[tuple[float, npt.NDArray[np.float32]]] = []
    for contour in contours:
        if cv2.contourArea(contour) < 6:
            continue
        rect = cv2.minAreaRect(contour)
        (cx, cy), (rw, rh), angle = rect
        if min(rw, rh) < 3:
            continue
        mask = np.zeros_like(bitmap)
        cv2.drawContours(mask, [contour], -1, 1, -1)
        score = float(prob[mask.astype(bool)].mean())
        if score < 0.5:
            continue
        # DB's "unclip": the detector's kernels are shrunk text; grow by area * 1.6 / perimeter.
        distance = rw * rh * 1.6 / (2 * (rw + rh))
        rect = ((cx, cy), (rw + 2 * distance, rh + 2 * distance), angle)
        pts = cv2.boxPoints(rect).astype(np.float32)
        pts[:, 0] = pts[:, 0] * sx + ox
        pts[:, 1] = pts[:, 1] * sy + oy
        boxes.append((score, order_corners(pts)))
    merged = merge_lines([q for _, q in boxes])
    out: list[tuple[float, Candidate]] = []
    for quad in merged:
        w = float(np.hypot(*(quad[1] - quad[0])))
        h = float(np.hypot(*(quad[3] - quad[0])))
        if h < MIN_PLATE_HEIGHT * 0.6 or w < h * 1.8 or w > h * 9:
            continue
        # The detector boxes the characters; the plate reaches a little beyond them.
        out.append((w * h, Candidate(quad, None, "det")))
    out.sort(key=lambda item: -item[0])
    return [c for _, c in out[:MAX_DET_CANDIDATES]]


# How much wider a detector's box is tried when it showed part of a plate: its ends, a dark
# province and the last character, fade into the plate's background.
WIDEN: Final = 1.35


def widened(candidate: Candidate) -> Candidate:
    """The candidate's box, WIDEN times as long about its centre, as high (source "widened":
    its grid is the detector's)."""
    quad = candidate.quad
    along = ((quad[1] - quad[0]) + (quad[2] - quad[3])) / 2
    grow = along * (WIDEN - 1) / 2
    wider = quad + np.array([-grow, grow, grow, -grow], np.float32)
    return Candidate(wider.astype(np.float32), candidate.hint, "widened", candidate.rows)
