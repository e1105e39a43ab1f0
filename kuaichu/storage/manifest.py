"""Moved to kuaichu.evidence.manifest; shim removed in the final sweep."""

from kuaichu.evidence.manifest import GENESIS as GENESIS
from kuaichu.evidence.manifest import MANIFEST_NAME as MANIFEST_NAME
from kuaichu.evidence.manifest import EvidenceAlreadyListed as EvidenceAlreadyListed
from kuaichu.evidence.manifest import EvidenceManifest as EvidenceManifest
from kuaichu.evidence.manifest import EvidenceRefused as EvidenceRefused
from kuaichu.evidence.manifest import ManifestBroken as ManifestBroken
from kuaichu.evidence.manifest import ManifestEntry as ManifestEntry
from kuaichu.evidence.manifest import Problem as Problem
from kuaichu.evidence.manifest import VerificationReport as VerificationReport
from kuaichu.evidence.manifest import format_report as format_report
from kuaichu.evidence.manifest import hash_file as hash_file
from kuaichu.evidence.manifest import is_ignored as is_ignored
from kuaichu.evidence.manifest import verify_case_folder as verify_case_folder
from kuaichu.evidence.manifest import verify_command as verify_command
