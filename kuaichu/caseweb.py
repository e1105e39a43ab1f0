"""Moved to :mod:`kuaichu.web` (cases_api, evidence_api, progress, public, common); shim
removed in the final sweep."""

from .web import setup_routes as setup
from .web.common import MAX_JSON_BYTES as MAX_JSON_BYTES
from .web.common import case_id_of as case_id_of
from .web.common import json_body as json_body
from .web.common import json_response as json_response

__all__ = ["MAX_JSON_BYTES", "case_id_of", "json_body", "json_response", "setup"]
