"""The parties of two reports of one accident as one list (pure): what linking a re-report
writes into the surviving case's form (issue 12).

One person is one party: a party of the linked case that has the phone or the ID number of a
party already in the form *is* that party. Its fields fill the ones the form left empty and
never overwrite what the officer already typed; its progress links follow it to that key.
Everyone else joins under the next free key, still marked as a reporter if they called (the
panel lets the officer remove them again: see :func:`caller_key`).
"""

from __future__ import annotations

from dataclasses import replace

from ..cases.form import CaseForm, Party
from ..cases.identity import norm_id, norm_phone

# The fields a linked-in duplicate may fill when the surviving party left them empty.
_FILLABLE = ("name", "phone", "licence_no", "plate", "vehicle_type", "insurer", "policy_no")


def same_person(a: Party, b: Party) -> bool:
    """Same mobile number or same ID number (normalised as the identity index spells them)."""
    phone = norm_phone(a.phone)
    if phone and phone == norm_phone(b.phone):
        return True
    number = norm_id(a.licence_no)
    return bool(number) and number == norm_id(b.licence_no)


def merge_parties(mine: CaseForm, theirs: CaseForm) -> tuple[CaseForm, dict[str, str]]:
    """``mine`` with the parties of ``theirs`` merged in, and where each of theirs went
    (their key -> key in the result)."""
    form = mine
    where: dict[str, str] = {}
    for p in theirs.parties:
        existing = next((q for q in form.parties if same_person(q, p)), None)
        if existing is not None:
            fill = {name: getattr(p, name) for name in _FILLABLE if not getattr(existing, name)}
            if fill.get("plate") and any(q.plate == fill["plate"] for q in form.parties):
                del fill["plate"]  # a plate is one party's only
            form = form.with_party(replace(existing, **fill))
            where[p.key] = existing.key
            continue
        key = form.next_key()
        plate = p.plate if not any(q.plate == p.plate for q in form.parties) else ""
        form = form.with_party(replace(p, key=key, plate=plate, fault="", liability=None))
        where[p.key] = key
    return form, where


def caller_key(form: CaseForm) -> str | None:
    """The case's own caller (the first reporting party): the one party the panel does not
    offer to remove. A reporting party linked in from another report stays removable."""
    return next((p.key for p in form.parties if p.reporter), None)


def removable(form: CaseForm) -> list[str]:
    """The parties the officer may remove."""
    keep = caller_key(form)
    return [p.key for p in form.parties if p.key != keep]
