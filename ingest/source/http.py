"""Flume's HTTP source as a FastAPI app: the collector's HTTP contract (design.md).

    POST /events, POST /   Flume JSONHandler: [{"headers": {...}, "body": "..."}]
    POST /v1/logs          raw lines, NDJSON, or OpenTelemetry logs (OTLP protobuf/JSON);
                           ?k=v query -> headers
    GET  /healthz          liveness plus channel and sink state
    GET  /metrics          Prometheus text
    GET  /openapi.json     the above as OpenAPI (source.openapi)

Per request: auth -> media type -> read (size limit) -> gunzip (limit) -> decode ->
validate all -> interceptors -> one channel transaction -> 200 once durable. Anything
wrong with the request is a 4xx naming what and where (and a rate-limited warning in the
log); a full channel is 503 with Retry-After; the channel is untouched by every rejected
request.

Content types follow what shippers send by default rather than what they should: any
text type, form-urlencoded (syslog-ng's http(), ``curl --data-binary``) and octet-stream
bodies are lines at /v1/logs and Flume JSON at /events; 415 only for types that cannot
be lines (images, multipart, ...).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect

from squall.auth import BearerAuth
from squall.ingest.channels.base import Channel
from squall.ingest.event import Event
from squall.ingest.exceptions import (
    BadRequest,
    ChannelError,
    ChannelFull,
    PayloadTooLarge,
    RequestRejected,
    Unauthorized,
    UnsupportedMediaType,
)
from squall.ingest.interceptors import InterceptorChain
from squall.ingest.metrics import IngestMetrics
from squall.ingest.source import openapi as spec
from squall.ingest.source.decode import content_type, decode_text, gunzip, utf8_error
from squall.ingest.source.formats import (
    OTLP_MEDIA,
    Limits,
    check_headers,
    parse_flume_json,
    parse_lines,
    parse_ndjson,
)
from squall.ingest.source.rejections import RejectionLog

if TYPE_CHECKING:  # imported on the first OTLP request: protobuf costs ~4 MiB at start
    from squall.ingest.source.otlp import OtlpBatch

__all__ = ["HttpSource"]

log = logging.getLogger(__name__)

# what shippers send by default, besides the proper types: all of it is text
_PLAIN_MEDIA = frozenset({"", "application/x-www-form-urlencoded", "application/octet-stream"})
_JSON_MEDIA = frozenset({"application/json", "text/json", *_PLAIN_MEDIA})
_NDJSON_MEDIA = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
_JSON_HEADERS = {"content-type": "application/json"}


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, otlp: str = ""
) -> Response:
    """The error answer: ``{"error", "status"}`` JSON, or for an OTLP request (``otlp`` its
    media type) a ``google.rpc.Status`` in the request's encoding."""
    if otlp:
        from squall.ingest.source.otlp import otlp_error

        return Response(otlp_error(status, message, otlp), status, headers, otlp)
    body = orjson.dumps({"error": message, "status": status})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _is_text(media: str) -> bool:
    return media in _PLAIN_MEDIA or media.startswith("text/")


def _otlp_media(request: Request) -> str:
    """The media type of an OTLP request to /v1/logs, else ``""``."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media if media in OTLP_MEDIA else ""


class HttpSource:
    """Turns HTTP requests into channel transactions."""

    def __init__(
        self,
        channel: Channel,
        chain: InterceptorChain,
        metrics: IngestMetrics,
        limits: Limits | None = None,
        auth: BearerAuth | None = None,
        health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.channel = channel
        self.chain = chain
        self.metrics = metrics
        self.limits = limits or Limits()
        self.auth = auth or BearerAuth((), "this collector")
        self._health = health or (lambda: {})
        self.identity: dict[str, Any] = {}  # {"worker": i, "workers": n} when several
        self.rejections = RejectionLog(log)

    # -- endpoints -----------------------------------------------------------------
    async def post_events(self, request: Request) -> Response:
        return await self._handle(request, self._events_body)

    async def post_logs(self, request: Request) -> Response:
        return await self._handle(request, self._logs_body, _otlp_media(request))

    async def healthz(self) -> Response:
        s = self.channel.stats()
        doc = {
            "status": "ok",
            **self.identity,
            "channel": {
                "type": self.channel.name,
                "events": s.events,
                "bytes": s.bytes,
                "capacity_events": s.capacity_events,
                "capacity_bytes": s.capacity_bytes,
                "oldest_age_seconds": round(s.oldest_age, 3),
            },
            **self._health(),
        }
        return Response(orjson.dumps(doc), media_type="application/json")

    async def metrics_text(self) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def app(
        self, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None
    ) -> FastAPI:
        """The FastAPI application serving this source."""
        app = FastAPI(
            title="Squall collector",
            lifespan=lifespan,
            docs_url=None,  # no Swagger/ReDoc pages: they load scripts from a CDN
            redoc_url=None,
        )
        route = app.add_api_route
        route("/events", self.post_events, methods=["POST"], openapi_extra=spec.EVENTS)
        route("/", self.post_events, methods=["POST"], openapi_extra=spec.EVENTS)
        route("/v1/logs", self.post_logs, methods=["POST"], openapi_extra=spec.LOGS)
        route("/healthz", self.healthz, methods=["GET"], openapi_extra=spec.HEALTHZ)
        route("/metrics", self.metrics_text, methods=["GET"], openapi_extra=spec.METRICS)
        return app

    # -- the request path ----------------------------------------------------------
    async def _handle(
        self,
        request: Request,
        parse: Callable[[Request, bytes, str, str], list[Event] | OtlpBatch],
        otlp: str = "",
    ) -> Response:
        start = time.perf_counter()
        metrics = self.metrics
        batch = None
        try:
            denied = self.auth.problem(request.headers.get("authorization"))
            if denied:
                raise Unauthorized(denied)
            media, charset = content_type(request.headers.get("content-type"))
            body = await self._read(request)
            parsed = parse(request, body, media, charset)
            if not isinstance(parsed, list):  # an OTLP request
                batch, events = parsed, parsed.events
                if batch.rejected:
                    metrics.rejected_records.labels("otlp_partial").inc(batch.rejected)
            else:
                events = parsed
            n = len(events)
            events = self.chain(events)
            if len(events) != n:
                metrics.filtered_events.inc(n - len(events))
            if events:
                tx = self.channel.transaction()
                tx.put(events)
                await tx.commit_async()
        except RequestRejected as exc:
            if exc.status == 413:
                await self._drain(request)
            headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
            return self._rejected(request, exc.status, exc.reason, str(exc), headers, otlp)
        except ChannelFull as exc:
            retry = {"retry-after": str(max(1, math.ceil(exc.retry_after)))}
            return self._rejected(request, 503, "channel_full", str(exc), retry, otlp)
        except ChannelError as exc:
            retry = {"retry-after": "1"}
            return self._rejected(request, 503, "channel_error", str(exc), retry, otlp)
        except ClientDisconnect:
            message = "the client disconnected before sending the whole body"
            return self._rejected(request, 400, "client_disconnect", message, None, otlp)
        metrics.accepted_requests.inc()
        metrics.accepted_events.inc(len(events))
        metrics.request_seconds.observe(time.perf_counter() - start)
        if batch is not None:
            from squall.ingest.source.otlp import otlp_reply

            return Response(otlp_reply(batch, otlp), media_type=otlp)
        return Response(b'{"accepted":%d}' % len(events), media_type="application/json")

    def _rejected(
        self,
        request: Request,
        status: int,
        reason: str,
        message: str,
        headers: dict[str, str] | None,
        otlp: str,
    ) -> Response:
        """Count, log (rate-limited) and answer a rejected request."""
        self.metrics.rejected_requests.labels(reason).inc()
        client = f"{request.client.host}:{request.client.port}" if request.client else "?"
        self.rejections.warn(status, reason, message, client, request.url.path)
        return _error(status, message, headers, otlp)

    async def _read(self, request: Request) -> bytes:
        limits = self.limits
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip"):
            raise UnsupportedMediaType(
                f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding"
            )
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise BadRequest(f"Content-Length {declared!r} is not a number") from None
            if size > limits.max_body_bytes:
                raise PayloadTooLarge(
                    f"body of {size} bytes is over the {limits.max_body_bytes}-byte limit; "
                    f"send smaller requests"
                )
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_body_bytes:
                raise PayloadTooLarge(
                    f"body is over the {limits.max_body_bytes}-byte limit; send smaller requests"
                )
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body:
            raise BadRequest("request body is empty; send events (see the collector's docs)")
        if encoding in ("gzip", "x-gzip"):
            body = gunzip(body, limits.max_decompressed_bytes)
            if not body:
                raise BadRequest("gzip body decompresses to nothing; send events")
        return body

    async def _drain(self, request: Request) -> None:
        """Read and drop what is left of a refused body, within the limits' bounds."""
        left, deadline = self.limits.drain_bytes, time.monotonic() + self.limits.drain_seconds
        try:
            while left > 0:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return
                message = await asyncio.wait_for(request.receive(), timeout)
                if message["type"] != "http.request":
                    return  # the client went away
                left -= len(message.get("body", b""))
                if not message.get("more_body", False):
                    return
        except (TimeoutError, ClientDisconnect):
            return

    def _events_body(self, request: Request, body: bytes, media: str, charset: str) -> list[Event]:
        if media not in _JSON_MEDIA and not _is_text(media):
            raise UnsupportedMediaType(
                f"Content-Type {media!r} is not accepted at {request.url.path}: send "
                f"application/json (Flume JSONHandler events), or raw lines, NDJSON or "
                f"OTLP logs to /v1/logs"
            )
        try:
            if charset == "utf-8":
                data = orjson.loads(body[3:] if body.startswith(b"\xef\xbb\xbf") else body)
            else:
                data = orjson.loads(decode_text(body, charset))
        except orjson.JSONDecodeError as exc:
            problem = utf8_error(body) if charset == "utf-8" else None
            raise BadRequest(
                problem
                or f"body is not valid JSON: {exc}; {request.url.path} takes Flume JSON events; "
                "raw lines go to /v1/logs"
            ) from exc
        return parse_flume_json(data, self.limits)

    def _logs_body(
        self, request: Request, body: bytes, media: str, charset: str
    ) -> list[Event] | OtlpBatch:
        if media in _NDJSON_MEDIA:
            parse = parse_ndjson
        elif _is_text(media) or media in OTLP_MEDIA:
            parse = parse_lines
        else:
            raise UnsupportedMediaType(
                f"Content-Type {media!r} is not accepted at /v1/logs: send text/plain "
                f"(one log line per event), application/x-ndjson (one JSON object per line), "
                f"or OpenTelemetry logs (application/x-protobuf or application/json)"
            )
        base = dict(request.query_params)
        if base:
            check_headers(base, self.limits, "query parameters")
            if "id" in base:
                raise BadRequest(
                    "query parameter 'id' would give every line the same id, and the id "
                    "header must be unique per event (it is used to drop duplicates); "
                    "leave it out and the collector assigns one per event"
                )
        if media in OTLP_MEDIA:
            from squall.ingest.source.otlp import parse_otlp

            return parse_otlp(body, media, base, self.limits)
        return parse(decode_text(body, charset), base, self.limits)
