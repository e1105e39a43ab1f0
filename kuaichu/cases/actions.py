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
    # The officer working a photo report sent its driver a video callback link (issue 13).
    VIDEO_CALLBACK_SENT = "video_callback_sent"
    # Its driver opened the link: a new call in the case (issue 13).
    VIDEO_CALLBACK_JOINED = "video_callback_joined"
    # The officer sent a dropped driver a link back into the call (issue 12).
    REJOIN_SENT = "rejoin_sent"
    # Evidence (kuaichu.evidence.captures)
    EVIDENCE_CAPTURED = "evidence_captured"
    EVIDENCE_ANNOTATED = "evidence_annotated"
    # The case work (kuaichu.casework)
    FORM_SAVED = "form_saved"
    VERIFIED = "verified"
    VERIFICATION_DECISION = "verification_decision"
    CASE_LINKED = "case_linked"
    NOTICE_RESENT = "notice_resent"
    # Insurers (kuaichu.insurers, issue 13): every read by an insurer's staff, the claim's
    # hand-off and each status the insurer records, a party's complaint and its callback.
    INSURER_READ = "insurer_read"
    CLAIM_HANDED_OFF = "claim_handed_off"
    CLAIM_STATUS = "claim_status"
    COMPLAINT_FILED = "complaint_filed"
    COMPLAINT_CALLED_BACK = "complaint_called_back"
    AGREEMENT_DOCUMENT = "agreement_document"
    # The open API (kuaichu.api, issue 13): an insurer's system read the case, a document,
    # an evidence file or the manifest with its API key (the key is the entry's actor).
    API_READ = "api_read"
