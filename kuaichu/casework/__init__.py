"""The case after the report: form, verification, leave the scene, liability and the
electronic determination, the notices, the parties' progress page, review and agreement.

Every step is one database transaction holding the state-machine event (or the audit
action), the rows the step writes and the SMS it causes (the notifier's outbox), so a refused
step leaves nothing written and an accepted one cannot lose its notice. The HTTP edges
(kuaichu.web) authenticate and validate; this package authorizes every case an action
touches (:meth:`.context.CaseContext.authorize`: the façade's methods take the ``Officer``,
or a party's :class:`PartyLink`) and decides. One module per step family (:mod:`.form`,
:mod:`.verification`, :mod:`.scene`, :mod:`.determination`, :mod:`.review`,
:mod:`.agreement`, :mod:`.closing`, :mod:`.views`) behind the :class:`CaseWork` façade.
"""

from .context import MAX_REASON, Access, PartyLink
from .determination import LEGAL_BASIS_DEFAULT, REVIEW_NOTICE
from .ports import CaseWorkConfig, DocumentRenderer, EvidenceLedger, LiveCalls
from .service import CaseWork

__all__ = [
    "LEGAL_BASIS_DEFAULT",
    "MAX_REASON",
    "REVIEW_NOTICE",
    "Access",
    "CaseWork",
    "CaseWorkConfig",
    "DocumentRenderer",
    "EvidenceLedger",
    "LiveCalls",
    "PartyLink",
]
