"""The case domain's errors, each a leaf of the one tree in :mod:`kuaichu.errors`.

Only the codes a client or an officer can act on get their own class; everything else about a
refusal (which state, which parties, which rule) goes into ``detail`` so the edges can show it
without parsing the message.
"""

from __future__ import annotations

from kuaichu.errors import Conflict, InvalidMessage, KuaichuError


class IllegalTransition(Conflict):
    """The case's state (or its history) does not allow this event.

    ``detail`` carries ``state`` and ``event`` always, and ``reason`` when a history rule
    (review once, review window, agreement confirmations) refused rather than the table.
    """

    code = "illegal_transition"


class ReviewWindowClosed(IllegalTransition):
    """A review (复核) was requested after the deadline; its own code because the driver's
    page shows a dedicated "the window has closed" message rather than a generic refusal."""

    code = "review_window_closed"


class InconsistentLiability(InvalidMessage):
    """A set of liabilities across the parties breaks the consistency rule.

    ``detail``: ``reason`` (machine-readable), ``parties_at_fault`` (sorted) and
    ``liabilities`` (party -> code).
    """

    code = "inconsistent_liability"


class NotEligible(KuaichuError):
    """The accident may not use the video channel. ``detail["reason"]`` is an
    :class:`~kuaichu.cases.eligibility.IneligibleReason` value and ``detail["advice"]`` the
    message key telling the driver what to do instead.

    422 rather than 400/403: the request is well formed and the driver is who they say; it is
    the accident's facts that rule the channel out.
    """

    code = "not_eligible"
    http_status = 422


class InvalidPlate(InvalidMessage):
    """A licence plate that cannot be read as a Chinese civil plate, even leniently.
    ``detail["reason"]`` says which part is wrong."""

    code = "invalid_plate"


class InvalidServiceConfig(InvalidMessage):
    """Service hours or a service-area GeoJSON that cannot be used. ``detail["path"]`` points
    at the offending element (``features[2].geometry.coordinates[0][5]``) so whoever edits
    the file can find it."""

    code = "invalid_service_config"
