"""The event: Flume's unit of data, a body with string headers.

Events travel as plain dicts shaped exactly like Flume's JSONHandler wire format
(``{"headers": {...}, "body": "..."}``) so that parsing, the channel and the broker
sink serialise them with one ``orjson`` call and no per-event wrapper objects.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["Event"]


class Event(TypedDict):
    """One log event. Header values are strings, as in Flume."""

    headers: dict[str, str]
    body: str
