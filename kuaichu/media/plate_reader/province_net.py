"""A small classifier of the province character on a small plate: 31 provinces and "none".

The general recogniser reads a province well down to ~20 px of character height; below it (a
plate 90-150 px wide, a 480p call upscaled, heavy JPEG) its views disagree and the province is
a guess. This net was trained for exactly that picture: the province cell cut through the
plate's grid, 9-30 px of glyph blurred, noisy and JPEG-compressed, drawn in the Noto Sans CJK
faces only (neither benchmark generator's faces), with the grid off by up to a few millimetres.
Its "none" class is the cell cut a whole character off (the authority letter, the holder): the
grid then missed the province, and the net's view must not vote.

The graph and weights are ``province_net.onnx`` beside this file (~400 KiB), made by
``scripts/train_province_net.py`` (torch, not a dependency of the server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from kuaichu.errors import MediaError

from .arrays import F32, U8
from .grammar import PROVINCE_CHARS

# The plate region the net sees, in millimetres (the province's cell is x 15.5..60.5, y 25..115),
# and the size it is resampled to.
CROP_MM: Final = (2.0, 12.0, 74.0, 128.0)
CROP_SIZE: Final = (32, 48)  # w, h
CLASSES: Final = (*PROVINCE_CHARS, "")  # "" = no province in the crop
WEIGHTS: Final = Path(__file__).with_name("province_net.onnx")


def normalise(gray: U8, colour: str) -> F32:
    """The crop as the net takes it: ink dark whatever the plate (a blue plate's is white),
    zero mean, unit contrast."""
    x = gray.astype(np.float32)
    if colour == "blue":
        x = 255.0 - x
    x -= float(x.mean())
    x /= max(float(x.std()), 8.0)
    return x


def to_gray(bgr_crop: U8) -> U8:
    return np.asarray(cv2.cvtColor(bgr_crop, cv2.COLOR_BGR2GRAY), np.uint8)


class ProvinceNet:
    """Conv 3x3 (batch norm folded in) + ReLU + 2x2 max pool, three times; a fourth conv; a
    linear layer to the classes; softmax. Run by onnxruntime on one thread, like the PP-OCR
    models (numpy's BLAS would take the second core behind the server's back); loaded with
    them (:class:`~.models.Models`)."""

    def __init__(self, session: Any) -> None:
        """``session``: an onnxruntime session of :data:`WEIGHTS` (models.one_thread_session)."""
        self.session = session
        classes = session.get_modelmeta().custom_metadata_map.get("classes")
        if classes != "".join(CLASSES):
            raise MediaError(f"the province net was trained for other classes: {classes!r}")

    def probabilities(self, crops: list[F32]) -> F32:
        """Softmax over :data:`CLASSES` for each normalised crop (H x W of :data:`CROP_SIZE`)."""
        x = np.stack(crops)[:, None].astype(np.float32)  # N, 1, H, W
        out: F32 = self.session.run(None, {"x": x})[0]
        return out
