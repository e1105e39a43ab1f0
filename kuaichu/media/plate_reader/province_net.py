"""A small classifier of the province character on a small plate: 31 provinces and "none".

The general recogniser reads a province well down to ~20 px of character height; below it (a
plate 90-150 px wide, a 480p call upscaled, heavy JPEG) its views disagree and the province is
a guess. This net was trained for exactly that picture: the province cell cut through the
plate's grid, 9-30 px of glyph blurred, noisy and JPEG-compressed, drawn in the Noto Sans CJK
faces only (neither benchmark generator's faces), with the grid off by up to a few millimetres.
Its "none" class is the cell cut a whole character off (the authority letter, the holder): the
grid then missed the province, and the net's view must not vote.

The weights are ``province_net.npz`` beside this file, made by ``scripts/train_province_net.py``
(torch, not a dependency of the server); inference is plain numpy (~1 ms for a batch of views).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .arrays import F32, U8
from .grammar import PROVINCE_CHARS

# The plate region the net sees, in millimetres (the province's cell is x 15.5..60.5, y 25..115),
# and the size it is resampled to.
CROP_MM: Final = (2.0, 12.0, 74.0, 128.0)
CROP_SIZE: Final = (32, 48)  # w, h
CLASSES: Final = (*PROVINCE_CHARS, "")  # "" = no province in the crop
WEIGHTS: Final = Path(__file__).with_name("province_net.npz")


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
    """Conv 3x3 (folded batch norm) + ReLU + 2x2 max pool, three times; a fourth conv; a linear
    layer to the classes. Thread-safe (read-only weights)."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        with np.load(path) as data:
            self.convs = [
                (data[f"conv{i}.w"].astype(np.float32), data[f"conv{i}.b"].astype(np.float32))
                for i in range(4)
            ]
            self.fc = (data["fc.w"].astype(np.float32), data["fc.b"].astype(np.float32))

    def probabilities(self, crops: list[F32]) -> F32:
        """Softmax over :data:`CLASSES` for each normalised crop (H x W of :data:`CROP_SIZE`)."""
        x = np.stack(crops)[:, None].astype(np.float32)  # N, 1, H, W
        for i, (w, b) in enumerate(self.convs):
            x = np.maximum(_conv3x3(x, w, b), 0.0)
            if i < 3:
                n, c, h, ww = x.shape
                x = x[:, :, : h // 2 * 2, : ww // 2 * 2].reshape(n, c, h // 2, 2, ww // 2, 2)
                x = x.max(axis=(3, 5))
        flat = x.reshape(x.shape[0], -1)
        logits = flat @ self.fc[0].T + self.fc[1]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        out: F32 = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
        return out


def _conv3x3(x: F32, w: F32, b: F32) -> F32:
    """Same-padded 3x3 convolution (cross-correlation, as torch's) by one matrix product."""
    n, c, h, ww = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = sliding_window_view(padded, (3, 3), axis=(2, 3))  # n, c, h, w, 3, 3
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * ww, c * 9)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    result: F32 = out.reshape(n, h, ww, -1).transpose(0, 3, 1, 2)
    return result
