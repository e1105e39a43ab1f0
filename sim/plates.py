"""Synthetic licence-plate scenes: the plate reader's benchmark and tests, and a driver's video.

A scene is a Chinese civil plate (blue with white text, yellow with black text, or the green
gradient of a new-energy car, with the "·" after the authority letter) on the front or rear of a
drawn car (body colour, bumper, lights, window, badge) standing on a road in front of buildings
and trees, seen by a phone camera: perspective, distance, motion blur or defocus, sensor noise,
daylight or dusk, and the damage of a low-bitrate video call (a JPEG or an H.264 round trip).
Some scenes carry text that is not a plate (a blue or green road sign in Chinese, a learner
sticker, a Latin model badge) so that a reader proposing anything it sees gets caught.

Everything is drawn with OpenCV and a CJK system font, WenQuanYi Micro Hei by preference
(Debian: fonts-wqy-microhei), Noto Sans CJK as the last resort. The same seed gives the same
pixels. ``sim/plates_other.py`` is a second, independent generator (other faces, dirt, holders,
night), so that the benchmark does not measure the reader only against this drawing.

Difficulties (plate width at 1280x720; angles uniform in ±; blur lengths in px):

======  =========  ===  =====  ====  ======  =======  =====  ====  =======  =====  ===========
level   plate px   yaw  pitch  roll  motion  defocus  noise  dusk  JPEG q   H.264  distractors
======  =========  ===  =====  ====  ======  =======  =====  ====  =======  =====  ===========
easy    190-330    15   10     4     0-2     0-0.6    1-3    0 %   60-85    qp 24-30  30 %
medium  120-210    28   15     8     0-4     0-1.0    2-5    30 %  35-60    qp 28-34  50 %
hard    85-150     35   18     10    1-5     0-1.2    2-6    50 %  20-40    qp 32-38  60 %
======  =========  ===  =====  ====  ======  =======  =====  ====  =======  =====  ===========

Half of the frames go through JPEG, half through H.264; dusk multiplies the noise by 1.5.

Geometry: the car is drawn on a flat "car plane" at 1 px per mm, the plate's centre at its
origin, then projected through a pinhole camera (f = 1000 px at 1280 wide, a phone's ~65°)
rotated by yaw, pitch and roll at the distance that makes the plate as wide as the difficulty
asks.
"""

from __future__ import annotations

import fractions
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from kuaichu.cases.plates import PROVINCES

RGB = npt.NDArray[np.uint8]
Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: Final[tuple[Difficulty, ...]] = ("easy", "medium", "hard")
COLOURS: Final = ("blue", "yellow", "green")

FONT_PATHS: Final = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)

# frozenset order changes with the hash seed: sort, or the same seed gives another plate.
_PROVINCES: Final = sorted(PROVINCES)
_SERIAL_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O (GA 36)
_DIGITS: Final = "0123456789"
_SEPARATORS: Final = frozenset(" ·.-\u2022\u30fb")

_FOCAL: Final = 1000.0
_PLANE_W: Final = 2000  # car plane, mm = px; plate centre at (_PLATE_X, _PLATE_Y)
_PLANE_H: Final = 1500
_PLATE_X: Final = 1000
_PLATE_Y: Final = 1010

_SIGNS: Final = (
    "人民路", "中山北路", "前方学校 减速慢行", "停车场 P", "禁止停车", "公交专用道",
    "解放大道", "出口 500m", "收费站 2km", "建设南路", "小心驾驶", "机场高速",
)  # fmt: skip
_STICKERS: Final = ("新手上路", "实习", "车内有宝宝")
_BADGES: Final = ("CAMRY", "LAVIDA", "HAVAL", "SAGITAR", "ACCORD", "BYD", "CIVIC")
_BODY_COLOURS: Final = (
    (235, 235, 232), (240, 240, 240), (20, 20, 22), (35, 35, 40), (150, 152, 158),
    (185, 188, 192), (160, 20, 25), (25, 55, 140), (20, 40, 90), (200, 170, 40),
    (60, 110, 70), (120, 90, 60), (90, 150, 200),
)  # fmt: skip


class FontMissing(RuntimeError):
    """No CJK font on the system to draw plates with (apt-get install fonts-wqy-microhei).

    The simulator's own error, not the product's: nothing on the server raises or handles it."""


@dataclass(frozen=True)
class _Level:
    plate_px: tuple[float, float]  # plate width in the frame
    yaw: float  # degrees, uniform in ±
    pitch: float
    roll: float
    motion: tuple[float, float]  # motion blur length px
    defocus: float  # max Gaussian sigma
    noise: tuple[float, float]  # sensor noise sigma (0..255)
    dusk: float  # probability of dusk light
    jpeg: tuple[int, int]  # JPEG quality
    qp: tuple[int, int]  # H.264 quantiser
    distractor: float  # probability of a sign / sticker


_LEVELS: Final[dict[str, _Level]] = {
    "easy": _Level((190, 330), 15, 10, 4, (0, 2), 0.6, (1, 3), 0.0, (60, 85), (24, 30), 0.3),
    "medium": _Level((120, 210), 28, 15, 8, (0, 4), 1.0, (2, 5), 0.3, (35, 60), (28, 34), 0.5),
    "hard": _Level((85, 150), 35, 18, 10, (1, 5), 1.2, (2, 6), 0.5, (20, 40), (32, 38), 0.6),
}


# ---- plates ---------------------------------------------------------------------------------


def random_plate(rng: np.random.Generator) -> tuple[str, str]:
    """A plausible civil plate: ``("京A12345", "blue")``; blue, yellow or green (new energy)."""
    colour = str(rng.choice(COLOURS, p=[0.5, 0.2, 0.3]))
    province = str(rng.choice(_PROVINCES))
    authority = str(rng.choice(list(_SERIAL_LETTERS)))
    if colour == "green":
        energy = (
            str(rng.choice(list("DF"))) if rng.random() < 0.9 else str(rng.choice(list("ABCEGHJK")))
        )
        second = str(rng.choice(list(_SERIAL_LETTERS))) if rng.random() < 0.4 else _digit(rng)
        serial = energy + second + "".join(_digit(rng) for _ in range(4))
    else:
        chars = [_digit(rng) for _ in range(5)]
        letters = int(rng.choice([0, 1, 2], p=[0.55, 0.3, 0.15]))
        for pos in rng.choice(5, size=letters, replace=False):
            chars[int(pos)] = str(rng.choice(list(_SERIAL_LETTERS)))
        serial = "".join(chars)
    return province + authority + serial, colour


def _digit(rng: np.random.Generator) -> str:
    return str(rng.integers(0, 10))


@functools.cache
def font_path() -> Path:
    for path in FONT_PATHS:
        if path.exists():
            return path
    raise FontMissing("no CJK font found; apt-get install -y fonts-wqy-microhei")


@functools.lru_cache(maxsize=256)
def _glyph(ch: str) -> npt.NDArray[np.uint8]:
    """The character's ink, tightly cropped, at 200 px em. Letters and digits are emboldened
    by a stroke like the plate font's; the Chinese characters keep the font's own, thinner
    strokes, as on a plate (they have many more of them in the same height)."""
    font = ImageFont.truetype(str(font_path()), 200)
    image = Image.new("L", (320, 320), 0)
    stroke = 7 if ch.isascii() else 0
    ImageDraw.Draw(image).text(
        (40, 20), ch, fill=255, font=font, stroke_width=stroke, stroke_fill=255
    )
    ink = np.asarray(image, dtype=np.uint8)
    ys, xs = np.nonzero(ink > 32)
    if len(xs) == 0:
        return np.zeros((1, 1), np.uint8)
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()


def _cells(green: bool) -> list[tuple[float, float]]:
    """Left edge and width (mm) of each character cell, after GA 36-2018."""
    if green:
        widths = [45.0, 43.0] + [43.0] * 6
        xs = [15.5, 69.5]
        x = 69.5 + 43.0 + 49.0
        for _ in range(6):
            xs.append(x)
            x += 43.0 + 9.0
        return list(zip(xs, widths, strict=True))
    xs = [15.5, 72.5] + [151.5 + 57.0 * i for i in range(5)]
    return [(x, 45.0) for x in xs]


def render_plate(text: str, colour: str) -> RGB:
    """The plate alone, 1 px per mm (440x140, or 480x140 for green), RGB."""
    chars = [ch for ch in text if ch not in _SEPARATORS]
    green = colour == "green"
    width = 480 if green else 440
    height = 140
    if colour == "blue":
        plate = np.empty((height, width, 3), np.uint8)
        plate[:] = (18, 64, 168)
        ink = (250, 250, 250)
    elif colour == "yellow":
        plate = np.empty((height, width, 3), np.uint8)
        plate[:] = (244, 196, 22)
        ink = (12, 12, 12)
    elif green:
        # New-energy gradient: pale, almost white at the top, green at the bottom.
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None] ** 0.9
        top = np.array([236, 248, 236], np.float32)
        bottom = np.array([72, 196, 104], np.float32)
        rows = top * (1 - t) + bottom * t
        plate = np.repeat(rows[:, None, :], width, axis=1).reshape(height, width, 3)
        plate = plate.astype(np.uint8)
        ink = (10, 10, 10)
    else:
        raise ValueError(f"unknown plate colour {colour!r}")
    # Rim: white on blue, black on yellow and green, 3 mm in.
    rim = (235, 235, 235) if colour == "blue" else (25, 25, 25)
    cv2.rectangle(plate, (3, 3), (width - 4, height - 4), rim, 2, cv2.LINE_AA)
    cells = _cells(green)
    for ch, (x, w) in zip(chars, cells, strict=False):
        glyph = _glyph(ch)
        gh, gw = glyph.shape
        cell_h = 90.0
        natural_w = gw * cell_h / gh
        out_w = max(4, round(min(w, natural_w)))
        mask = cv2.resize(glyph, (out_w, 90), interpolation=cv2.INTER_AREA).astype(np.float32)
        mask /= 255.0
        x0 = round(x + (w - out_w) / 2)
        y0 = 25
        region = plate[y0 : y0 + 90, x0 : x0 + out_w].astype(np.float32)
        blended = region * (1 - mask[..., None]) + np.array(ink, np.float32) * mask[..., None]
        plate[y0 : y0 + 90, x0 : x0 + out_w] = blended.astype(np.uint8)
    dot_x = round((cells[1][0] + cells[1][1] + cells[2][0]) / 2)
    cv2.circle(plate, (dot_x, 70), 5, ink, -1, cv2.LINE_AA)
    # Two rivets in the top margin.
    for rx in (round(width * 0.2), round(width * 0.8)):
        cv2.circle(plate, (rx, 13), 6, (170, 170, 175), -1, cv2.LINE_AA)
        cv2.circle(plate, (rx, 13), 6, (90, 90, 95), 1, cv2.LINE_AA)
    return plate


# ---- the scene ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pose:
    yaw: float
    pitch: float
    roll: float
    distance: float  # mm
    u: float  # plate centre in the frame
    v: float
    focal: float  # px


@dataclass(frozen=True)
class _Look:
    dusk: bool
    gain: float
    cast: tuple[float, float, float]
    gamma: float
    motion: float
    motion_angle: float
    defocus: float
    noise: float
    codec: str  # "jpeg" | "h264"
    quality: int


@dataclass(frozen=True)
class _Scene:
    text: str | None
    colour: str
    size: tuple[int, int]
    plane: npt.NDArray[np.uint8]  # car plane RGBA
    lights: tuple[tuple[float, float], ...]  # light centres on the plane
    background: RGB
    pose: _Pose
    look: _Look


def render_scene(
    text: str,
    colour: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (1280, 720),
    difficulty: Difficulty = "medium",
    plate_px: tuple[float, float] | None = None,
) -> RGB:
    """A phone's frame (HxWx3 uint8 RGB, ``size`` = (width, height)) showing the plate.
    ``plate_px`` replaces the difficulty's range of plate widths (the same draw: the scene is
    otherwise the same)."""
    return render_labelled(
        text, colour, rng, size=size, difficulty=difficulty, plate_px=plate_px
    )[0]


def render_labelled(
    text: str,
    colour: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (1280, 720),
    difficulty: Difficulty = "medium",
    plate_px: tuple[float, float] | None = None,
) -> tuple[RGB, npt.NDArray[np.float64]]:
    """:func:`render_scene` and the plate's four corners in the frame (clockwise from
    top-left, 4x2), for benchmarks that check where a reader looked."""
    scene = _build(text, colour, rng, size, difficulty, plate_px=plate_px)
    frame = _shoot(scene, scene.pose, scene.look, rng)
    return _compress(frame, scene.look), _plate_corners(scene.pose, colour)


def plate_on_plain_frame(
    plate: RGB,
    corners: npt.NDArray[np.floating[Any]],
    background: Any,
    rng: np.random.Generator,
    size: tuple[int, int] = (1280, 720),
) -> RGB:
    """A frame of one colour (``background``, RGB) with ``plate`` warped onto ``corners``
    (clockwise from top-left) and a little sensor noise (sigma 2, from ``rng``): a plate in a
    pose a test or benchmark chooses exactly, nothing else in the picture."""
    width, height = size
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = background
    h, w = plate.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(plate, matrix, size)
    inside = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, size) > 0
    frame[inside] = warped[inside]
    noisy = frame.astype(np.float32) + rng.normal(0, 2.0, frame.shape)
    out: RGB = np.clip(noisy, 0, 255).astype(np.uint8)
    return out


def render_no_plate(
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (1280, 720),
    difficulty: Difficulty = "easy",
    sign: bool = True,
) -> RGB:
    """The same kind of scene with an empty plate holder: with ``sign``, a Chinese road sign
    and a learner sticker, text a reader must not propose as a plate."""
    scene = _build(None, "blue", rng, size, difficulty, distractor="both" if sign else "none")
    frame = _shoot(scene, scene.pose, scene.look, rng)
    return _compress(frame, scene.look)


def render_sign(
    words: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (1280, 720),
    colour: str = "blue",
) -> RGB:
    """A street with a large road sign (white Chinese ``words`` on blue or green) in the
    middle of the frame and no car: plate-coloured, plate-shaped, and not a plate."""
    width, height = size
    frame = _background(rng, size, sign=False)
    bg = (20, 70, 170) if colour == "blue" else (20, 120, 60)
    sign = _sign(words, max(24, height // 9), fg=(250, 250, 250), bg=bg, border=(240, 240, 240))
    h, w = sign.shape[:2]
    ox, oy = max(0, (width - w) // 2), max(0, (height - h) // 3)
    frame[oy : oy + h, ox : ox + w] = sign[: height - oy, : width - ox]
    noisy = frame.astype(np.float32) + rng.normal(0, 2.0, frame.shape).astype(np.float32)
    look = _Look(False, 1.0, (1.0, 1.0, 1.0), 1.0, 0.0, 0.0, 0.0, 2.0, "jpeg", 70)
    return _compress(np.clip(noisy, 0, 255).astype(np.uint8), look)


def scene_frames(
    text: str,
    colour: str,
    seed: int,
    n: int,
    *,
    size: tuple[int, int] = (1280, 720),
    difficulty: Difficulty = "easy",
) -> Iterator[RGB]:
    """``n`` frames of one scene filmed hand-held: the camera drifts and shakes a little and
    the motion blur changes from frame to frame. Not compressed: they are meant for a video
    encoder (a simulated driver's track)."""
    rng = np.random.default_rng(seed)
    scene = _build(text, colour, rng, size, difficulty)
    pose, look = scene.pose, scene.look
    for _ in range(n):
        pose = replace(
            pose,
            yaw=pose.yaw + float(rng.normal(0, 0.4)),
            pitch=pose.pitch + float(rng.normal(0, 0.3)),
            roll=pose.roll + float(rng.normal(0, 0.3)),
            u=float(np.clip(pose.u + rng.normal(0, 4), size[0] * 0.25, size[0] * 0.75)),
            v=float(np.clip(pose.v + rng.normal(0, 3), size[1] * 0.3, size[1] * 0.7)),
            distance=pose.distance * float(np.clip(rng.normal(1, 0.01), 0.97, 1.03)),
        )
        shaken = replace(
            look,
            motion=float(abs(rng.normal(0, 2.0))),
            motion_angle=float(rng.uniform(0, 180)),
        )
        yield _shoot(scene, pose, shaken, rng)


def _build(
    text: str | None,
    colour: str,
    rng: np.random.Generator,
    size: tuple[int, int],
    difficulty: str,
    *,
    distractor: str | None = None,
    plate_px: tuple[float, float] | None = None,
) -> _Scene:
    if colour not in COLOURS:
        raise ValueError(f"unknown plate colour {colour!r}")
    if difficulty not in _LEVELS:
        raise ValueError(f"unknown difficulty {difficulty!r}")
    level = _LEVELS[difficulty]
    width, height = size
    if distractor is None:
        wanted = rng.random() < level.distractor
        kind = str(rng.choice(["sign", "sticker", "both"])) if wanted else "none"
    else:
        kind = distractor
    plane, lights = _car_plane(text, colour, rng, sticker=kind in ("sticker", "both"))
    background = _background(rng, size, sign=kind in ("sign", "both"))
    width_px = float(rng.uniform(*(plate_px or level.plate_px))) * width / 1280
    focal = _FOCAL * width / 1280
    pose = _Pose(
        yaw=float(rng.uniform(-level.yaw, level.yaw)),
        pitch=float(rng.uniform(-level.pitch, level.pitch)),
        roll=float(rng.uniform(-level.roll, level.roll)),
        distance=focal * (480 if colour == "green" else 440) / width_px,
        u=float(rng.uniform(0.3, 0.7)) * width,
        v=float(rng.uniform(0.4, 0.7)) * height,
        focal=focal,
    )
    dusk = bool(rng.random() < level.dusk)
    if dusk:
        # The phone's auto-exposure brings a dusk scene back up; what stays is a dimmer,
        # flatter picture with a colour cast, more sensor noise and lit lamps.
        gain = float(rng.uniform(0.5, 0.75))
        warm = rng.random() < 0.5
        cast = (1.1, 0.95, 0.75) if warm else (0.85, 0.95, 1.15)
        gamma = float(rng.uniform(1.0, 1.2))
    else:
        gain = float(rng.uniform(0.85, 1.1))
        cast = (float(rng.uniform(0.95, 1.05)), 1.0, float(rng.uniform(0.95, 1.05)))
        gamma = float(rng.uniform(0.9, 1.1))
    use_jpeg = rng.random() < 0.5
    look = _Look(
        dusk=dusk,
        gain=gain,
        cast=cast,
        gamma=gamma,
        motion=float(rng.uniform(*level.motion)),
        motion_angle=float(rng.uniform(0, 180)),
        defocus=float(rng.uniform(0, level.defocus)),
        noise=float(rng.uniform(*level.noise)) * (1.5 if dusk else 1.0),
        codec="jpeg" if use_jpeg else "h264",
        quality=int(rng.integers(*level.jpeg)) if use_jpeg else int(rng.integers(*level.qp)),
    )
    return _Scene(text, colour, size, plane, lights, background, pose, look)


def _homography(pose: _Pose, scale: float) -> npt.NDArray[np.float64]:
    """From the (scaled) car plane's pixels to the frame's."""
    y, p, r = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    rot = rz @ rx @ ry
    k = np.array([[pose.focal, 0, pose.u], [0, pose.focal, pose.v], [0, 0, 1]])
    # plane mm (relative to the plate centre) -> camera: R [x y 0]^T + (0, 0, distance)
    extr = np.column_stack([rot[:, 0], rot[:, 1], [0.0, 0.0, pose.distance]])
    # scaled plane px -> mm relative to the plate centre
    to_mm = np.array([[1 / scale, 0, -_PLATE_X], [0, 1 / scale, -_PLATE_Y], [0, 0, 1]])
    out: npt.NDArray[np.float64] = k @ extr @ to_mm
    return out


def _plate_corners(pose: _Pose, colour: str) -> npt.NDArray[np.float64]:
    half_w = (480 if colour == "green" else 440) / 2
    pts = np.array(
        [[-half_w, -70, 1], [half_w, -70, 1], [half_w, 70, 1], [-half_w, 70, 1]], np.float64
    )
    pts[:, 0] += _PLATE_X
    pts[:, 1] += _PLATE_Y
    proj = (_homography(pose, 1.0) @ pts.T).T
    return proj[:, :2] / proj[:, 2:3]


def _shoot(scene: _Scene, pose: _Pose, look: _Look, rng: np.random.Generator) -> RGB:
    width, height = scene.size
    # Shrink the plane close to its size in the frame first: warpPerspective only interpolates,
    # it would alias the plate's strokes when minifying 3-5x.
    px_per_mm = pose.focal / pose.distance
    scale = float(min(1.0, max(px_per_mm * 1.3, 0.05)))
    plane: npt.NDArray[Any] = scene.plane
    if scale < 1.0:
        plane = cv2.resize(
            plane,
            (round(_PLANE_W * scale), round(_PLANE_H * scale)),
            interpolation=cv2.INTER_AREA,
        )
    hom = _homography(pose, scale)
    warped = cv2.warpPerspective(
        plane, hom, (width, height), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0)
    )
    alpha = warped[..., 3:4].astype(np.float32) / 255.0
    img = scene.background.astype(np.float32) * (1 - alpha) + warped[..., :3] * alpha

    # Light.
    img /= 255.0
    img *= look.gain * np.array(look.cast, np.float32)
    np.clip(img, 0, 1, out=img)
    img **= look.gamma
    if look.dusk:
        # Lit lamps bloom at dusk.
        glow = np.zeros((height, width), np.float32)
        for lx, ly in scene.lights:
            q = hom @ np.array([lx * scale, ly * scale, 1.0])
            cx, cy = q[0] / q[2], q[1] / q[2]
            if -200 < cx < width + 200 and -200 < cy < height + 200:
                radius = max(3, round(110 * px_per_mm))
                cv2.circle(glow, (round(cx), round(cy)), radius, 1.0, -1)
        if glow.any():
            sigma = max(2.0, 60 * px_per_mm)
            glow = np.asarray(cv2.GaussianBlur(glow, (0, 0), sigma), np.float32)
            img += glow[..., None] * np.array([0.9, 0.25, 0.15], np.float32)
    # Vignette.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rr = ((xx - width / 2) / width) ** 2 + ((yy - height / 2) / height) ** 2
    img *= (1 - 0.2 * rr)[..., None]  # what the ISP's lens correction leaves

    # Optics and motion.
    if look.defocus > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), look.defocus)
    if look.motion >= 1.0:
        img = cv2.filter2D(img, -1, _motion_kernel(look.motion, look.motion_angle))
    # Sensor noise (luma-heavy, a little chroma).
    noise = rng.normal(0, look.noise / 255.0, (height, width, 1)).astype(np.float32)
    chroma = rng.normal(0, look.noise / 3 / 255.0, (height, width, 3)).astype(np.float32)
    img += noise + chroma
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def _motion_kernel(length: float, angle: float) -> npt.NDArray[np.float32]:
    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    for t in np.linspace(-length / 2, length / 2, max(2, int(length * 3))):
        kernel[round(c + t * dy), round(c + t * dx)] += 1
    kernel /= kernel.sum()
    return kernel


def _compress(frame: RGB, look: _Look) -> RGB:
    if look.codec == "jpeg":
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, look.quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
        if decoded is None:
            raise RuntimeError("JPEG round trip failed")
        return np.asarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), np.uint8)
    return h264_round_trip(frame, look.quality)


def h264_round_trip(frame: RGB, qp: int) -> RGB:
    """The frame as a video call delivers it: 4:2:0, H.264 at a fixed quantiser, decoded."""
    height, width = frame.shape[:2]
    enc: Any = av.CodecContext.create("libx264", "w")
    enc.width, enc.height = width, height
    enc.pix_fmt = "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.thread_count = 1
    enc.options = {"qp": str(qp), "preset": "veryfast", "tune": "zerolatency"}
    picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
    picture.pts = 0
    packets = list(enc.encode(picture)) + list(enc.encode(None))
    dec: Any = av.CodecContext.create("h264", "r")
    dec.thread_count = 1
    pictures: list[Any] = []
    for packet in packets:
        pictures.extend(dec.decode(packet))
    pictures.extend(dec.decode(None))
    out: RGB = pictures[0].to_ndarray(format="rgb24")
    return out


# ---- drawing --------------------------------------------------------------------------------


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], cell: int
) -> npt.NDArray[np.float32]:
    """Low-frequency noise in -1..1 (upsampled random grid)."""
    h, w = shape
    grid = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2)).astype(np.float32)
    up = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.asarray(up, np.float32)[:h, :w]


def _car_plane(
    text: str | None, colour: str, rng: np.random.Generator, *, sticker: bool
) -> tuple[npt.NDArray[np.uint8], tuple[tuple[float, float], ...]]:
    """The car's front or rear, RGBA at 1 px per mm, plate centred on (_PLATE_X, _PLATE_Y)."""
    plane = np.zeros((_PLANE_H, _PLANE_W, 4), np.uint8)
    rgb = np.zeros((_PLANE_H, _PLANE_W, 3), np.uint8)
    alpha = np.zeros((_PLANE_H, _PLANE_W), np.uint8)
    body = tuple(int(c) for c in _BODY_COLOURS[int(rng.integers(len(_BODY_COLOURS)))])
    rear = rng.random() < 0.6

    # Silhouette: tyres, lower body, upper body (window / bonnet).
    for x0 in (140, 1600):
        cv2.rectangle(rgb, (x0, 1250), (x0 + 260, 1500), (18, 18, 18), -1)
        cv2.rectangle(alpha, (x0, 1250), (x0 + 260, 1500), 255, -1)
    lower = np.array([[90, 760], [1910, 760], [1930, 1180], [1890, 1320], [110, 1320], [70, 1180]])
    upper = np.array([[330, 280], [1670, 280], [1820, 760], [180, 760]])
    for poly in (lower, upper):
        cv2.fillPoly(rgb, [poly], body, cv2.LINE_AA)
        cv2.fillPoly(alpha, [poly], 255, cv2.LINE_AA)
    # Shading: light from above, a specular band, dirt.
    shade = np.linspace(1.15, 0.75, _PLANE_H, dtype=np.float32)[:, None, None]
    tex = _smooth_noise(rng, (_PLANE_H, _PLANE_W), 60)[..., None] * 0.06
    lit = rgb.astype(np.float32) * (shade + tex) + 8
    band = int(rng.integers(800, 1000))
    lit[band : band + 25] += 35
    rgb = np.clip(lit, 0, 255).astype(np.uint8)

    # Window (rear) or grille (front).
    glass = np.array([[390, 330], [1610, 330], [1730, 700], [270, 700]])
    if rear:
        cv2.fillPoly(rgb, [glass], (38, 44, 52), cv2.LINE_AA)
        # A reflection streak across the glass.
        refl = np.array([[700, 330], [900, 330], [700, 700], [500, 700]])
        cv2.fillPoly(rgb, [refl], (70, 78, 88), cv2.LINE_AA)
    else:
        cv2.fillPoly(rgb, [glass], (body[0] // 2, body[1] // 2, body[2] // 2), cv2.LINE_AA)
        cv2.rectangle(rgb, (640, 780), (1360, 900), (25, 25, 28), -1)
        for gx in range(660, 1350, 40):
            cv2.line(rgb, (gx, 785), (gx, 895), (80, 80, 85), 4)
    # Bumper.
    bumper = (30, 30, 32) if rng.random() < 0.5 else tuple(max(0, c - 30) for c in body)
    cv2.rectangle(rgb, (100, 1180), (1900, 1310), bumper, -1)
    # Lamps.
    lamp = (200, 25, 30) if rear else (235, 235, 225)
    lights = ((300.0, 820.0), (1700.0, 820.0))
    for lx, ly in lights:
        cv2.ellipse(rgb, (int(lx), int(ly)), (200, 60), 0, 0, 360, lamp, -1, cv2.LINE_AA)
        cv2.ellipse(rgb, (int(lx), int(ly)), (200, 60), 0, 0, 360, (60, 60, 60), 6, cv2.LINE_AA)
    # Plate recess, the plate, its holder.
    pw = 480 if colour == "green" else 440
    x0, y0 = _PLATE_X - pw // 2, _PLATE_Y - 70
    cv2.rectangle(rgb, (x0 - 40, y0 - 30), (x0 + pw + 40, y0 + 170), (45, 45, 48), -1)
    cv2.rectangle(rgb, (x0 - 8, y0 - 8), (x0 + pw + 8, y0 + 148), (20, 20, 20), -1)
    if text is None:  # an empty holder
        plate = np.full((140, pw, 3), 40, np.float32)
    else:
        plate = render_plate(text, colour).astype(np.float32)
    # Dirt and a glare gradient on the plate.
    plate *= 1 + _smooth_noise(rng, plate.shape[:2], 40)[..., None] * 0.07
    glare = float(rng.uniform(0, 0.25))
    plate += glare * 255 * np.linspace(1, 0, pw, dtype=np.float32)[None, :, None]
    rgb[y0 : y0 + 140, x0 : x0 + pw] = np.clip(plate, 0, 255).astype(np.uint8)
    # Badge (Latin text) above the plate.
    if rng.random() < 0.6:
        badge = str(rng.choice(_BADGES))
        cv2.putText(rgb, badge, (_PLATE_X - 40 * len(badge), 680 if rear else 760),
                    cv2.FONT_HERSHEY_DUPLEX, 2.6, (205, 205, 210), 6, cv2.LINE_AA)  # fmt: skip
    if sticker and rear:
        words = str(rng.choice(_STICKERS))
        _paste(rgb, _sign(words, 70, fg=(10, 10, 10), bg=(245, 205, 30)), (1250, 450))
    plane[..., :3] = rgb
    plane[..., 3] = alpha
    return plane, lights


def _sign(
    words: str,
    px: int,
    *,
    fg: tuple[int, int, int],
    bg: tuple[int, int, int],
    border: tuple[int, int, int] | None = None,
) -> RGB:
    """Chinese ``words`` at ``px`` on a filled box, RGB."""
    font = ImageFont.truetype(str(font_path()), px)
    left, top, right, bottom = (round(v) for v in font.getbbox(words))
    pad = px // 3
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    box = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(box)
    draw.text((pad - left, pad - top), words, fill=fg, font=font)
    if border is not None:
        draw.rectangle((3, 3, w - 4, h - 4), outline=border, width=max(2, px // 12))
    return np.asarray(box, np.uint8)


def _paste(img: RGB, patch: RGB, origin: tuple[int, int]) -> None:
    """``patch`` into ``img`` with its top-left at ``origin``, moved inside if need be."""
    h, w = patch.shape[:2]
    x = max(0, min(origin[0], img.shape[1] - w))
    y = max(0, min(origin[1], img.shape[0] - h))
    img[y : y + h, x : x + w] = patch[: img.shape[0] - y, : img.shape[1] - x]


def _background(rng: np.random.Generator, size: tuple[int, int], *, sign: bool) -> RGB:
    width, height = size
    img = np.zeros((height, width, 3), np.float32)
    horizon = int(height * rng.uniform(0.3, 0.5))
    # Sky.
    top = np.array([150, 185, 225], np.float32) * rng.uniform(0.8, 1.1)
    low = np.array([215, 225, 235], np.float32)
    t = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
    img[:horizon] = top * (1 - t) + low * t
    # A pavement band under the buildings.
    img[horizon : horizon + 40] = np.array([150, 148, 140], np.float32) * rng.uniform(0.8, 1.1)
    # Buildings.
    x = int(rng.integers(-100, 0))
    while x < width:
        bw = int(rng.integers(120, 360))
        bh = int(rng.integers(horizon // 3, horizon + 60))
        tone = np.array(rng.choice([[190, 180, 165], [150, 150, 155], [200, 195, 185],
                                    [120, 110, 100], [170, 160, 150]]), np.float32)  # fmt: skip
        y0 = max(0, horizon - bh)
        img[y0 : horizon + 40, max(0, x) : x + bw] = tone * rng.uniform(0.8, 1.1)
        for wy in range(y0 + 15, horizon + 20, 38):
            for wx in range(max(0, x) + 12, min(width, x + bw) - 20, 34):
                img[wy : wy + 20, wx : wx + 18] = (
                    (70, 85, 100) if rng.random() < 0.8 else (230, 220, 160)
                )
        x += bw + int(rng.integers(0, 40))
    # Trees: green blobs in front of the buildings.
    for _ in range(int(rng.integers(0, 6))):
        cx, cy = int(rng.integers(0, width)), horizon + int(rng.integers(-80, 20))
        for _ in range(6):
            r = int(rng.integers(25, 70))
            green = (rng.uniform(40, 80), rng.uniform(100, 150), rng.uniform(40, 70))
            cv2.circle(img, (cx + int(rng.integers(-50, 50)), cy + int(rng.integers(-50, 30))),
                       r, green, -1, cv2.LINE_AA)  # fmt: skip
    # Road: asphalt with lane markings.
    road = np.array([95, 95, 98], np.float32) * rng.uniform(0.7, 1.2)
    img[horizon + 40 :] = road
    tex = _smooth_noise(rng, (height, width), 6) * 10 + rng.normal(0, 6, (height, width))
    img[horizon + 40 :] += tex[horizon + 40 :, :, None].astype(np.float32)
    for lane in range(-3, 4):
        xb = width / 2 + lane * width * 0.45
        xt = width / 2 + lane * width * 0.08
        paint = (235, 235, 230) if lane else (230, 190, 40)
        cv2.line(img, (int(xt), horizon + 40), (int(xb), height), paint, 6, cv2.LINE_AA)
    img[:horizon] += _smooth_noise(rng, (horizon, width), 30)[..., None] * 6
    out = np.clip(img, 0, 255).astype(np.uint8)
    if sign:
        blue = rng.random() < 0.6
        bg = (20, 70, 170) if blue else (20, 120, 60)
        words = str(rng.choice(_SIGNS))
        px = int(rng.integers(30, 70)) * width // 1280
        origin = (int(rng.integers(0, width - 200)), int(rng.integers(10, max(11, horizon - 80))))
        _paste(out, _sign(words, px, fg=(250, 250, 250), bg=bg, border=(240, 240, 240)), origin)
    return out
