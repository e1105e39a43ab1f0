"""A plate turned in the picture (a phone held crooked, CCPD's "rotate" photos), on a plate-free
scene: the frames of ``benchmarks/plate_rotation.py`` and of the reader's tests of it.

Scene ``i`` draws its plate with ``sim/plates.py`` when ``i`` is odd and ``sim/plates_other.py``
when even (the holder's margin grey), warps it onto a plate-free 1280x720 scene
(``plates.render_no_plate``), turned by ``angle`` degrees about its centre (clockwise for
``i % 4 < 2``, else anticlockwise), optionally blurred, then JPEG-compressed; everything but
the angle is drawn from ``default_rng([77, i])``, so every angle shows the same plate, pose and
background.
"""

from __future__ import annotations

import cv2
import numpy as np

from sim import plates, plates_other


def turned_scene(
    i: int, angle: float, widths: tuple[float, float], quality: int, blur: float
) -> tuple[str, np.ndarray]:
    """(plate, RGB frame) of scene ``i`` turned by ``angle`` degrees, the plate ``widths`` px
    wide (low, high), blurred by ``blur`` px (sigma; 0: not), JPEG at ``quality``."""
    rng = np.random.default_rng([77, i])
    own = i % 2 == 1
    text, colour = (plates if own else plates_other).random_plate(rng)
    if own:
        plate = plates.render_plate(text, colour)
    else:
        rgba = plates_other.draw_plate(text, colour, rng).astype(np.float32)
        alpha = rgba[..., 3:] / 255.0
        plate = (rgba[..., :3] * alpha + 120 * (1 - alpha)).astype(np.uint8)
    w = widths[0] + (widths[1] - widths[0]) * rng.random()
    h = w * 140 / (480 if colour == "green" else 440)
    half = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    a = np.deg2rad(angle * (1 if i % 4 < 2 else -1))
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = np.array([640 + 200 * (rng.random() - 0.5), 400 + 100 * (rng.random() - 0.5)])
    corners = half @ turn.T + centre
    frame = plates.render_no_plate(rng, difficulty="easy", sign=False)
    on_plain = plates.plate_on_plain_frame(plate, corners, (0, 0, 0), rng)
    ph, pw = plate.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    warp = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    inside = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), warp, (1280, 720)) > 0
    frame[inside] = on_plain[inside]
    if blur:
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), blur), np.uint8)
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise RuntimeError("JPEG round trip failed")
    return text, np.asarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), np.uint8)
