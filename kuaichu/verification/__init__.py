"""Verification of person, vehicle and insurance (核验人、车、保险).

For each party the officer checks three items: the driving licence is valid, the vehicle is
registered and roadworthy, and a compulsory insurance (交强险) policy covers the accident date.
One interface (:class:`Registry`), two implementations: :class:`LocalRegistry` over tables in
the server's own database (filled by ``registry import`` or ``registry demo``), and
:class:`RemoteRegistry` over an upstream HTTP registry. Neither raises for registry trouble;
items the registry cannot answer come back UNAVAILABLE, and every item that is not VALID
needs the officer's explicit decision.
"""

from .local import LocalRegistry
from .model import (
    Item,
    ItemResult,
    ItemStatus,
    PartyFacts,
    Reason,
    Registry,
    VerificationResult,
)
from .remote import RemoteRegistry, make_registry_app

__all__ = [
    "Item",
    "ItemResult",
    "ItemStatus",
    "LocalRegistry",
    "PartyFacts",
    "Reason",
    "Registry",
    "RemoteRegistry",
    "VerificationResult",
    "make_registry_app",
]
