"""The evidence kinds and their labels: the one table every other place reads.

A kind the officer captures (a console button, a digit key, a phone-still request) is one line
in :data:`KINDS`; its digit is its position among the captured kinds, so the buttons, the
keys, the stored ``kind``, the page labels (``evi_kind_<key>`` in the page strings, through
:func:`labels`) and the text a determination lists (:func:`ledger_text`) all follow from it.
The rows with ``captured=False`` are the other files a case folder's manifest lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypedDict


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of evidence file: its stored key and its label in each page language."""

    key: str
    zh: str  # zh-CN: pages, and the evidence list of a determination
    en: str
    captured: bool = True  # the officer captures it from the call (button, digit key)

    def label(self, lang: str) -> str:
        """The label in ``lang`` ("zh-CN" or "en"; anything else gets Chinese)."""
        return self.en if lang == "en" else self.zh


KINDS: Final[tuple[EvidenceKind, ...]] = (
    # Captured by the officer, in button order (digit keys 1, 2, …).
    EvidenceKind("plate", "号牌", "Plate"),
    EvidenceKind("damage", "碰撞部位", "Damage"),
    EvidenceKind("scene", "车辆及现场", "Vehicles/scene"),
    EvidenceKind("parties", "双方同框", "Both parties"),  # 并排同框: both vehicles in one frame
    EvidenceKind("licence", "证件", "Licence"),  # licence or document held to the camera
    # Other files of the case folder: a phone still is listed under this kind (its captured
    # kind is in the entry's meta), then the call recordings and issued documents.
    EvidenceKind("phone_still", "手机照片", "Phone photo", captured=False),
    EvidenceKind("recording", "通话录像", "Call recording", captured=False),
    EvidenceKind("document", "认定书", "Determination", captured=False),
)

BY_KEY: Final[dict[str, EvidenceKind]] = {k.key: k for k in KINDS}
CAPTURED: Final[tuple[EvidenceKind, ...]] = tuple(k for k in KINDS if k.captured)
# What a capture's ``kind`` may be (the console's buttons, in order).
CAPTURE_KINDS: Final[tuple[str, ...]] = tuple(k.key for k in CAPTURED)

if len(CAPTURED) > 9 or len(BY_KEY) != len(KINDS):
    raise RuntimeError("evidence kinds: at most nine captured kinds (digit keys), keys unique")


class CaptureButton(TypedDict):
    """One capture button of the console: what the page needs to draw it and bind its key."""

    key: str
    digit: int
    label: str


def shortcut(key: str) -> int:
    """The digit key that captures ``key`` in the console (1-based button position)."""
    return CAPTURE_KINDS.index(key) + 1


def capture_buttons(lang: str) -> list[CaptureButton]:
    """The console's capture buttons in order, labelled in ``lang``."""
    return [CaptureButton(key=k.key, digit=shortcut(k.key), label=k.label(lang)) for k in CAPTURED]


def labels(lang: str) -> dict[str, str]:
    """``{key: label}`` of the captured kinds in ``lang`` ("zh-CN" or "en"): the page strings
    expose them as ``evi_kind_<key>``."""
    return {k.key: k.label(lang) for k in CAPTURED}


def ledger_text(kind: str) -> str:
    """The Chinese text a determination lists for a manifest kind; an unknown kind as is."""
    found = BY_KEY.get(kind)
    return found.zh if found is not None else kind
