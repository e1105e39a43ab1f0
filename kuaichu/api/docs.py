"""The API's readable docs page (/api/v1/docs), rendered on the server from the same OpenAPI
document the server serves: no script, no CDN (centres run on closed networks), and the strict
CSP of every page holds (the style sheet is /api/v1/docs.css)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jinja2

from .signature import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, TOLERANCE

_METHODS = ("get", "post", "put", "delete")


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kuaichu.api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _resolve(schema: Any, components: dict[str, Any]) -> str:
    """A schema as indented JSON, with its top-level $ref named."""
    return json.dumps(schema, ensure_ascii=False, indent=2)


def _shown(schema: dict[str, Any]) -> tuple[str | None, str]:
    """A schema as the page shows it: the name of a component it refers to (a link), or
    its JSON."""
    ref = schema.get("$ref", "")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return ref.rsplit("/", 1)[-1], ""
    return None, json.dumps(schema, ensure_ascii=False)


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each operation of the document, flattened for the template."""
    out = []
    for path, item in document["paths"].items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "id": op["operationId"],
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": op.get("parameters", []),
                    "body": _shown(body["schema"]) if body else None,
                    "responses": [
                        {
                            "status": status,
                            "description": response.get("description", ""),
                            "schemas": [
                                (media, *_shown(c.get("schema", {})))
                                for media, c in response.get("content", {}).items()
                            ],
                        }
                        for status, response in op["responses"].items()
                    ],
                }
            )
    return out


def render_docs(document: dict[str, Any]) -> str:
    schemas = document["components"]["schemas"]
    return _environment().get_template("docs.html").render(
        info=document["info"],
        operations=operations(document),
        schemas=[(name, _resolve(s, schemas)) for name, s in schemas.items()],
        signature_header=SIGNATURE_HEADER,
        event_id_header=EVENT_ID_HEADER,
        event_type_header=EVENT_TYPE_HEADER,
        tolerance=TOLERANCE,
    )


@functools.cache
def docs_css() -> str:
    return resources.files("kuaichu.api").joinpath("templates/docs.css").read_text("utf-8")
