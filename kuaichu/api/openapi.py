"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json and rendered as the
docs page (/api/v1/docs). Written by hand, next to the handlers it describes: the schema
tests (tests/api/test_schema.py) run schemathesis against the served document, so a handler
that answers outside it fails there.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Final

from ..cases.eligibility import AccidentCause
from ..cases.ids import CASE_ID_PATTERN
from ..cases.liability import Liability
from ..insurers.claims import MAX_ASSESSOR, MAX_REASON, RECORDABLE, ClaimStatus
from ..insurers.scope import VISIBLE_STATES

VERSION: Final = "1.0.0"
# What an evidence file is served as (kuaichu.api.service's types by file name).
EVIDENCE_TYPES: Final = (
    "image/jpeg",
    "image/png",
    "video/mp4",
    "video/x-matroska",
    "application/pdf",
    "application/json",
    "application/octet-stream",
)
_SHA256: Final = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TIME: Final = {"type": "string", "format": "date-time"}
_TEXT: Final = {"type": "string"}
_ERROR_CODES: Final = [
    "invalid_message",
    "invalid_cursor",
    "message_too_large",
    "not_authenticated",
    "forbidden",
    "not_found",
    "conflict",
    "illegal_transition",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


_CASE_ID: Final = {
    "name": "case_id",
    "in": "path",
    "required": True,
    "description": "The case's id, e.g. KC20260501ABC234.",
    "schema": {"type": "string", "pattern": f"^{CASE_ID_PATTERN}$"},
}
_VERSION_PARAM: Final = {
    "name": "version",
    "in": "query",
    "required": False,
    "description": "A document version (default: the current one).",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
}
# Every operation on a case answers these besides its success.
_CASE_ERRORS: Final = {
    "400": _error("A parameter is malformed or out of range (code invalid_message)."),
    "401": _error("No API key, or a key that is unknown or revoked (not_authenticated)."),
    "403": _error(
        "Not your case: none of its parties is your policyholder, or liability has not been "
        "set yet (forbidden; detail.reason not_policyholder or liability_not_set)."
    ),
    "404": _error("No such case, document, version or file (not_found)."),
}


def _file_response(description: str, *media: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "X-Content-SHA256": {
                "description": "The file's SHA-256 (hex), as the signed manifest lists it.",
                "schema": _SHA256,
            },
            "Repr-Digest": {
                "description": "The same digest as RFC 9530 spells it (sha-256=:base64:).",
                "schema": _TEXT,
            },
        },
        "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media},
    }


def _schemas() -> dict[str, Any]:
    party = {
        "type": "object",
        "required": ["key", "policyholder", "name", "insurer", "vehicle", "liability"],
        "properties": {
            "key": {"type": "string", "pattern": "^[A-F]$"},
            "policyholder": {
                "type": "boolean",
                "description": "Whether this party is insured by you.",
            },
            "name": _TEXT,
            "phone": {
                "type": "string",
                "description": "In full for your policyholder, masked (138****5678) otherwise.",
            },
            "licence_no": {
                "type": "string",
                "description": "Driving licence (ID) number, masked as on the determination.",
            },
            "insurer": _TEXT,
            "policy_no": _TEXT,
            "vehicle": {
                "type": "object",
                "required": ["plate", "type"],
                "properties": {"plate": _TEXT, "type": _TEXT, "type_text": _TEXT},
            },
            "liability": _nullable({"type": "string", "enum": [v.value for v in Liability]}),
            "fault": _TEXT,
        },
    }
    flag = {
        "type": "object",
        "required": ["code", "severity", "message"],
        "properties": {
            "code": {
                "type": "string",
                "description": "repeat_plate, repeat_person, repeat_pair, gps_far, "
                "plate_mismatch, photo_time, photo_gps",
            },
            "severity": {"type": "string", "enum": ["info", "warning"]},
            "message": _TEXT,
            "detail": {
                "type": "object",
                "description": "What triggered it: party, identity (masked), other_cases (how "
                "many; not which), km, minutes, capture, read and declared plates.",
            },
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "Machine-readable: " + ", ".join(_ERROR_CODES),
                        },
                        "message": _TEXT,
                        "detail": {"type": "object"},
                    },
                }
            },
        },
        "ChangePage": {
            "type": "object",
            "required": ["cases", "next_cursor", "has_more"],
            "properties": {
                "cases": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["case_id", "status", "changed_at", "policyholders"],
                        "properties": {
                            "case_id": {"type": "string", "pattern": f"^{CASE_ID_PATTERN}$"},
                            "status": {
                                "type": "string",
                                "enum": sorted(s.value for s in VISIBLE_STATES),
                            },
                            "changed_at": _TIME,
                            "policyholders": {"type": "array", "items": _TEXT},
                        },
                    },
                },
                "next_cursor": _nullable(
                    {
                        "type": "string",
                        "description": "Opaque; send it back as ?cursor= for what changed "
                        "after this page.",
                    }
                ),
                "has_more": {"type": "boolean"},
            },
        },
        "Party": party,
        "FraudFlag": flag,
        "Claim": {
            "type": "object",
            "required": ["status", "updated_at"],
            "properties": {
                "status": {"type": "string", "enum": [s.value for s in ClaimStatus]},
                "amount_fen": _nullable({"type": "integer", "minimum": 0}),
                "reason": _nullable(_TEXT),
                "parties": {"type": "array", "items": _TEXT},
                "updated_at": _TIME,
            },
        },
        "Case": {
            "type": "object",
            "required": [
                "case_id",
                "status",
                "reported_at",
                "accident",
                "parties",
                "determination",
                "agreement",
                "claim",
                "fraud_flags",
            ],
            "properties": {
                "case_id": {"type": "string", "pattern": f"^{CASE_ID_PATTERN}$"},
                "status": {"type": "string", "enum": sorted(s.value for s in VISIBLE_STATES)},
                "reported_at": _TIME,
                "accident": {
                    "type": "object",
                    "properties": {
                        "occurred_at": _nullable(_TEXT),
                        "address": _TEXT,
                        "lat": _nullable({"type": "number"}),
                        "lng": _nullable({"type": "number"}),
                        "cause": _nullable(
                            {"type": "string", "enum": [c.value for c in AccidentCause]}
                        ),
                        "description": _TEXT,
                    },
                },
                "parties": {"type": "array", "items": _ref("Party")},
                "determination": _nullable(
                    {
                        "type": "object",
                        "required": ["number", "version"],
                        "properties": {
                            "number": _TEXT,
                            "version": {"type": "integer"},
                            "issued_at": _nullable(_TEXT),
                            "superseded_by": _nullable({"type": "integer"}),
                            "pdf_sha256": _nullable(_SHA256),
                            "verify_url": _nullable(_TEXT),
                        },
                    }
                ),
                "agreement": _nullable(
                    {
                        "type": "object",
                        "required": ["number", "version"],
                        "properties": {
                            "number": _TEXT,
                            "version": {"type": "integer"},
                            "issued_at": _TIME,
                            "pdf_sha256": _nullable(_SHA256),
                        },
                    }
                ),
                "claim": _nullable(_ref("Claim")),
                "fraud_flags": {"type": "array", "items": _ref("FraudFlag")},
            },
        },
        "EvidenceList": {
            "type": "object",
            "required": ["evidence"],
            "properties": {
                "evidence": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["seq", "kind", "name", "sha256", "size", "added_at"],
                        "properties": {
                            "seq": {"type": "integer", "minimum": 1},
                            "kind": _TEXT,
                            "name": _TEXT,
                            "sha256": _SHA256,
                            "size": {"type": "integer", "minimum": 0},
                            "added_at": _TEXT,
                            "taken_at": _nullable(_TEXT),
                        },
                    },
                }
            },
        },
        "ClaimUpdate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": [s.value for s in RECORDABLE]},
                "amount": {
                    "oneOf": [
                        {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000},
                        {"type": "string", "pattern": "^[0-9]{1,7}(\\.[0-9]{1,2})?$"},
                    ],
                    "description": "In yuan (元), at most two decimals: required with assessed, "
                    "optional with paid (default: the assessed amount).",
                },
                "reason": {
                    "type": "string",
                    "maxLength": MAX_REASON,
                    "description": "Required with refused.",
                },
                "assessor": {
                    "type": "string",
                    "maxLength": MAX_ASSESSOR,
                    "description": "With assessor_assigned: the assessor's name.",
                },
            },
        },
    }


def _operations() -> dict[str, Any]:
    case_file = [_CASE_ID]
    return {
        "/api/v1/cases": {
            "get": {
                "operationId": "listChangedCases",
                "summary": "Your cases changed since a cursor",
                "description": "Cases with one of your policyholders whose liability is set, "
                "ordered by their last change (oldest first; reads do not count as changes). "
                "Start without a cursor; keep the page's next_cursor and ask again with it "
                "for what changed since. Ids and times only: fetch a case to read it.",
                "parameters": [
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                        "description": "next_cursor of the previous page.",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A page of changed cases.",
                        "content": {"application/json": {"schema": _ref("ChangePage")}},
                    },
                    "400": _error("A malformed limit or a cursor this server did not give "
                                  "(invalid_message, invalid_cursor)."),
                    "401": _CASE_ERRORS["401"],
                },
            }
        },
        "/api/v1/cases/{case_id}": {
            "get": {
                "operationId": "getCase",
                "summary": "One case",
                "description": "Accident, parties and vehicles with their liabilities, the "
                "determination's and agreement's metadata, your claim, the fraud flags. The "
                "read is recorded in the case's audit trail.",
                "parameters": case_file,
                "responses": {
                    "200": {
                        "description": "The case.",
                        "content": {"application/json": {"schema": _ref("Case")}},
                    },
                    **_CASE_ERRORS,
                },
            }
        },
        "/api/v1/cases/{case_id}/determination.pdf": {
            "get": {
                "operationId": "getDetermination",
                "summary": "The determination (认定书) as PDF",
                "parameters": [_CASE_ID, _VERSION_PARAM],
                "responses": {
                    "200": _file_response("The PDF as issued.", "application/pdf"),
                    **_CASE_ERRORS,
                },
            }
        },
        "/api/v1/cases/{case_id}/agreement.pdf": {
            "get": {
                "operationId": "getAgreement",
                "summary": "The self-negotiated agreement (协议书) as PDF",
                "parameters": [_CASE_ID, _VERSION_PARAM],
                "responses": {
                    "200": _file_response("The PDF as issued.", "application/pdf"),
                    **_CASE_ERRORS,
                },
            }
        },
        "/api/v1/cases/{case_id}/evidence": {
            "get": {
                "operationId": "listEvidence",
                "summary": "The case's evidence files with their SHA-256",
                "parameters": case_file,
                "responses": {
                    "200": {
                        "description": "Every file the signed manifest lists.",
                        "content": {"application/json": {"schema": _ref("EvidenceList")}},
                    },
                    **_CASE_ERRORS,
                },
            }
        },
        "/api/v1/cases/{case_id}/evidence/{seq}": {
            "get": {
                "operationId": "getEvidenceFile",
                "summary": "One evidence file, streamed",
                "parameters": [
                    _CASE_ID,
                    {
                        "name": "seq",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                        "description": "The file's seq in the evidence list.",
                    },
                ],
                "responses": {
                    "200": _file_response("The file, typed by its kind.", *EVIDENCE_TYPES),
                    **_CASE_ERRORS,
                },
            }
        },
        "/api/v1/cases/{case_id}/manifest": {
            "get": {
                "operationId": "getManifest",
                "summary": "The signed evidence manifest",
                "description": "JSON lines, each entry hash-chained to the one before and "
                "signed with the server's Ed25519 key (GET /api/keys/evidence.pem); "
                "docs/evidence.md describes the format and its check.",
                "parameters": case_file,
                "responses": {
                    "200": {
                        "description": "The manifest file.",
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    **_CASE_ERRORS,
                },
            }
        },
        "/api/v1/cases/{case_id}/claim": {
            "post": {
                "operationId": "updateClaim",
                "summary": "Record your claim's status",
                "description": "Once the case is in your work queue (handed_off: a party's "
                "claim button or an officer's hand-off): received → assessor_assigned → "
                "assessed (amount) → paid, or refused (reason) from any open status; received "
                "may go straight to assessed. The parties see it on their progress page and by "
                "SMS; your webhook gets status_changed. 404 (reason no_claim) before the "
                "hand-off.",
                "parameters": case_file,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ClaimUpdate")}},
                },
                "responses": {
                    "200": {
                        "description": "The claim as it now stands.",
                        "content": {"application/json": {"schema": _ref("Claim")}},
                    },
                    **_CASE_ERRORS,
                    "409": _error(
                        "The claim cannot move to that status from where it is "
                        "(illegal_transition)."
                    ),
                    "413": _error("The body exceeds 64 KiB (message_too_large)."),
                },
            }
        },
    }


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "快处 open API for insurers",
            "version": VERSION,
            "description": "Cases in which one of your policyholders is a party, from the "
            "moment liability is set: parties, liabilities, documents, evidence files with "
            "their SHA-256 and the signed manifest, and your claim's status. Authenticate "
            "with your API key: Authorization: Bearer kc_…. Errors are JSON "
            '{"error": {"code", "message", "detail"}}. Webhooks (case_ready, '
            "status_changed) are described in the README.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": _operations(),
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key made by `python server.py apikey create`.",
                }
            },
            "schemas": _schemas(),
        },
    }


def openapi_document() -> dict[str, Any]:
    """The document (a copy: callers may not change the cached one)."""
    return copy.deepcopy(_document())
