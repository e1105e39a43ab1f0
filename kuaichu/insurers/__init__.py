"""Insurers (保险公司): the configured companies, what each may see, their staff's console,
the claim hand-off (定损理赔) and its statuses, and the complaint line.

* :mod:`.model` — :class:`Insurer`, :class:`InsurerDirectory`, the ``--insurers`` setting.
* :mod:`.scope` — the one rule "which cases may insurer X see" (:class:`InsurerScope`).
* :mod:`.events` — the hook other parts (webhooks) subscribe to.
"""

from .events import EventKind, InsurerEvent, InsurerEvents
from .model import DEFAULT_INSURERS, Insurer, InsurerDirectory, load_insurers, parse_insurers
from .scope import VISIBLE_STATES, InsurerScope, NotYourCase, VisibleCase, policyholders, visible

__all__ = [
    "DEFAULT_INSURERS",
    "VISIBLE_STATES",
    "EventKind",
    "Insurer",
    "InsurerDirectory",
    "InsurerEvent",
    "InsurerEvents",
    "InsurerScope",
    "NotYourCase",
    "VisibleCase",
    "load_insurers",
    "parse_insurers",
    "policyholders",
    "visible",
]
