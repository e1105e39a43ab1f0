"""The accident case as pure domain logic: states and audit trail, liability, eligibility, plates.

No I/O here: the server loads a case's audit trail, asks these modules what may happen, and
stores the resulting entry in the same transaction as everything else the step changes.
"""

from .actions import AuditAction
from .eligibility import (
    WEEKDAYS,
    AccidentCause,
    Eligibility,
    EligibilityAnswers,
    GeoPoint,
    IneligibleReason,
    ServiceArea,
    ServiceHours,
    ServiceRules,
    check_eligibility,
    service_area_from_geojson,
    service_area_from_json,
)
from .errors import (
    IllegalTransition,
    InconsistentLiability,
    InvalidPlate,
    InvalidServiceConfig,
    NotEligible,
    ReviewWindowClosed,
)
from .liability import Liability, check_liabilities, counterpart, is_consistent
from .plates import Plate, PlateColour, PlateKind, normalise_plate, parse_plate
from .states import (
    AuditEntry,
    CaseEvent,
    CaseState,
    CaseTimings,
    ReviewOutcome,
    allowed_events,
    apply,
    case_timings,
    record_action,
    replay,
    review_deadline,
    transition,
)

__all__ = [
    "WEEKDAYS",
    "AccidentCause",
    "AuditAction",
    "AuditEntry",
    "CaseEvent",
    "CaseState",
    "CaseTimings",
    "Eligibility",
    "EligibilityAnswers",
    "GeoPoint",
    "IllegalTransition",
    "InconsistentLiability",
    "IneligibleReason",
    "InvalidPlate",
    "InvalidServiceConfig",
    "Liability",
    "NotEligible",
    "Plate",
    "PlateColour",
    "PlateKind",
    "ReviewOutcome",
    "ReviewWindowClosed",
    "ServiceArea",
    "ServiceHours",
    "ServiceRules",
    "allowed_events",
    "apply",
    "case_timings",
    "check_eligibility",
    "check_liabilities",
    "counterpart",
    "is_consistent",
    "normalise_plate",
    "parse_plate",
    "record_action",
    "replay",
    "review_deadline",
    "service_area_from_geojson",
    "service_area_from_json",
    "transition",
]
