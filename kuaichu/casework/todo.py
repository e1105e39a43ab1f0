"""The officer's to-do list (issue 12): the cases that wait for them, not for the parties.

- ``new_version``: a review decided "revised": the officer issues the new version;
- ``approve_agreement``: every party confirmed the self-negotiated agreement: approve it;
- ``determination``: the call is over (information taken, maybe the scene cleared) and the
  determination is not issued yet;
- ``decide_review`` (supervisors): a party requested a review.

An officer sees their own cases (the ones whose calls they answered); a supervisor also every
open review request. Read from the stored case rows and forms: the names and plates are shown
so the officer recognises the case without opening it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kuaichu.accounts.model import Officer
from kuaichu.cases.states import CaseState
from kuaichu.storage.casefiles import CaseStore

# The case states that wait for the officer who handled the case, and what each asks of them.
KIND_OF: Final[Mapping[str, str]] = {
    CaseState.REVIEW_DECIDED.value: "new_version",
    CaseState.AGREEMENT_CONFIRMED.value: "approve_agreement",
    CaseState.EVIDENCE_COLLECTED.value: "determination",
    CaseState.SCENE_CLEARED.value: "determination",
}
# Most urgent first: a party waits on each, the review and agreement for days already.
ORDER: Final = ("decide_review", "new_version", "approve_agreement", "determination")
LIMIT: Final = 200


async def todo(store: CaseStore, officer: Officer) -> list[dict[str, Any]]:
    """The open items for ``officer``, most urgent kind first, oldest case first within a kind."""
    rows = await store.recent_cases(officer.id, limit=LIMIT, status=list(KIND_OF))
    items: list[tuple[str, float, str]] = [
        (KIND_OF[r["status"]], r["created_at"], r["id"]) for r in rows
    ]
    if officer.is_supervisor:
        for request in await store.review_requests():
            items.append(("decide_review", request.requested_at.timestamp(), request.case_id))
    items.sort(key=lambda i: (ORDER.index(i[0]), i[1], i[2]))
    out = []
    for kind, at, case_id in items:
        form = (await store.form(case_id)).form
        out.append(
            {
                "kind": kind,
                "case_id": case_id,
                "since": at,
                "parties": [
                    {"key": p.key, "name": p.name, "plate": p.plate} for p in form.parties
                ],
            }
        )
    return out


async def case_list(store: CaseStore, officer: Officer, *, every: bool) -> list[dict[str, Any]]:
    """我的案件 (issue 12): the recent cases as the list shows them, newest first, each with
    its parties' names and plates and what it waits for from this officer (``action``, a
    :data:`KIND_OF` kind, or ``decide_review`` for a supervisor; None when nothing)."""
    rows = await store.recent_cases(None if every else officer.id, limit=100)
    reviews = (
        {r.case_id for r in await store.review_requests()} if officer.is_supervisor else set()
    )
    mine = None if not every else {r["id"] for r in await store.recent_cases(officer.id, 100)}
    out = []
    for r in rows:
        form = (await store.form(r["id"])).form
        action = KIND_OF.get(r["status"]) if mine is None or r["id"] in mine else None
        if r["id"] in reviews:
            action = "decide_review"
        out.append(
            {
                "id": r["id"],
                "status": r["status"],
                "created_at": r["created_at"],
                "lat": r["lat"],
                "lng": r["lng"],
                "parties": [
                    {"key": p.key, "name": p.name, "plate": p.plate} for p in form.parties
                ],
                "action": action,
            }
        )
    return out
