"""The case form: the initial form written with the report, and the officer's saves."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import DRIVER, officer_actor
from ..cases.eligibility import AccidentCause
from ..cases.form import (
    CaseForm,
    changed_fields,
    initial_form,
    missing_for_information,
)
from ..cases.form_edit import parse_edit
from ..cases.states import AuditEntry
from ..errors import Conflict, InvalidMessage
from ..notify import Template
from ..storage.casefiles import StoredForm
from .context import CaseContext
from .links import LinkGuard, replaced_phones


def require_complete(form: CaseForm) -> None:
    """Refuse a step that needs the whole form (information complete, the determination)."""
    missing = missing_for_information(form)
    if missing:
        raise Conflict(
            "the case form is incomplete: " + ", ".join(missing[:8]),
            reason="form_incomplete",
            missing=missing,
        )


class FormStep:
    """The report's initial form and the officer's saves of the form."""

    def __init__(self, ctx: CaseContext, links: LinkGuard) -> None:
        self.ctx = ctx
        self.links = links

    async def reported(
        self,
        conn: AsyncConnection,
        case_id: str,
        phone: str | None,
        cause: AccidentCause | None,
        at: datetime,
        location: Mapping[str, float] | None,
    ) -> str:
        """Inside the report's transaction: the initial form (the caller is party A), the
        caller's progress link, and the "queued" SMS when the page gave a phone number."""
        ctx = self.ctx
        loc = location or {}
        form = initial_form(phone, cause, at, loc.get("lat"), loc.get("lng"))
        await ctx.store.write_form(conn, case_id, 0, form, DRIVER)
        reporter = form.parties[0]
        token = await ctx.store.new_link(conn, case_id, reporter.key, reporter.phone or None)
        if reporter.phone:
            await ctx.notify(conn, case_id, reporter, Template.QUEUED, "report")
        return token

    async def save_form(
        self, officer: Officer, case_id: str, revision: int, raw: object
    ) -> StoredForm:
        """Save the officer's edit of the form based on ``revision`` (409 if stale)."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id)
        state = await ctx.state(case_id)
        if state.terminal:
            raise Conflict(
                f"the case is {state.value}; the form can no longer change", reason="case_closed"
            )
        # After a determination the form may still change: the issued document is frozen in
        # its own row, and a correction is issued as a new version from the edited form.
        stored = await ctx.store.form(case_id)
        if stored.revision != revision:
            raise Conflict("the case form was changed meanwhile; reload it", reason="stale_form")
        # Every valid field is saved; the invalid ones keep their stored value and are all
        # reported at once, after the save (issue 12).
        edit = parse_edit(raw, stored.form)
        saved = await self._save(officer, case_id, revision, stored, edit.form)
        if edit.errors:
            first = edit.errors[0]
            raise InvalidMessage(
                f"{len(edit.errors)} field(s) not saved: {first.message}",
                field=first.field,
                reason=first.code,
                errors=[e.to_dict() for e in edit.errors],
                revision=saved.revision,
                missing=missing_for_information(saved.form),
            )
        return saved

    async def _save(
        self, officer: Officer, case_id: str, revision: int, stored: StoredForm, form: CaseForm
    ) -> StoredForm:
        ctx = self.ctx
        changed = changed_fields(stored.form, form)
        if not changed:
            return stored
        who = officer_actor(officer.id)
        new_revision = 0
        # A corrected phone number: the old number's links stop working in this transaction
        # and the new number gets a new link.
        replaced = replaced_phones(stored.form, form)

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            nonlocal new_revision
            new_revision = await ctx.store.write_form(conn, case_id, revision, form, who)
            if replaced:
                await self.links.rotate(conn, case_id, form, replaced, f"rev{revision + 1}")

        detail: dict[str, object] = {"revision": revision + 1, "changed": changed[:60]}
        if replaced:
            detail["links_replaced"] = replaced
        await ctx.action(case_id, AuditAction.FORM_SAVED, who, detail, extra=write)
        if replaced:
            ctx.doorbell.ring()
        return StoredForm(new_revision, form, time.time(), who)
