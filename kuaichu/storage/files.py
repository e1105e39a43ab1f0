"""Moved to kuaichu.evidence.files; shim removed in the final sweep."""

from kuaichu.evidence.files import write_new as write_new
