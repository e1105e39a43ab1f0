"""The province character, from the recogniser's views of the whole strip and of the plate's left
end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from .arrays import F32, U8
from .grammar import PROVINCE_CHARS, Fold
from .grid import STRIP_X_MARGIN, STRIP_Y, Prepared, cut
from .models import REC_HEIGHT
from .province_net import CROP_MM, CROP_SIZE, normalise, to_gray

# The province is the recogniser's, as every other character: a general Chinese OCR trained on
# real text reads 湘, 鄂 or 甘 whatever the face, where a template drawn from one font reads the
# face. On a small plate it now and then skips the character in the whole strip, so it also
# reads the plate's left end alone (the province and the authority letter), cut twice: from
# the refined grid, and from the candidate's own corners with the characters widened (the
# refinement sometimes locks one cell off). The three opinions multiply.
HEAD_VIEWS: Final = (  # (x1 mm, stretch, grid): the strip runs from x = -6 mm
    (125.0, 1.0, "refined"),
    (70.0, 1.6, "unrefined"),
)
_PROVINCE_FLOOR: Final = 1e-3  # a view that saw nothing does not veto the others
# The province net's view weighs as one of the recogniser's: at twice that, wrong provinces were
# proposed as sure (precision 96.8 -> 83.8 % on the second generator's hard scenes).
NET_WEIGHT: Final = 1.0


# A two-row plate's province: the upper row's left half, cut tight and loose.
_TWO_ROW_HEADS: Final = ((90.0, 4.0, 235.0, 84.0), (70.0, 0.0, 250.0, 88.0))


def head_strips(bgr: U8, item: Prepared) -> list[U8]:
    strips: list[U8] = []
    if item.candidate.rows == 2:
        for region in _TWO_ROW_HEADS:
            aspect = (region[2] - region[0]) / (region[3] - region[1])
            width = max(32, round(REC_HEIGHT * aspect * 0.75))
            strips.append(cut(bgr, item.to_frame, region, (width, REC_HEIGHT)))
        return strips
    for x1, stretch, grid in HEAD_VIEWS:
        region = (-STRIP_X_MARGIN, STRIP_Y[0], x1, STRIP_Y[1])
        aspect = (region[2] - region[0]) / (region[3] - region[1])
        width = max(32, round(REC_HEIGHT * aspect * stretch))
        to_frame = item.to_frame if grid == "refined" else item.unrefined
        strips.append(cut(bgr, to_frame, region, (width, REC_HEIGHT)))
    return strips


# Where the net looks: the province cell through either grid, shifted along the plate by up to
# a third of a character pitch either way (on a plate 90-150 px wide the grid's fit is off by
# 5-20 mm; the net, trained on fits off by a few mm, calls a cell it does not see "none").
SCAN_MM: Final = (-21.0, -14.0, -7.0, 0.0, 7.0, 14.0, 21.0)


def net_crops(bgr: U8, item: Prepared) -> list[F32]:
    """The province cell as :class:`ProvinceNet` takes it, through the refined grid and the
    candidate's own corners, at each shift of :data:`SCAN_MM`; none for a two-row plate (the
    net knows one-row plates only)."""
    if item.candidate.rows == 2:
        return []
    crops = []
    for to_frame in (item.to_frame, item.unrefined):
        for dx in SCAN_MM:
            shifted = to_frame @ np.array([[1.0, 0.0, dx], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            crops.append(normalise(to_gray(cut(bgr, shifted, CROP_MM, CROP_SIZE)), item.colour))
    return crops


# The net votes only if one of its crops shows a province at least this surely: crops that all
# say "none" (the grid a cell off, a plate's grimy left end) still have a favourite province,
# and its weights, however small, were normalised into a full vote (a close 湘AT3597 whose left
# end lost its blue was proposed as 沪 at 0.66 by the net of the sixth round).
NET_SHOWN_MIN: Final = 0.5


def net_view(probs: F32) -> F32 | None:
    """The 31 provinces' view of one candidate from its crops' class probabilities: each crop
    weighs by how surely it shows a province; None when none does (the net does not vote)."""
    if len(probs) == 0:
        return None
    n = len(PROVINCE_CHARS)
    shown = 1.0 - probs[:, n]
    weights = shown**4
    if float(shown.max()) < NET_SHOWN_MIN:
        return None
    view: F32 = ((weights[:, None] * probs[:, :n]).sum(axis=0) / weights.sum()).astype(np.float32)
    view /= max(float(view.sum()), 1e-6)
    return view


def province_posterior(
    fold: Fold, whole: F32, heads: list[F32], nets: Sequence[F32] = ()
) -> tuple[F32, float]:
    """The 31 provinces' posterior from the whole strip's aligned frames, the head strips and
    the province net's views; and the strongest single sighting of the winner (how much any
    view saw it at all)."""
    cols = np.array([fold.column[c] for c in PROVINCE_CHARS])
    views = [np.minimum(whole, 1.0)]
    for probs in heads:
        views.append(fold(probs)[:, cols].max(axis=0))
    logp = np.sum([np.log(_unseen_spread(v) + _PROVINCE_FLOOR) for v in views], axis=0)
    for v in nets:
        logp += NET_WEIGHT * np.log(v + _PROVINCE_FLOOR)
    views.extend(nets)
    posterior: F32 = np.exp(logp - logp.max()).astype(np.float32)
    posterior /= posterior.sum()
    best = int(posterior.argmax())
    return posterior, float(max(v[best] for v in views))


def _unseen_spread(view: F32) -> F32:
    """A recogniser view as a likelihood of each province: what it put on no province at all
    (a blank, a dot, the bolt it read as a letter) says nothing about which one it is, so it is
    spread evenly over the 31. Taken raw, a view that put 0.01 on 贵 and ~0 on the others
    favoured 贵 ten to one over each of them, and such views, none of which had seen a
    province, multiplied into one at 0.99 with the net's weak vote: a small 皖 of the second
    generator was proposed as 云, sure, at 0.92 (now 0.52, unsure; docs/benchmarks.md, plate
    reading, seventh round)."""
    unseen = max(0.0, 1.0 - float(view.sum()))
    spread: F32 = (view + unseen / len(view)).astype(np.float32)
    return spread
