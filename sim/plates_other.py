"""A second, independent generator of plate scenes, so that the plate reader's benchmark does
not only measure the reader against the generator it was first tuned on (``sim/plates.py``).

Everything here is drawn differently from ``sim/plates.py``: the plate is drawn at 4 px per mm
with PIL in the real GA 36 proportions, its Chinese character in one of several CJK faces
(WenQuanYi Zen Hei, Noto Serif CJK, AR PL UMing, AR PL UKai, Droid Sans Fallback; not the
WenQuanYi Micro Hei of the first generator, not the Noto Sans CJK the reader's old province
shapes came from) and its letters and digits in a condensed Latin face (DejaVu Sans Condensed,
Liberation Sans Narrow), then spoiled the way real plates are: dirt and spatter, bolts, a
dealer's plate frame (sometimes with words on it), glare, night with headlights. The car is a
painted panel with lights and a grille; the camera is a plain homography of the plate's
corners; the video damage is a resize (480p upscaled for ``hard``) and a JPEG round trip.

=====  ========  ===========  =====  =====  ======  =======  =====  ==========
level  plate px  perspective  roll   blur   noise   JPEG q   night  480p video
=====  ========  ===========  =====  =====  ======  =======  =====  ==========
easy   170-320   ±12 %        ±4°    0-0.8  1-3     65-90    0 %    0 %
hard   90-150    ±25 %        ±9°    0.4-1.4 3-7    18-40    35 %   50 %
=====  ========  ===========  =====  =====  ======  =======  =====  ==========

The same seed gives the same pixels (for the same fonts). Needs the Debian fonts above
(``scripts/test`` installs them); faces that are missing are skipped, none at all raises.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Final, Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from kuaichu.cases.plates import PROVINCES

RGB = npt.NDArray[np.uint8]
Difficulty = Literal["easy", "hard"]
DIFFICULTIES: Final[tuple[Difficulty, ...]] = ("easy", "hard")

# (path, index in a collection): the CJK faces for the province character.
CJK_FACES: Final = (
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"), 2),  # SC
    (Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),
    (Path("/usr/share/fonts/truetype/arphic/ukai.ttc"), 0),
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),
)
LATIN_FACES: Final = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf"),
)
PX_PER_MM: Final = 4
_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_PROVINCE_LIST: Final = sorted(PROVINCES)
_DEALERS: Final = ("平安出行", "一路顺风", "汽车销售", "4S店", "欢迎光临")


class FontsMissing(RuntimeError):
    """None of the faces is installed (the simulator's own error, not the product's)."""


@functools.cache
def cjk_faces() -> tuple[tuple[Path, int], ...]:
    found = tuple((p, i) for p, i in CJK_FACES if p.exists())
    if not found:
        raise FontsMissing(
            "apt-get install fonts-wqy-zenhei fonts-arphic-uming fonts-noto-cjk-extra"
        )
    return found


@functools.cache
def latin_faces() -> tuple[Path, ...]:
    found = tuple(p for p in LATIN_FACES if p.exists())
    if not found:
        raise FontsMissing("apt-get install fonts-dejavu-core fonts-liberation")
    return found


def random_plate(rng: np.random.Generator) -> tuple[str, str]:
    """A civil plate after GA 36: ``("湘A12345", "blue")``; blue, yellow or green."""
    colour = str(rng.choice(["blue", "yellow", "green"], p=[0.55, 0.15, 0.3]))
    head = str(rng.choice(_PROVINCE_LIST)) + str(rng.choice(list(_LETTERS)))
    digits = "0123456789"
    if colour == "green":
        if rng.random() < 0.8:  # small car: D/F, then a letter or a digit, then four digits
            second = str(rng.choice(list(_LETTERS + digits)))
            serial = str(rng.choice(["D", "F"])) + second
            serial += "".join(str(rng.choice(list(digits))) for _ in range(4))
        else:  # large vehicle: five digits, then D/F
            serial = "".join(str(rng.choice(list(digits))) for _ in range(5))
            serial += str(rng.choice(["D", "F"]))
        return head + serial, colour
    chars = [str(rng.choice(list(digits))) for _ in range(5)]
    for pos in rng.choice(5, size=int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15])), replace=False):
        chars[int(pos)] = str(rng.choice(list(_LETTERS)))
    return head + "".join(chars), colour


@functools.lru_cache(maxsize=512)
def _ink(ch: str, face: Path, index: int, w_mm: float) -> npt.NDArray[np.uint8]:
    """The character squeezed into its 90 mm high cell, ``w_mm`` wide, as an alpha mask."""
    font = ImageFont.truetype(str(face), 240, index=index)
    image = Image.new("L", (360, 360), 0)
    ImageDraw.Draw(image).text((50, 20), ch, fill=255, font=font)
    ink = np.asarray(image, np.uint8)
    ys, xs = np.nonzero(ink > 40)
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h = 90 * PX_PER_MM
    natural = ink.shape[1] * h / ink.shape[0]
    w = max(PX_PER_MM * 6, round(min(w_mm * PX_PER_MM, natural)))
    out: npt.NDArray[np.uint8] = np.asarray(cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA))
    return out


def draw_plate(
    text: str, colour: str, rng: np.random.Generator, cjk_face: int | None = None
) -> npt.NDArray[np.uint8]:
    """The plate and its holder, RGBA at PX_PER_MM, the plate itself in the middle; ``cjk_face``
    picks one of :func:`cjk_faces` for the province (else a random one)."""
    return _draw_plate(text, colour, rng, cjk_face)[0]


def _draw_plate(
    text: str, colour: str, rng: np.random.Generator, cjk_face: int | None
) -> tuple[npt.NDArray[np.uint8], int]:
    """:func:`draw_plate`, and the index in :func:`cjk_faces` of the province's face."""
    green = colour == "green"
    width_mm = 480 if green else 440
    frame_mm = 14 if rng.random() < 0.6 else 0
    W, H = (width_mm + 2 * frame_mm) * PX_PER_MM, (140 + 2 * frame_mm) * PX_PER_MM
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if frame_mm:
        grey = int(rng.integers(20, 200))
        draw.rounded_rectangle(
            (0, 0, W - 1, H - 1), radius=8 * PX_PER_MM, fill=(grey, grey, grey, 255)
        )
        if rng.random() < 0.5:  # a dealer's words on the bottom of the holder
            face, index = cjk_faces()[int(rng.integers(len(cjk_faces())))]
            font = ImageFont.truetype(str(face), int(9 * PX_PER_MM), index=index)
            ink = (240, 240, 240, 255) if grey < 110 else (20, 20, 20, 255)
            words = str(rng.choice(_DEALERS))
            at = (W // 2, H - frame_mm * PX_PER_MM // 2)
            draw.text(at, words, fill=ink, font=font, anchor="mm")
    ox = oy = frame_mm * PX_PER_MM
    pw, ph = width_mm * PX_PER_MM, 140 * PX_PER_MM
    jitter = rng.integers(-12, 13, 3)
    if colour == "blue":
        bg = np.clip(np.array([16, 72, 190]) + jitter, 0, 255)
        ink_rgb = (245, 245, 245)
        plate = np.zeros((ph, pw, 3), np.uint8)
        plate[:] = bg
    elif colour == "yellow":
        bg = np.clip(np.array([250, 190, 10]) + jitter, 0, 255)
        ink_rgb = (15, 15, 15)
        plate = np.zeros((ph, pw, 3), np.uint8)
        plate[:] = bg
    else:
        t = np.linspace(0, 1, ph, dtype=np.float32)[:, None]
        top = np.array([245, 250, 245], np.float32)
        low = np.clip(np.array([60, 190, 90]) + jitter, 0, 255).astype(np.float32)
        rows = top * (1 - t**1.3) + low * t**1.3
        plate = np.repeat(rows[:, None, :], pw, axis=1).astype(np.uint8)
        ink_rgb = (12, 12, 12)
    rim = Image.fromarray(plate)
    rdraw = ImageDraw.Draw(rim)
    rim_ink = (235, 235, 235) if colour == "blue" else (20, 20, 20)
    m = 2 * PX_PER_MM
    rdraw.rounded_rectangle((m, m, pw - m, ph - m), radius=4 * PX_PER_MM, outline=rim_ink,
                            width=PX_PER_MM)  # fmt: skip
    plate = np.asarray(rim, np.uint8).copy()
    # GA 36 cells: left edge and width in mm.
    if green:
        cells = [(15.5, 45.0), (69.5, 43.0)] + [(161.5 + 52.0 * i, 43.0) for i in range(6)]
    else:
        cells = [(15.5, 45.0), (72.5, 45.0)] + [(151.5 + 57.0 * i, 45.0) for i in range(5)]
    pick = int(rng.integers(len(cjk_faces())))  # drawn even when cjk_face is given
    if cjk_face is not None:
        pick = cjk_face % len(cjk_faces())
    cjk = cjk_faces()[pick]
    latin = latin_faces()[int(rng.integers(len(latin_faces())))]
    for ch, (x, w) in zip(text, cells, strict=True):
        mask = _ink(ch, *cjk, w) if not ch.isascii() else _ink(ch, latin, 0, w)
        mh, mw = mask.shape
        x0 = round((x + w / 2) * PX_PER_MM - mw / 2)
        y0 = 25 * PX_PER_MM
        alpha = mask.astype(np.float32)[..., None] / 255
        region = plate[y0 : y0 + mh, x0 : x0 + mw].astype(np.float32)
        plate[y0 : y0 + mh, x0 : x0 + mw] = (
            region * (1 - alpha) + np.array(ink_rgb, np.float32) * alpha
        ).astype(np.uint8)
    dot = ((cells[1][0] + cells[1][1] + cells[2][0]) / 2 * PX_PER_MM, 70 * PX_PER_MM)
    radius = 5 * PX_PER_MM // 2 + 4
    cv2.circle(plate, (round(dot[0]), round(dot[1])), radius, ink_rgb, -1, cv2.LINE_AA)
    # Bolts in the top margin, chrome or rusty.
    for bx in (0.23, 0.77) if rng.random() < 0.8 else ():
        c = (200, 200, 205) if rng.random() < 0.6 else (120, 90, 60)
        centre = (round(pw * bx), round(12 * PX_PER_MM))
        cv2.circle(plate, centre, 5 * PX_PER_MM, c, -1, cv2.LINE_AA)
        cv2.circle(plate, centre, 5 * PX_PER_MM, (60, 60, 60), 2, cv2.LINE_AA)
    # Dirt: soft brown blotches, spatter from the road on the lower part.
    if rng.random() < 0.6:
        dirt: Any = np.zeros((ph, pw), np.float32)
        for _ in range(int(rng.integers(3, 12))):
            cx, cy = rng.integers(0, pw), rng.integers(ph // 3, ph)
            r, a = int(rng.integers(4, 30)), float(rng.uniform(0.2, 0.5))
            cv2.circle(dirt, (int(cx), int(cy)), r, a, -1)
        for _ in range(int(rng.integers(20, 120))):
            cx, cy = rng.integers(0, pw), rng.integers(0, ph)
            r, a = int(rng.integers(1, 4)), float(rng.uniform(0.3, 0.8))
            cv2.circle(dirt, (int(cx), int(cy)), r, a, -1)
        dirt = cv2.GaussianBlur(dirt, (0, 0), 2.0)[..., None]
        brown = np.array([110, 90, 60], np.float32)
        plate = (plate.astype(np.float32) * (1 - dirt) + brown * dirt).astype(np.uint8)
    out = np.asarray(img, np.uint8).copy()
    out[oy : oy + ph, ox : ox + pw, :3] = plate
    out[oy : oy + ph, ox : ox + pw, 3] = 255
    return out, pick


def render_scene(
    text: str,
    colour: str,
    rng: np.random.Generator,
    *,
    difficulty: Difficulty = "easy",
    size: tuple[int, int] = (1280, 720),
    cjk_face: int | None = None,
) -> RGB:
    """A 720p video frame (HxWx3 uint8 RGB) of the back of a car with the plate."""
    return render_scene_face(
        text, colour, rng, difficulty=difficulty, size=size, cjk_face=cjk_face
    )[0]


def face_name(index: int) -> str:
    """The file name (and index in a collection) of ``cjk_faces()[index]``: "uming.ttc"."""
    path, sub = cjk_faces()[index]
    return path.name if sub == 0 else f"{path.name}:{sub}"


def render_scene_face(
    text: str,
    colour: str,
    rng: np.random.Generator,
    *,
    difficulty: Difficulty = "easy",
    size: tuple[int, int] = (1280, 720),
    cjk_face: int | None = None,
    plate_px: tuple[float, float] | None = None,
) -> tuple[RGB, int]:
    """:func:`render_scene`, and the index in :func:`cjk_faces` of the province's face (the
    same pixels: the benchmark reports its misses per face). ``plate_px`` replaces the
    difficulty's range of plate widths (the same draw: the scene is otherwise the same)."""
    hard = difficulty == "hard"
    W, H = size
    frame = _car(rng, size)
    plate, face = _draw_plate(text, colour, rng, cjk_face)
    ph, pw = plate.shape[:2]
    low, high = plate_px or ((90, 150) if hard else (170, 320))
    width_px = rng.uniform(low, high)
    # The plate's own width (without the holder) is width_px.
    plate_w_mm = 480 if colour == "green" else 440
    scale = width_px / (plate_w_mm * PX_PER_MM)
    w, h = pw * scale, ph * scale
    cx = rng.uniform(0.3, 0.7) * W
    cy = rng.uniform(0.45, 0.75) * H
    persp = 0.25 if hard else 0.12
    roll = np.radians(rng.uniform(-1, 1) * (9 if hard else 4))
    # A yaw shortens one side; a pitch the top or the bottom edge.
    yaw = rng.uniform(-persp, persp)
    pitch = rng.uniform(-persp, persp) / 2
    base = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    base[:, 1] *= 1 + yaw * np.sign(base[:, 0])
    base[:, 0] *= 1 + pitch * np.sign(base[:, 1])
    base[:, 0] *= 1 - abs(yaw) * 0.3
    rot = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    corners = (base @ rot.T + [cx, cy]).astype(np.float32)
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners)
    warped = cv2.warpPerspective(plate, matrix, (W, H), flags=cv2.INTER_AREA)
    alpha = warped[..., 3:].astype(np.float32) / 255
    out: Any = frame.astype(np.float32) * (1 - alpha) + warped[..., :3].astype(np.float32) * alpha
    night = hard and rng.random() < 0.35
    if night:
        out = _night(out, corners, rng)
    elif rng.random() < (0.4 if hard else 0.25):
        out = _glare(out, corners, rng)
    sigma = rng.uniform(0.4, 1.4) if hard else rng.uniform(0, 0.8)
    if sigma > 0.2:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    noise = rng.uniform(3, 7) if hard else rng.uniform(1, 3)
    out += rng.normal(0, noise * (1.6 if night else 1.0), out.shape).astype(np.float32)
    img: Any = np.clip(out, 0, 255).astype(np.uint8)
    if hard and rng.random() < 0.5:  # a 480p call shown at 720p
        small = cv2.resize(img, (W * 2 // 3, H * 2 // 3), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    quality = int(rng.integers(18, 41)) if hard else int(rng.integers(65, 91))
    ok, data = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded: Any = cv2.imdecode(data, cv2.IMREAD_COLOR)
    result: RGB = np.ascontiguousarray(decoded[..., ::-1])
    return result, face


def _car(rng: np.random.Generator, size: tuple[int, int]) -> npt.NDArray[np.float32]:
    """A street behind, the painted back of a car in front: lights, a bumper, a grille."""
    W, H = size
    top = rng.uniform(60, 200, 3)
    low = rng.uniform(30, 120, 3)
    t = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    img = np.repeat(top * (1 - t) + low * t, W, axis=1).astype(np.float32)
    for _ in range(8):  # buildings, trees, other cars
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H // 2))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(40, 300)), y + int(rng.integers(40, 300))),
                      tuple(float(v) for v in rng.uniform(20, 230, 3)), -1)  # fmt: skip
    paint = tuple(float(v) for v in rng.uniform(10, 240, 3))
    x0, x1 = int(W * rng.uniform(0.02, 0.15)), int(W * rng.uniform(0.85, 0.98))
    y0 = int(H * rng.uniform(0.15, 0.3))
    cv2.rectangle(img, (x0, y0), (x1, H), paint, -1)
    cv2.rectangle(img, (x0 + 60, y0 + 10), (x1 - 60, y0 + int(H * 0.18)), (40.0, 45.0, 55.0), -1)
    for lx in (x0 + 30, x1 - 190):  # tail lights
        top_left, bottom_right = (lx, y0 + int(H * 0.22)), (lx + 160, y0 + int(H * 0.3))
        cv2.rectangle(img, top_left, bottom_right, (190.0, 20.0, 25.0), -1)
    for gy in range(int(H * 0.8), H, 14):  # bumper grooves
        cv2.line(img, (x0, gy), (x1, gy), tuple(0.6 * v for v in paint), 3)
    if rng.random() < 0.3:  # a sticker on the boot: Chinese words that are not a plate
        face, index = cjk_faces()[0]
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        font = ImageFont.truetype(str(face), 34, index=index)
        at = (x0 + 80, y0 + int(H * 0.33))
        ImageDraw.Draw(pil).text(at, "新手上路 请多关照", fill=(230, 30, 30), font=font)
        img = np.asarray(pil, np.float32).copy()
    return img


def _glare(img: npt.NDArray[np.float32], corners: npt.NDArray[np.float32],
           rng: np.random.Generator) -> npt.NDArray[np.float32]:  # fmt: skip
    """A patch of sunlight or a reflection over part of the plate."""
    H, W = img.shape[:2]
    x = float(rng.uniform(corners[:, 0].min(), corners[:, 0].max()))
    y = float(rng.uniform(corners[:, 1].min(), corners[:, 1].max()))
    r = float(np.ptp(corners[:, 0])) * rng.uniform(0.15, 0.4)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    light = np.exp(-(((xx - x) ** 2) / (2 * r * r) + ((yy - y) ** 2) / (0.5 * r * r)))
    gain = rng.uniform(90, 170)
    out: npt.NDArray[np.float32] = img + gain * light[..., None]
    return out


def _night(img: npt.NDArray[np.float32], corners: npt.NDArray[np.float32],
           rng: np.random.Generator) -> npt.NDArray[np.float32]:  # fmt: skip
    """Dark street, the plate under its lamp, two headlights of a car behind the camera's
    shoulder blooming in the picture."""
    H, W = img.shape[:2]
    dark = img * rng.uniform(0.15, 0.3)
    x0, x1 = corners[:, 0].min(), corners[:, 0].max()
    y0, y1 = corners[:, 1].min(), corners[:, 1].max()
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    lamp = np.exp(-(((xx - cx) / (x1 - x0 + 1)) ** 2 + ((yy - cy) / (2 * (y1 - y0) + 1)) ** 2))
    out = dark + img * lamp[..., None] * rng.uniform(0.4, 0.8)
    for hx in (rng.uniform(0, 0.3) * W, rng.uniform(0.7, 1.0) * W):
        hy = rng.uniform(0.2, 0.6) * H
        r = rng.uniform(25, 60)
        bloom = np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / (2 * r * r))
        out += 255 * bloom[..., None] * np.array([1.0, 0.97, 0.85], np.float32)
    result: npt.NDArray[np.float32] = out
    return result
