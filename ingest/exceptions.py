"""Errors of the collector.

    SquallError
    └── IngestError
        ├── RequestRejected           a request the source refuses; carries its HTTP status
        │   ├── BadRequest            400: malformed body; the message says what and where
        │   ├── Unauthorized          401: missing or unknown bearer token
        │   ├── PayloadTooLarge       413: body, decompressed body or event count too large
        │   └── UnsupportedMediaType  415: content type, charset or encoding not understood
        ├── ChannelError              the channel cannot do what was asked
        │   ├── ChannelFull           backpressure: retry after ``retry_after`` seconds (503)
        │   └── ChannelCorrupted      a file-channel segment is damaged beyond its tail
        ├── SinkError                 a sink could not deliver a batch (the runner retries)
        ├── SendFailed                ``squall send``: the collector refused or is unreachable
        └── CollectorConfigError      the agent configuration is wrong (also a ConfigError)

Every ``RequestRejected`` becomes an HTTP answer with its status and message; nothing a
client sends can turn into a 500.
"""

from __future__ import annotations

from squall.exceptions import ConfigError, SquallError

__all__ = [
    "BadRequest",
    "ChannelCorrupted",
    "ChannelError",
    "ChannelFull",
    "CollectorConfigError",
    "IngestError",
    "PayloadTooLarge",
    "RequestRejected",
    "SendFailed",
    "SinkError",
    "Unauthorized",
    "UnsupportedMediaType",
]


class IngestError(SquallError):
    """Something went wrong in the collector."""


class RequestRejected(IngestError):
    """The source refuses a request; ``status`` is the HTTP status to answer with."""

    status = 400
    reason = "malformed"


class BadRequest(RequestRejected):
    """The body is malformed; the message says what is wrong and where."""


class Unauthorized(RequestRejected):
    """Tokens are configured and the request has no valid ``Authorization: Bearer``."""

    status = 401
    reason = "unauthorized"


class PayloadTooLarge(RequestRejected):
    """The body, its decompressed form, or its number of events exceeds a limit."""

    status = 413
    reason = "too_large"


class UnsupportedMediaType(RequestRejected):
    """The Content-Type, charset or Content-Encoding is not one the source reads."""

    status = 415
    reason = "unsupported_media_type"


class ChannelError(IngestError):
    """The channel cannot complete the operation."""


class ChannelFull(ChannelError):
    """The channel is at capacity: backpressure. Retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelCorrupted(ChannelError):
    """A file-channel segment is damaged before its last record (not a torn tail)."""


class SinkError(IngestError):
    """A sink could not deliver a batch; the sink runner rolls back and retries."""


class SendFailed(IngestError):
    """``squall send`` could not ship the file: a 4xx answer, or the collector is down."""


class CollectorConfigError(IngestError, ConfigError):
    """The collector's configuration (file or SQUALL_* variables) cannot be used."""
