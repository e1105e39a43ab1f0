"""Moved to kuaichu.evidence.captures and kuaichu.evidence.plate_check; shim removed in the
final sweep."""

from kuaichu.evidence.captures import KINDS as KINDS
from kuaichu.evidence.captures import MAX_NOTE as MAX_NOTE
from kuaichu.evidence.captures import MAX_REGIONS as MAX_REGIONS
from kuaichu.evidence.captures import MAX_STILL_BYTES as MAX_STILL_BYTES
from kuaichu.evidence.captures import MAX_STILL_PIXELS as MAX_STILL_PIXELS
from kuaichu.evidence.captures import CallFacts as CallFacts
from kuaichu.evidence.captures import CaptureDesk as CaptureDesk
from kuaichu.evidence.captures import CaptureView as CaptureView
from kuaichu.evidence.captures import Reader as Reader
from kuaichu.evidence.plate_check import plate_check as plate_check
