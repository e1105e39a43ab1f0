"""The console's plate proposal line: does the plate read from a still match a declared one?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict


class PlateProposal(TypedDict):
    """The plate reader's best reading of a still, proposed to the officer."""

    plate: str  # canonical (kuaichu.cases.plates)
    colour: str
    confidence: float
    box: list[int]  # x, y, w, h in the still


class PlateCheck(TypedDict):
    """``status``: none (nothing read), matches (``party`` declared it), mismatch (the parties
    declared ``declared``, not this one), propose (``party``: the first without a plate)."""

    status: Literal["none", "matches", "mismatch", "propose"]
    party: NotRequired[str | None]
    declared: NotRequired[list[str]]


def plate_check(
    proposal: PlateProposal | Mapping[str, Any] | None, parties: Sequence[Mapping[str, Any]]
) -> PlateCheck:
    """The console's proposal line: which party declared the plate that was read, or that
    none did (a mismatch the officer must look at)."""
    if not proposal:
        return {"status": "none"}
    seen = proposal["plate"]
    for p in parties:
        if p.get("plate") == seen:
            return {"status": "matches", "party": p["key"]}
    declared = [p for p in parties if p.get("plate")]
    if declared:
        return {"status": "mismatch", "declared": [p["plate"] for p in declared]}
    empty = next((p["key"] for p in parties if not p.get("plate")), None)
    return {"status": "propose", "party": empty}
