"""The console's plate proposal line: does the plate read from a still match a declared one?

A two-car case has two plates: the one read may be either party's, or the car of the party
whose plate nobody has typed yet. Only when every party has declared a plate and the reader is
sure it saw none of them is there a mismatch for the officer to look at; an unsure reading is
shown as unsure, with its alternatives, never as a mismatch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict


class PlateProposal(TypedDict):
    """The plate reader's best reading of a still, proposed to the officer."""

    plate: str  # canonical (kuaichu.cases.plates)
    colour: str
    confidence: float
    box: list[int]  # x, y, w, h in the still
    # Stored rows from before these two fields are taken as sure, without alternatives.
    sure: NotRequired[bool]  # the reader stands by it (kuaichu.media.plate_reader)
    alternatives: NotRequired[list[str]]  # canonical; what else it may be, likeliest first


class PlateCheck(TypedDict):
    """``status``:

    - none: nothing read;
    - matches: ``party`` declared the plate read (or, for an unsure reading, one of its
      alternatives: then ``plate`` says which);
    - propose: a sure reading nobody declared; ``party`` is the first without a plate;
    - unsure: the reader is not sure; ``plates`` are the reading and its alternatives,
      ``party`` the first without a plate (or None);
    - mismatch: a sure reading, and every party declared another plate (``declared``)."""

    status: Literal["none", "matches", "mismatch", "propose", "unsure"]
    party: NotRequired[str | None]
    plate: NotRequired[str]
    plates: NotRequired[list[str]]
    declared: NotRequired[list[str]]


def plate_check(
    proposal: PlateProposal | Mapping[str, Any] | None, parties: Sequence[Mapping[str, Any]]
) -> PlateCheck:
    """The console's proposal line for ``proposal`` against the case form's ``parties``
    (``{"key", "plate"}`` each, the plate canonical or empty)."""
    if not proposal:
        return {"status": "none"}
    seen = proposal["plate"]
    sure = bool(proposal.get("sure", True))
    alternatives = [str(a) for a in proposal.get("alternatives") or () if a != seen]
    by_plate = {str(p["plate"]): str(p["key"]) for p in parties if p.get("plate")}
    if seen in by_plate:
        return {"status": "matches", "party": by_plate[seen]}
    empty = next((str(p["key"]) for p in parties if not p.get("plate")), None)
    if not sure:
        for alt in alternatives:
            if alt in by_plate:
                return {"status": "matches", "party": by_plate[alt], "plate": alt}
        return {"status": "unsure", "party": empty, "plates": [seen, *alternatives]}
    if empty is not None or not by_plate:
        return {"status": "propose", "party": empty}
    return {"status": "mismatch", "declared": list(by_plate)}
