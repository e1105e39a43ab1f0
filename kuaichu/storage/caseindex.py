"""The identity index: what the insurer scope, the API's change feed and the fraud rules match
cases on, kept in two tables beside the forms so that no query parses forms in bulk.

* ``case_index`` — one row per (case, kind, value, party) of :mod:`kuaichu.cases.identity`:
  each party's plate, ID number, phone and insurer, and the case's declared place and time.
  :func:`reindex` rewrites a case's rows from its form; :meth:`CaseStore.write_form
  <kuaichu.storage.casefiles.CaseStore.write_form>` calls it in its transaction, and every
  form write goes through that method (the report's initial form, a photo report's, the
  officer's saves, a link's merged form, the closing step's).
* ``case_changes`` — each case's last change (its last audit entry that is not a read);
  :func:`touch` is called by :meth:`Database._insert_audit
  <kuaichu.storage.db.Database._insert_audit>`, the one writer of audit rows.

:func:`backfill` fills both from an existing database (migration 10).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.actions import AuditAction
from ..cases.form import CaseForm
from ..cases.identity import Kind, party_keys
from ..cases.trail import AuditEntry
from ..errors import InvalidMessage
from ..insurers.model import normalise_name
from .tables import case_audit, case_changes, case_files, case_index

logger = logging.getLogger(__name__)

# Trail entries that are reads, not changes: they do not move a case up the change feed (a
# read would otherwise make the case "changed" for the reader itself, for ever).
READ_ACTIONS: Final = frozenset({AuditAction.API_READ.value, "insurer_viewed"})
_CHUNK: Final = 500


def index_rows(case_id: str, form: CaseForm) -> list[dict[str, str]]:
    """The index rows of one form."""
    seen: set[tuple[str, str, str]] = set()
    for party in form.parties:
        keys = party_keys(party.plate, party.licence_no, party.phone)
        insurer = normalise_name(party.insurer) if party.insurer.strip() else ""
        if insurer:
            keys.append((Kind.INSURER, insurer[:80]))
        seen.update((kind.value, value, party.key) for kind, value in keys)
    if form.lat is not None and form.lng is not None:
        seen.add((Kind.PLACE.value, f"{form.lat!r},{form.lng!r}", ""))
    if form.occurred_at is not None:
        seen.add((Kind.OCCURRED.value, repr(form.occurred_at.timestamp()), ""))
    return [
        {"case_id": case_id, "kind": kind, "value": value, "party": party}
        for kind, value, party in sorted(seen)
    ]


async def reindex(conn: AsyncConnection, case_id: str, form: CaseForm) -> None:
    """Inside the form write's transaction: the case's rows as ``form`` has them."""
    await conn.execute(delete(case_index).where(case_index.c.case_id == case_id))
    rows = index_rows(case_id, form)
    if rows:
        await conn.execute(insert(case_index), rows)


async def touch(conn: AsyncConnection, case_id: str, entry: AuditEntry) -> None:
    """Inside the audit entry's transaction: the case changed at the entry's time, unless
    the entry is a read. (The trail's times never go back: ``_not_before``.)"""
    if entry.what in READ_ACTIONS:
        return
    at = entry.when.timestamp()
    done = await conn.execute(
        update(case_changes).where(case_changes.c.case_id == case_id).values(changed_at=at)
    )
    if done.rowcount == 0:
        await conn.execute(insert(case_changes).values(case_id=case_id, changed_at=at))


def _parse(case_id: str, data: str) -> CaseForm | None:
    try:
        return CaseForm.parse(json.loads(data))
    except (ValueError, InvalidMessage):
        # Such a form is hidden from insurers and the fraud rules, as before the index.
        logger.warning("case %s: stored form does not parse; not indexed", case_id)
        return None


def backfill(conn: Connection, case_ids: Iterable[str] | None = None) -> int:
    """Rebuild both tables from the stored forms and trails (all cases, or ``case_ids``);
    returns the number of forms indexed. Synchronous (``run_sync``): the migration's step,
    also used by tools that write forms straight into the tables (benchmarks, seeds)."""
    chosen = None if case_ids is None else list(case_ids)
    if chosen is None:
        conn.execute(delete(case_index))
        conn.execute(delete(case_changes))
    else:
        for start in range(0, len(chosen), _CHUNK):
            part = chosen[start : start + _CHUNK]
            conn.execute(delete(case_index).where(case_index.c.case_id.in_(part)))
            conn.execute(delete(case_changes).where(case_changes.c.case_id.in_(part)))
    indexed = 0
    last = ""
    while True:
        query = (
            select(case_files.c.case_id, case_files.c.data)
            .where(case_files.c.case_id > last)
            .order_by(case_files.c.case_id)
            .limit(_CHUNK)
        )
        if chosen is not None:
            query = query.where(case_files.c.case_id.in_(chosen))
        page = conn.execute(query).all()
        rows: list[dict[str, Any]] = []
        for case_id, data in page:
            form = _parse(case_id, data)
            if form is not None:
                rows.extend(index_rows(case_id, form))
                indexed += 1
        if rows:
            conn.execute(insert(case_index), rows)
        if len(page) < _CHUNK:
            break
        last = page[-1][0]
    last_seq = (
        select(case_audit.c.case_id, func.max(case_audit.c.seq).label("seq"))
        .where(case_audit.c.what.not_in(READ_ACTIONS))
        .group_by(case_audit.c.case_id)
    )
    if chosen is not None:
        last_seq = last_seq.where(case_audit.c.case_id.in_(chosen))
    sub = last_seq.subquery()
    changes = [
        {"case_id": case_id, "changed_at": datetime.fromisoformat(when).timestamp()}
        for case_id, when in conn.execute(
            select(case_audit.c.case_id, case_audit.c.when).join(
                sub, and_(case_audit.c.case_id == sub.c.case_id, case_audit.c.seq == sub.c.seq)
            )
        )
    ]
    for start in range(0, len(changes), _CHUNK):
        conn.execute(insert(case_changes), changes[start : start + _CHUNK])
    return indexed
