"""The small plates' province net: its input and its shipped graph; and how the province's
views are combined. What it reads is tested through the reader
(tests/media/test_plate_reader.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kuaichu.errors import MediaError
from kuaichu.media.plate_reader.grammar import PROVINCE_CHARS, SERIAL, Fold
from kuaichu.media.plate_reader.models import one_thread_session
from kuaichu.media.plate_reader.province import net_view, province_posterior
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


# The recogniser's layout in small: blank, the plate's characters, one that is no plate's.
_ALPHABET = ["<blank>", *PROVINCE_CHARS, *SERIAL, "你", " "]


def _fold() -> Fold:
    return Fold(_ALPHABET, {ch: i for i, ch in enumerate(_ALPHABET)})


def _head(share: dict[str, float]) -> np.ndarray:
    """Four frames of a head strip's probabilities: blank, then the province's frame with
    ``share`` on those characters and the rest on a character that is no plate's."""
    probs = np.zeros((4, len(_ALPHABET)), np.float32)
    probs[[0, 2, 3], 0] = 1.0
    for ch, p in share.items():
        probs[1, _ALPHABET.index(ch)] = p
    probs[1, _ALPHABET.index("你")] = 1.0 - sum(share.values())
    return probs


def test_views_that_barely_saw_a_province_do_not_multiply_into_a_sure_one() -> None:
    """The whole strip and both head strips each put a sliver on 贵 and next to nothing on any
    other province: none of them saw one (with the net's weak vote, a small 皖 of the second
    generator was proposed as 云 at 0.92 when slivers were compared as they were). Seen
    clearly, a province stays sure."""
    fold = _fold()
    gui = PROVINCE_CHARS.index("贵")
    whole = np.full(len(PROVINCE_CHARS), 1e-4, np.float32)
    whole[gui] = 0.004
    slivers = [_head({"贵": 0.01}), _head({"贵": 0.14})]
    posterior, seen = province_posterior(fold, whole, slivers)
    assert PROVINCE_CHARS[int(posterior.argmax())] == "贵"
    assert float(posterior.max()) < 0.5 and seen == pytest.approx(0.14, abs=1e-3)

    clear = whole.copy()
    clear[gui] = 0.9
    posterior, _ = province_posterior(
        fold, clear, [_head({"贵": 0.8}), _head({"贵": 0.7, "冀": 0.1})]
    )
    assert PROVINCE_CHARS[int(posterior.argmax())] == "贵" and float(posterior.max()) > 0.95
