"""The query API and dashboard over one ``Store`` (FastAPI; default 127.0.0.1:8200).

* ``POST /api/v1/query``: a query (serve.query) -> ``{"rows": [...]}``; 400
  ``{"error": message}`` for anything invalid or over a limit (serve.limits), the message
  listing what is allowed; 408 when it runs past ``SQUALL_QUERY_TIMEOUT``. Queries run on
  worker threads, so a slow one never holds up the others.
* ``POST /api/v1/search``: a search (serve.search) -> ``{"events": [...], "next": ...}``,
  the stored raw events newest first; 400 as above, 404 when the store keeps no events.
* ``GET /api/v1/time-boundary``: ``{"minTime", "maxTime"}`` of the stored data (as
  Druid's timeBoundary), so the dashboard can follow replayed, years-old data.
* ``GET /healthz``: liveness, plus the loader's counters when a loader is attached.
* ``GET /api/v1/pipeline``: the pipeline's state (serve.pipeline: workers, consumer lag,
  collector) when the app is given one; ``GET /pipeline`` is its page.
* ``GET /openapi.json``: the above as OpenAPI (serve.openapi); no docs pages (CDN scripts).
* ``GET /``: the live dashboard, one page whose script, style and charting library
  (uPlot, vendored under ``serve/static/`` with its licence) come from ``GET /static/...``
  on the same server: nothing from elsewhere, so it works where there is no internet.

When tokens are configured (``SQUALL_QUERY_TOKENS``) the ``/api/`` routes need
``Authorization: Bearer <token>`` (squall.auth, constant time) and answer 401 otherwise;
``/healthz`` and the page itself stay open (the page asks for a token on 401).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from squall.auth import BearerAuth
from squall.serve import openapi as spec
from squall.serve.exceptions import (
    InvalidQuery,
    QueryTimeout,
    ServeError,
    StoreError,
    StoreUnavailable,
)
from squall.serve.intervals import format_time
from squall.serve.limits import MAX_BODY_BYTES, too_deep
from squall.serve.query import parse_query
from squall.serve.search import parse_search, search_page
from squall.serve.store import Store

__all__ = ["create_app"]

_DASHBOARD = Path(__file__).with_name("dashboard.html")
_PIPELINE = Path(__file__).with_name("pipeline.html")
_STATIC = Path(__file__).with_name("static")
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE
}


class _TooLarge(ServeError):
    """A request body over MAX_BODY_BYTES (HTTP 413)."""


def _json(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def create_app(
    store: Store,
    tokens: Iterable[str] = (),
    health: Callable[[], Mapping[str, Any]] | None = None,
    pipeline: Callable[[], Mapping[str, Any]] | None = None,
) -> FastAPI:
    """The API over ``store``; ``health`` adds fields (e.g. loader lag) to ``/healthz``;
    ``pipeline`` answers ``/api/v1/pipeline`` (e.g. ``PipelineStatus.read``)."""
    # no Swagger/ReDoc pages: they load scripts from a CDN, and the dashboard must not
    app = FastAPI(title="Squall query API", docs_url=None, redoc_url=None)  # + /openapi.json
    auth = BearerAuth(tokens, "this query API")
    page = _DASHBOARD.read_bytes()
    pipeline_page = _PIPELINE.read_bytes()
    # every static file, read once: the URL picks from this table, never from the disk
    static = {
        path.relative_to(_STATIC).as_posix(): (path.read_bytes(), _MEDIA_TYPES[path.suffix])
        for path in sorted(_STATIC.rglob("*"))
        if path.is_file() and path.suffix in _MEDIA_TYPES
    }

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        denied = (
            auth.problem(request.headers.get("authorization"))
            if request.url.path.startswith("/api/v1/")
            else None
        )
        if denied:
            return _json(
                {"error": denied, "type": "Unauthorized"}, 401, {"WWW-Authenticate": "Bearer"}
            )
        response: Response = await call_next(request)
        return response

    @app.exception_handler(InvalidQuery)
    async def invalid_query(request: Request, exc: InvalidQuery) -> Response:
        return _json({"error": str(exc), "type": type(exc).__name__}, 400)

    @app.exception_handler(QueryTimeout)
    async def query_timeout(request: Request, exc: QueryTimeout) -> Response:
        return _json({"error": str(exc), "type": type(exc).__name__}, 408)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        status = 503 if isinstance(exc, StoreUnavailable) else 500
        return _json({"error": str(exc), "type": type(exc).__name__}, status)

    async def read_body(request: Request, example: str) -> Any:
        declared = request.headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else 0
        raw = b"" if size > MAX_BODY_BYTES else await request.body()
        size = max(size, len(raw))
        if size > MAX_BODY_BYTES:
            raise _TooLarge(f"the body is {size} bytes; the limit is {MAX_BODY_BYTES}")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc) or "recursion limit" in str(exc):
                raise too_deep() from exc
            raise InvalidQuery(
                f"the body is not valid JSON ({exc}); send an object such as {example}"
            ) from exc

    @app.exception_handler(_TooLarge)
    async def too_large(request: Request, exc: _TooLarge) -> Response:
        return _json({"error": str(exc), "type": "TooLarge"}, 413)

    @app.post("/api/v1/query", openapi_extra=spec.QUERY)
    async def query(request: Request) -> Response:
        body = await read_body(
            request,
            '{"queryType": "timeseries", "interval": "2015-05-17/2015-05-18", '
            '"granularity": "hour", "metrics": ["events"]}',
        )
        parsed = parse_query(body, max_rows=store.max_rows)
        rows = await run_in_threadpool(store.query, parsed)
        return _json({"rows": rows})

    @app.post("/api/v1/search", openapi_extra=spec.SEARCH)
    async def search(request: Request) -> Response:
        body = await read_body(
            request,
            '{"interval": "2015-05-17/2015-05-18", "filter": {"status_class": "5xx"}, '
            '"contains": "timeout"}',
        )
        parsed = parse_search(body)
        events = store.events
        if events is None:
            return _json(
                {
                    "error": f"the store {store.url} keeps no raw events; search needs the "
                    "DuckDB store or Druid with its log_events supervisor",
                    "type": "NoEvents",
                },
                404,
            )
        page = await run_in_threadpool(search_page, events, parsed)
        return _json(page)

    @app.get("/api/v1/time-boundary", openapi_extra=spec.TIME_BOUNDARY)
    async def time_boundary() -> Response:
        bounds = await run_in_threadpool(store.time_boundary)
        if bounds is None:
            return _json({"minTime": None, "maxTime": None})
        return _json({"minTime": format_time(bounds[0]), "maxTime": format_time(bounds[1])})

    @app.get("/healthz", openapi_extra={"responses": {"200": spec.json_answer("ok", {})}})
    async def healthz() -> Response:
        extra = await run_in_threadpool(health) if health else {}  # may read the store
        return _json({"status": "ok", **extra})

    @app.get("/", openapi_extra=spec.PAGE)
    async def dashboard() -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    @app.get("/api/v1/pipeline", openapi_extra=spec.PIPELINE)
    async def pipeline_status() -> Response:
        if pipeline is None:
            return _json(
                {"error": "this query API watches no pipeline (`squall serve` and the demo do)"},
                404,
            )
        return _json(await run_in_threadpool(pipeline))

    @app.get("/pipeline", openapi_extra=spec.PAGE)
    async def pipeline_html() -> Response:
        return HTMLResponse(pipeline_page, headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name:path}", openapi_extra=spec.STATIC)
    async def static_file(name: str) -> Response:
        found = static.get(name)
        if found is None:
            return _json({"error": f"no static file {name!r}"}, 404)
        body, media_type = found
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})

    return app
