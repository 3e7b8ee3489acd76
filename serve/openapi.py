"""The query API's OpenAPI description (``GET /openapi.json``).

The query endpoint reads its body itself (size limit first, then serve.query), so FastAPI
cannot infer it; this gives the body with the vocabulary's names as enums and every
answer the API gives, for clients and for the schema-driven tests
(tests/serve/test_openapi.py).
"""

from __future__ import annotations

from typing import Any

from squall.schema import DIMENSIONS
from squall.serve.intervals import GRANULARITIES
from squall.serve.limits import MAX_FILTER_VALUES, MAX_THRESHOLD
from squall.serve.query import OUTPUT_METRICS, QUERY_TYPES
from squall.serve.search import DEFAULT_LIMIT, MAX_LIMIT, MAX_PATTERN

__all__ = ["PAGE", "PIPELINE", "QUERY", "SEARCH", "STATIC", "TIME_BOUNDARY", "json_answer"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "type": {"type": "string"}},
}
_VALUE = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
_FILTER = {
    "type": "object",
    "propertyNames": {"enum": list(DIMENSIONS)},
    "additionalProperties": {
        "anyOf": [
            _VALUE,
            {"type": "array", "items": _VALUE, "maxItems": MAX_FILTER_VALUES},
        ]
    },
}
_INTERVAL = {
    "type": "string",
    "description": "start/end, ISO-8601, end exclusive",
    "example": "2015-05-17T00:00:00Z/2015-05-21T00:00:00Z",
}
_QUERY_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["queryType", "interval"],
    "properties": {
        "queryType": {"enum": list(QUERY_TYPES)},
        "interval": _INTERVAL,
        "granularity": {"enum": list(GRANULARITIES), "default": "all"},
        "dimensions": {"type": "array", "items": {"enum": list(DIMENSIONS)}},
        "dimension": {"enum": list(DIMENSIONS)},
        "metric": {"enum": list(OUTPUT_METRICS)},
        "threshold": {"type": "integer", "minimum": 1, "maximum": MAX_THRESHOLD},
        "filter": _FILTER,
        "metrics": {"type": "array", "items": {"enum": list(OUTPUT_METRICS)}},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def json_answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_UNAUTHORIZED = {"401": _error("missing or invalid bearer token (SQUALL_QUERY_TOKENS)")}
_UNAVAILABLE = {"503": _error("the store cannot be reached now; retry")}

QUERY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _QUERY_BODY}}},
    "responses": {
        "200": json_answer(
            "result rows",
            {
                "type": "object",
                "required": ["rows"],
                "properties": {"rows": {"type": "array", "items": {"type": "object"}}},
            },
        ),
        "400": _error("invalid query or over a limit (serve.limits); the message says which"),
        **_UNAUTHORIZED,
        "408": _error("the query ran past SQUALL_QUERY_TIMEOUT (type QueryTimeout)"),
        "413": _error("the body is over 64 KiB"),
        **_UNAVAILABLE,
    },
}
"""``POST /api/v1/query``."""

_SEARCH_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["interval"],
    "properties": {
        "interval": _INTERVAL,
        "filter": _FILTER,
        "contains": {"type": "string", "maxLength": MAX_PATTERN},
        "regex": {"type": "string", "maxLength": MAX_PATTERN},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "cursor": {"type": "string", "description": "the previous page's 'next'"},
    },
}
SEARCH: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _SEARCH_BODY}}},
    "responses": {
        "200": json_answer(
            "stored raw events, newest first, and the next page's cursor",
            {
                "type": "object",
                "required": ["events", "next"],
                "properties": {
                    "events": {"type": "array", "items": {"type": "object"}},
                    "next": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
        ),
        "400": _error("invalid search; the message says what is allowed"),
        **_UNAUTHORIZED,
        "404": _error("the store keeps no raw events"),
        "413": _error("the body is over 64 KiB"),
        **_UNAVAILABLE,
    },
}
"""``POST /api/v1/search``."""

_TIME = {"anyOf": [{"type": "string"}, {"type": "null"}]}
TIME_BOUNDARY: dict[str, Any] = {
    "responses": {
        "200": json_answer(
            "first and last minute with data (null when empty)",
            {
                "type": "object",
                "required": ["minTime", "maxTime"],
                "properties": {"minTime": _TIME, "maxTime": _TIME},
            },
        ),
        **_UNAUTHORIZED,
        **_UNAVAILABLE,
    }
}

PIPELINE: dict[str, Any] = {
    "responses": {
        "200": json_answer("workers, consumer lag and collector", {"type": "object"}),
        **_UNAUTHORIZED,
        "404": _error("this API watches no pipeline"),
    }
}

PAGE: dict[str, Any] = {
    "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {}}}}}
}

STATIC: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "the dashboard's script, style and uPlot",
            "content": {
                "text/javascript": {"schema": {}},
                "text/css": {"schema": {}},
                "text/plain": {"schema": {}},
            },
        },
        "404": _error("no such static file"),
    }
}
