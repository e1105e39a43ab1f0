"""Verification of each party against the registry, the officer's decisions on what the
registry did not confirm, and "information complete" (信息采集完成), which needs both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import officer_actor
from ..cases.form import VEHICLE_TYPES, CaseForm, Party
from ..cases.states import AuditEntry, CaseEvent
from ..errors import Conflict, InvalidMessage, NotFound
from ..verification import Item, ItemStatus, PartyFacts, Registry
from .context import CaseContext, written_reason
from .form import require_complete

# The status a decision records for a vehicle confirmed under another type than declared.
MISMATCH: Final = "mismatch"


class VerificationStep:
    """Asks the registry, records the officer's decisions, and fixes the information."""

    def __init__(self, ctx: CaseContext, registry: Registry) -> None:
        self.ctx = ctx
        self.registry = registry

    async def verify(self, officer: Officer, case_id: str, party_key: str) -> dict[str, Any]:
        """Ask the registry about one party (licence, vehicle, insurance on the accident
        date). The registry may be slow or down: its answer says so item by item."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id)
        stored = await ctx.store.form(case_id)
        party = stored.form.party(party_key)
        if party is None:
            raise NotFound(f"no party {party_key} in this case")
        facts = party_facts(stored.form, party, ctx.config.zone)
        result = await self.registry.verify(facts)
        facts_dict = facts_as_dict(facts)
        result_dict = result.to_dict()
        who = officer_actor(officer.id)

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await ctx.store.add_verification(
                conn, case_id, party_key, self.registry.name, facts_dict, result_dict, who
            )

        await ctx.action(
            case_id,
            AuditAction.VERIFIED,
            who,
            {
                "party": party_key,
                "registry": self.registry.name,
                "items": {i.item.value: i.status.value for i in result.items},
            },
            extra=write,
        )
        return {"party": party_key, "facts": facts_dict, "result": result_dict}

    async def decide_item(
        self,
        officer: Officer,
        case_id: str,
        party_key: str,
        item: str,
        decision: str,
        reason: str,
    ) -> None:
        """The officer's explicit decision on an item the registry did not confirm: accept
        (e.g. the policy was shown on the call while the registry was down) or reject. A
        vehicle the registry confirmed under another type than the form declares is such an
        item too (e.g. accepted because the registry is out of date)."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id)
        try:
            which = Item(item)
        except ValueError:
            raise InvalidMessage("item must be licence, vehicle or insurance") from None
        if decision not in ("accept", "reject"):
            raise InvalidMessage("decision must be accept or reject", field="decision")
        reason = written_reason(reason, "reason")
        checks = await ctx.store.latest_verifications(case_id)
        check = checks.get(party_key)
        if check is None:
            raise Conflict(f"party {party_key} has not been checked yet")
        status = item_status(check["result"], which)
        declared: dict[str, str] = {}
        if status == ItemStatus.VALID.value:
            party = (await ctx.store.form(case_id)).form.party(party_key)
            if party is None or which is not Item.VEHICLE or type_mismatch(party, check) is None:
                raise Conflict(f"{which.value} of party {party_key} is verified; nothing to decide")
            # The decision is about this declared type: another one needs its own.
            status = MISMATCH
            declared = {"declared_type": party.vehicle_type}
        await ctx.action(
            case_id,
            AuditAction.VERIFICATION_DECISION,
            officer_actor(officer.id),
            {
                "party": party_key,
                "item": which.value,
                "status": status,
                "decision": decision,
                "reason": reason,
                "checked_at": check["checked_at"],
                # What was decided on: a later check of the same facts with the same answer
                # (the console re-checks on its own) keeps the decision (decision_applies).
                "facts": check["facts"],
                "answer": item_entry(check["result"], which),
                **declared,
            },
        )

    async def complete_information(self, officer: Officer, case_id: str) -> AuditEntry:
        """Information and evidence are fixed (信息采集完成): the form is complete and every
        party is verified against the current form, each unverified item accepted by the
        officer. This is the first of the two advertised timings."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id)
        stored = await ctx.store.form(case_id)
        require_complete(stored.form)
        blockers = await self.blockers(case_id, stored.form)
        if blockers:
            raise Conflict(
                "verification is not settled: " + "; ".join(blockers[:6]),
                reason="verification_pending",
                blockers=blockers,
            )
        return await ctx.event(
            case_id,
            CaseEvent.COLLECT_EVIDENCE,
            officer_actor(officer.id),
            {"form_revision": stored.revision},
        )

    async def blockers(self, case_id: str, form: CaseForm) -> list[str]:
        """What still stands between the verification and "information complete"."""
        ctx = self.ctx
        checks = await ctx.store.latest_verifications(case_id)
        decisions = item_decisions(await ctx.db.case_trail(case_id))
        out: list[str] = []
        for party in form.parties:
            check = checks.get(party.key)
            if check is None:
                out.append(f"party {party.key}: not checked")
                continue
            if check["facts"] != facts_as_dict(party_facts(form, party, ctx.config.zone)):
                out.append(f"party {party.key}: form changed since the check; check again")
                continue
            for item in Item:
                status = item_status(check["result"], item)
                mismatch = type_mismatch(party, check) if item is Item.VEHICLE else None
                if status == ItemStatus.VALID.value and mismatch is None:
                    continue
                decided = decisions.get((party.key, item.value))
                if decided is None or not decision_applies(decided, check, item, party):
                    if mismatch is not None:
                        declared, registered = mismatch
                        out.append(
                            f"party {party.key}: vehicle type {declared} declared, "
                            f"{registered} registered"
                        )
                    else:
                        out.append(f"party {party.key}: {item.value} {status} needs a decision")
                elif decided["decision"] == "reject":
                    out.append(
                        f"party {party.key}: {item.value} rejected; this accident cannot be "
                        "handled by video (cancel and send to on-site handling)"
                    )
        return out


def party_facts(form: CaseForm, party: Party, zone: tzinfo) -> PartyFacts:
    """What the registry is asked about a party: the accident's local date, not today's."""
    day = (form.occurred_at or datetime.now(zone)).astimezone(zone).date()
    return PartyFacts(
        name=party.name or None,
        licence_no=party.licence_no or None,
        plate=party.plate.replace("·", "") or None,
        accident_date=day,
    )


def facts_as_dict(facts: PartyFacts) -> dict[str, Any]:
    """The facts as stored with a check (compared to tell whether the check is current)."""
    return {
        "name": facts.name,
        "licence_no": facts.licence_no,
        "plate": facts.plate,
        "accident_date": facts.accident_date.isoformat(),
    }


def item_status(result: Mapping[str, Any], item: Item) -> str:
    """An item's status in a stored registry answer (UNAVAILABLE when it is not there)."""
    for entry in result.get("items", []):
        if entry.get("item") == item.value:
            return str(entry.get("status"))
    return ItemStatus.UNAVAILABLE.value


def item_entry(result: Mapping[str, Any], item: Item) -> dict[str, Any] | None:
    """An item's whole entry (status, reason, detail) in a stored registry answer."""
    for entry in result.get("items", []):
        if entry.get("item") == item.value:
            return dict(entry)
    return None


def type_mismatch(party: Party, check: Mapping[str, Any]) -> tuple[str, str] | None:
    """The declared and the registered vehicle type (as written on a 行驶证) when the registry
    confirms the party's vehicle under another type than the form declares; None otherwise.
    The registry confirms the car, not what was declared about it."""
    entry = item_entry(check["result"], Item.VEHICLE)
    if entry is None or entry.get("status") != ItemStatus.VALID.value:
        return None
    detail = entry.get("detail") or {}
    registered = detail.get("vehicle_type_key")
    if not registered or not party.vehicle_type or party.vehicle_type == registered:
        return None
    label = detail.get("vehicle_type") or VEHICLE_TYPES.get(str(registered), str(registered))
    return VEHICLE_TYPES.get(party.vehicle_type, party.vehicle_type), str(label)


def decision_applies(
    decided: Mapping[str, Any], check: Mapping[str, Any], item: Item, party: Party | None
) -> bool:
    """Whether the officer's decision holds for ``check``: it was made on that check, or on an
    earlier one of the same facts that the registry answered the same way. Two consoles (or
    the panel's automatic check racing a click) asking again must not undo a decision. A
    decision on a type mismatch holds only for the type it was made on (``party``'s now)."""
    if "declared_type" in decided and (
        party is None or decided["declared_type"] != party.vehicle_type
    ):
        return False
    if decided["checked_at"] == check["checked_at"]:
        return True
    return (
        "facts" in decided
        and decided["facts"] == check["facts"]
        and decided.get("answer") == item_entry(check["result"], item)
    )


def item_decisions(trail: Iterable[AuditEntry]) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest officer decision per (party, item), from the trail."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for e in trail:
        if e.what == AuditAction.VERIFICATION_DECISION:
            out[(str(e.detail["party"]), str(e.detail["item"]))] = {
                **dict(e.detail),
                "who": e.who,
                "when": e.when.isoformat(),
            }
    return out
