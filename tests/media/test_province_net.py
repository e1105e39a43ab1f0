"""The small plates' province net: its numpy inference and its weights. What it reads is tested
through the reader (tests/media/test_plate_reader.py)."""

from __future__ import annotations

import numpy as np

from kuaichu.media.plate_reader.province_net import (
    CLASSES,
    CROP_SIZE,
    ProvinceNet,
    _conv3x3,
    normalise,
)


def test_the_convolution_is_torchs_same_padded_cross_correlation() -> None:
    """The im2col product against the definition, on random numbers."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros((2, 4, 5, 4), np.float32)
    for n in range(2):
        for o in range(4):
            for i in range(5):
                for j in range(4):
                    expected[n, o, i, j] = (padded[n, :, i : i + 3, j : j + 3] * w[o]).sum() + b[o]
    np.testing.assert_allclose(_conv3x3(x, w, b), expected, rtol=1e-4, atol=1e-4)


def test_a_blue_plates_white_ink_is_turned_dark_like_every_other_plates() -> None:
    blue = np.full((48, 32), 40, np.uint8)
    blue[10:38, 12:20] = 230  # a white stroke
    yellow = 255 - blue
    np.testing.assert_allclose(normalise(blue, "blue"), normalise(yellow, "yellow"), atol=1e-5)
    assert normalise(blue, "blue")[20, 15] < 0 < normalise(blue, "blue")[5, 5]


def test_the_shipped_weights_load_and_give_a_distribution_over_the_classes() -> None:
    net = ProvinceNet()
    rng = np.random.default_rng(0)
    crops = [rng.normal(size=(CROP_SIZE[1], CROP_SIZE[0])).astype(np.float32) for _ in range(3)]
    p = net.probabilities(crops)
    assert p.shape == (3, len(CLASSES))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
