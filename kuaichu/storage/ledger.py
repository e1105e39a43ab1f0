"""Moved to kuaichu.evidence.ledger; shim removed in the final sweep."""

from kuaichu.evidence.ledger import Ledger as Ledger
