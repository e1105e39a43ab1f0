"""Re-reports of one accident proposed for linking (issue 12): for the case an officer works,
the other reports still in the queue or on a call that name the same plate, phone or ID
number, or were made from nearby, within a time window. The console shows them as a notice in
the case panel; linking itself stays the officer's click (:meth:`.closing.ClosingStep.link`)."""

from __future__ import annotations

import logging
from typing import Any, Final

from ..accounts.model import Officer
from ..cases.identity import Kind, norm_phone, party_keys
from ..errors import Forbidden
from ..fraud.rules import distance_km
from ..storage.casefiles import CaseStore
from .context import Access, CaseContext

logger = logging.getLogger(__name__)

# Two drivers of one accident call within minutes of each other; a driver whose call dropped
# calls back within the hour. Two hours covers both without proposing yesterday's cases.
WINDOW_S: Final = 2 * 3600.0
# Phone GPS on a roadside is good to tens of metres (the report's accuracy field); 300 m
# still catches a report made from the hard shoulder a little further on.
NEARBY_KM: Final = 0.3


async def link_candidates(ctx: CaseContext, officer: Officer, case_id: str) -> list[dict[str, Any]]:
    """The open reports this officer could link into ``case_id``, the strongest match first,
    each with why it was proposed (``plate``, ``phone``, ``id_number``, ``nearby``)."""
    row = await ctx.authorize(officer, case_id)
    store: CaseStore = ctx.store
    form = (await store.form(case_id)).form
    mine = {
        (kind.value, value)
        for p in form.parties
        for kind, value in party_keys(p.plate, p.licence_no, p.phone)
    }
    if row["reporter_phone"]:
        phone = norm_phone(row["reporter_phone"])
        if phone:
            mine.add((Kind.TEL.value, phone))
    found: list[dict[str, Any]] = []
    for other, keys in await store.open_reports_since(case_id, row["created_at"] - WINDOW_S):
        if other["created_at"] > row["created_at"] + WINDOW_S:
            continue
        theirs = set(keys)
        if other["reporter_phone"] and norm_phone(other["reporter_phone"]):
            theirs.add((Kind.TEL.value, norm_phone(other["reporter_phone"])))
        shared = {kind for kind, _ in mine & theirs}
        reasons = [
            name
            for kind, name in ((Kind.PLATE, "plate"), (Kind.TEL, "phone"), (Kind.ID, "id_number"))
            if kind in shared
        ]
        km = None
        lat, lng, olat, olng = row["lat"], row["lng"], other["lat"], other["lng"]
        if lat is not None and lng is not None and olat is not None and olng is not None:
            km = distance_km(lat, lng, olat, olng)
            if km <= NEARBY_KM:
                reasons.append("nearby")
        if not reasons:
            continue
        try:  # only what this officer may link: their own report or one nobody answered
            await ctx.authorize(officer, case_id, other["id"], action=Access.LINK)
        except Forbidden:
            continue
        found.append(
            {
                "case_id": other["id"],
                "status": other["status"],
                "created_at": other["created_at"],
                "reasons": reasons,
                "distance_m": None if km is None else round(km * 1000),
            }
        )
    found.sort(key=lambda c: (-len(c["reasons"]), abs(c["created_at"] - row["created_at"])))
    return found
