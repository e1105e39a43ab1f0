"""The small plates' province net: its input and its shipped graph. What it reads is tested
through the reader (tests/media/test_plate_reader.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kuaichu.errors import MediaError
from kuaichu.media.plate_reader.models import one_thread_session
from kuaichu.media.plate_reader.province import net_view
from kuaichu.media.plate_reader.province_net import (
    CLASSES,
    CROP_SIZE,
    WEIGHTS,
    ProvinceNet,
    normalise,
)


def test_a_blue_plates_white_ink_is_turned_dark_like_every_other_plates() -> None:
    blue = np.full((48, 32), 40, np.uint8)
    blue[10:38, 12:20] = 230  # a white stroke
    yellow = 255 - blue
    np.testing.assert_allclose(normalise(blue, "blue"), normalise(yellow, "yellow"), atol=1e-5)
    assert normalise(blue, "blue")[20, 15] < 0 < normalise(blue, "blue")[5, 5]


def test_the_shipped_weights_load_and_give_a_distribution_over_the_classes() -> None:
    net = ProvinceNet(one_thread_session(WEIGHTS))
    rng = np.random.default_rng(0)
    crops = [rng.normal(size=(CROP_SIZE[1], CROP_SIZE[0])).astype(np.float32) for _ in range(3)]
    p = net.probabilities(crops)
    assert p.shape == (3, len(CLASSES))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_a_graph_trained_for_other_classes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The classes are the graph's own metadata: a net from before a province was added (or
    reordered) would read every province as its neighbour."""
    import kuaichu.media.plate_reader.province_net as module

    monkeypatch.setattr(module, "CLASSES", (*CLASSES[:-2], CLASSES[-1]))
    with pytest.raises(MediaError, match="trained for other classes"):
        ProvinceNet(one_thread_session(WEIGHTS))


def test_crops_that_all_say_no_province_do_not_vote_for_their_favourite() -> None:
    """The grid a cell off or a plate's grimy left end: every crop says "none", yet each has a
    favourite province. That favourite must not outvote the recogniser (a close 湘AT3597 was
    proposed as 沪, sure, when it did); one crop that does show a province votes in full."""
    n = len(CLASSES) - 1
    hu = CLASSES.index("沪")
    unsure = np.full((14, len(CLASSES)), 0.1 / n, np.float32)
    unsure[:, -1] = 0.8
    unsure[:, hu] += 0.1
    assert net_view(unsure) is None
    shown = unsure.copy()
    shown[3] = 0.0
    shown[3, CLASSES.index("湘")] = 0.9
    shown[3, -1] = 0.1
    view = net_view(shown)
    assert view is not None and CLASSES[int(view.argmax())] == "湘"
