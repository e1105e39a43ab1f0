"""The claim (定损理赔) an insurer works on a case: its statuses, the moves between them, and
the validation of an insurer's update. Pure: no I/O.

A claim opens as ``handed_off`` (the party's claim button or an officer's hand-off put the
case in the insurer's work queue); the insurer then records, in order::

    handed_off ─► received ─► assessor_assigned ─► assessed (amount) ─► paid
         │            │               │                 │   ▲ (re-assessed)
         └────────────┴───────────────┴─────────────────┴──► refused (reason)

``received`` may go straight to ``assessed`` (assessed online, no assessor sent);
``assessed`` may be recorded again with a corrected amount. ``paid`` and ``refused`` are
final. Amounts are in fen (分): an integer, so 1234.50 元 is exactly 123450.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ..cases.errors import IllegalTransition
from ..cases.form import text_problem
from ..errors import InvalidMessage

MAX_AMOUNT_FEN: Final = 100_000_000  # 1,000,000 元: far above any minor accident's loss
MAX_REASON: Final = 500
MAX_ASSESSOR: Final = 32
_AMOUNT: Final = "amount must be a number of yuan, e.g. 1234.50"


@dataclass(frozen=True)
class ClaimActor:
    """Who records a claim status: the configured insurer it is recorded for, and the audit
    trail's actor (kuaichu.cases.actors): a staff account (``insurer:<code>:<account id>``,
    :meth:`InsurerDesk.staff`) or an insurer's system through an API key
    (``api:<code>:<key id>``, kuaichu.api)."""

    insurer: str
    who: str


class ClaimStatus(enum.StrEnum):
    HANDED_OFF = "handed_off"
    RECEIVED = "received"
    ASSESSOR_ASSIGNED = "assessor_assigned"
    ASSESSED = "assessed"
    PAID = "paid"
    REFUSED = "refused"

    @property
    def final(self) -> bool:
        return self in (ClaimStatus.PAID, ClaimStatus.REFUSED)

    @property
    def zh(self) -> str:
        return _ZH[self]


_ZH: Final[Mapping[ClaimStatus, str]] = {
    ClaimStatus.HANDED_OFF: "已移交",
    ClaimStatus.RECEIVED: "已受理",
    ClaimStatus.ASSESSOR_ASSIGNED: "已派查勘员",
    ClaimStatus.ASSESSED: "已定损",
    ClaimStatus.PAID: "已赔付",
    ClaimStatus.REFUSED: "被拒赔",
}

C = ClaimStatus
MOVES: Final[Mapping[ClaimStatus, frozenset[ClaimStatus]]] = {
    C.HANDED_OFF: frozenset({C.RECEIVED, C.REFUSED}),
    C.RECEIVED: frozenset({C.ASSESSOR_ASSIGNED, C.ASSESSED, C.REFUSED}),
    C.ASSESSOR_ASSIGNED: frozenset({C.ASSESSED, C.REFUSED}),
    C.ASSESSED: frozenset({C.ASSESSED, C.PAID, C.REFUSED}),
    C.PAID: frozenset(),
    C.REFUSED: frozenset(),
}
# What an insurer may record (handed_off is the hand-off's, never the insurer's).
RECORDABLE: Final = tuple(s for s in ClaimStatus if s is not C.HANDED_OFF)


@dataclass(frozen=True)
class ClaimUpdate:
    """One status an insurer records, validated."""

    status: ClaimStatus
    amount_fen: int | None = None  # assessed: required; paid: defaults to the assessed amount
    reason: str | None = None  # refused: required
    assessor: str | None = None  # assessor_assigned: optional name

    def to_detail(self) -> dict[str, Any]:
        """The audit entry's detail (only what this status carries)."""
        out: dict[str, Any] = {"status": self.status.value}
        if self.amount_fen is not None:
            out["amount_fen"] = self.amount_fen
        if self.reason:
            out["reason"] = self.reason
        if self.assessor:
            out["assessor"] = self.assessor
        return out


def parse_amount(raw: object) -> int:
    """An amount in yuan (a number or a decimal string, at most two decimals) as fen."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidMessage(_AMOUNT, field="amount")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise InvalidMessage("amount must be a finite number", field="amount")
    text = raw.strip() if isinstance(raw, str) else repr(raw)
    if len(text) > 20:
        raise InvalidMessage("amount is too long", field="amount")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidMessage(_AMOUNT, field="amount") from None
    if not value.is_finite():
        raise InvalidMessage("amount must be a finite number", field="amount")
    if value <= 0:
        raise InvalidMessage("amount must be more than 0", field="amount")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise InvalidMessage("amount has at most two decimals (fen)", field="amount")
    if fen > MAX_AMOUNT_FEN:
        raise InvalidMessage(
            f"amount is above {MAX_AMOUNT_FEN // 100} yuan", field="amount", limit=MAX_AMOUNT_FEN
        )
    return int(fen)


def _text(raw: object, name: str, limit: int) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidMessage(f"{name} must be text", field=name)
    value = raw.strip()
    if len(value) > limit:
        raise InvalidMessage(
            f"{name} is too long ({len(value)} characters, at most {limit})",
            field=name,
            limit=limit,
        )
    problem = text_problem(value)
    if problem:
        raise InvalidMessage(f"{name} {problem}", field=name)
    return value


def parse_update(raw: Mapping[str, Any]) -> ClaimUpdate:
    """An insurer's update (``{"status", "amount"?, "reason"?, "assessor"?}``), validated
    alone; :func:`check_move` judges it against the claim's current status."""
    status_raw = raw.get("status")
    try:
        status = ClaimStatus(status_raw if isinstance(status_raw, str) else "")
    except ValueError:
        status = None
    if status is None or status is C.HANDED_OFF:
        raise InvalidMessage(
            f"status must be one of {', '.join(RECORDABLE)}", field="status", reason="bad_status"
        )
    extra = sorted(str(k)[:40] for k in set(raw) - {"status", "amount", "reason", "assessor"})
    if extra:
        raise InvalidMessage(f"unexpected field(s): {', '.join(extra[:5])}")
    amount = raw.get("amount")
    amount_fen = None if amount in (None, "") else parse_amount(amount)
    reason = _text(raw.get("reason"), "reason", MAX_REASON)
    assessor = _text(raw.get("assessor"), "assessor", MAX_ASSESSOR)
    if status is C.ASSESSED and amount_fen is None:
        raise InvalidMessage("an assessment needs the amount", field="amount", reason="no_amount")
    if status is C.REFUSED and not reason:
        raise InvalidMessage("a refusal needs a written reason", field="reason", reason="no_reason")
    if amount_fen is not None and status not in (C.ASSESSED, C.PAID):
        raise InvalidMessage(f"a {status.value} status takes no amount", field="amount")
    if reason and status is not C.REFUSED:
        raise InvalidMessage(f"a {status.value} status takes no reason", field="reason")
    if assessor and status is not C.ASSESSOR_ASSIGNED:
        raise InvalidMessage(f"a {status.value} status takes no assessor", field="assessor")
    return ClaimUpdate(status, amount_fen, reason or None, assessor or None)


def check_move(current: ClaimStatus, update: ClaimUpdate) -> None:
    """Raise :class:`IllegalTransition` (409) when ``update`` cannot follow ``current``."""
    if update.status not in MOVES[current]:
        allowed = ", ".join(sorted(MOVES[current])) or "none (the claim is closed)"
        raise IllegalTransition(
            f"a claim that is {current.value} cannot become {update.status.value} "
            f"(allowed: {allowed})",
            state=current.value,
            event=update.status.value,
            reason="claim_transition",
        )


def sms_text(status: ClaimStatus, amount_fen: int | None) -> str:
    """The short status phrase of the SMS (``已定损1234.50元``)."""
    if amount_fen is not None and status in (C.ASSESSED, C.PAID):
        return f"{status.zh}{yuan(amount_fen)}元"
    return status.zh


def yuan(fen: int) -> str:
    """``123450`` → ``1234.50``."""
    return f"{fen // 100}.{fen % 100:02d}"
