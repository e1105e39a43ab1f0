"""The audit trail's actions: entries that record what someone did without moving the case's
state (the events that do move it are :class:`kuaichu.cases.states.CaseEvent`).

The values are stored in ``case_audit.what`` and named in the pages' translations
(``act_<value>``), so they never change spelling.
"""

from __future__ import annotations

import enum


class AuditAction(enum.StrEnum):
    """An action name for :func:`kuaichu.cases.states.record_action`."""

    # The call (kuaichu.calls)
    CALL_ANSWERED = "call_answered"
    DECLINE = "decline"
    HANGUP = "hangup"
    CALL_ENDED = "call_ended"
    # The driver reported again after a restart cut the call off: a new call in this case.
    REJOINED = "rejoined"
    # Evidence (kuaichu.evidence.captures)
    EVIDENCE_CAPTURED = "evidence_captured"
    EVIDENCE_ANNOTATED = "evidence_annotated"
    # The case work (kuaichu.casework)
    FORM_SAVED = "form_saved"
    VERIFIED = "verified"
    VERIFICATION_DECISION = "verification_decision"
    CASE_LINKED = "case_linked"
    NOTICE_RESENT = "notice_resent"
