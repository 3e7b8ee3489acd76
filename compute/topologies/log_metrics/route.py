"""Route templating: a request target -> a low-cardinality ``route`` dimension.

Every distinct route is a row per minute in the store, so ids must not become routes.
The rules, applied in order (pure functions of the target: the same path gives the same
route in every worker and after every replay, which exactly-once results rely on):

1. The query (``?...``) and fragment (``#...``) are removed; an absolute-form target
   (``http://host/path``, as sent to proxies) keeps only its path.
2. ``*`` (``OPTIONS *``) stays ``*``; any other target that does not start with ``/``
   (``CONNECT host:443``, garbage) becomes ``-``.
3. Empty segments are dropped (``//a`` -> ``/a``); a trailing slash is kept.
4. A segment becomes ``:id`` when it looks like an identifier:

   * all digits (``123``, ``20150517``);
   * a UUID (``123e4567-e89b-12d3-a456-426614174000``, any case);
   * hex of 16+ characters, or of 8+ characters with at least one digit
     (hashes, object ids: ``9f86d081884c7d65``, ``507f1f77bcf86cd799439011``, ``a1b2c3d4``);
   * 4+ digits that make up at least half the segment (``2015-05-17``, ``10.0.0.1``,
     ``i-0123456789abcdef0``, ``order12345``);
   * a 12+ character token of ``[A-Za-z0-9_-]`` mixing upper case, lower case and digits
     (base64/base62 ids, API keys: ``dQw4w9WgXcQ5``);
   * longer than 64 characters (no route name is that long; scanners send such paths).

   File names (``stem.ext``, the extension starting with a letter: ``logo.png``,
   ``183.html``) are static files and stay as they are unless overlong; words and slugs
   (``logstash-scale11x``, ``v2``, ``h264``) stay too.
5. At most 12 segments are kept; deeper paths end in ``/*``.

Templating is memoised (a bounded LRU of recent paths), so the per-event cost on real
traffic, which repeats paths, is a dictionary lookup.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["ID", "MAX_SEGMENTS", "MAX_SEGMENT_LENGTH", "template_route"]

ID = ":id"
"""What an id-like segment becomes."""

MAX_SEGMENTS = 12
"""Segments kept; a deeper path is cut and ends in ``/*``."""

MAX_SEGMENT_LENGTH = 64
"""Longer segments become ``:id`` whatever they contain."""

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]{8,}")
_FILE = re.compile(r".+\.[A-Za-z][A-Za-z0-9]{0,7}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{12,}")
_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_WORDS_LIMIT = 65536
_words: dict[str, bool] = {}


def template_route(target: str) -> str:
    """Request target (path, maybe with query) -> route, e.g. ``/users/:id/orders/:id``."""
    cut = target.find("?")
    if cut >= 0:
        target = target[:cut]
    return _template_path(target)


@lru_cache(maxsize=16384)
def _template_path(path: str) -> str:
    cut = path.find("#")
    if cut >= 0:
        path = path[:cut]
    if not path.startswith("/"):
        if path.startswith(("http://", "https://")):
            slash = path.find("/", path.index("//") + 2)
            path = path[slash:] if slash >= 0 else "/"
        else:
            return path if path == "*" else "-"
    segments = [s for s in path.split("/") if s]
    trailing = path.endswith("/") and bool(segments)
    if len(segments) > MAX_SEGMENTS:
        segments = [*segments[:MAX_SEGMENTS], "*"]
        trailing = False
    route = "/" + "/".join([ID if _is_id(s) else s for s in segments])  # hot on cache misses
    return route + "/" if trailing else route


def _is_id(segment: str) -> bool:
    if segment.isdigit():  # the commonest id; Unicode digits are not names either
        return True
    known = _words.get(segment)
    if known is not None:
        return known
    result = _looks_like_id(segment)
    if not result:  # words repeat, ids rarely do: remember only words
        if len(_words) >= _WORDS_LIMIT:
            _words.clear()
        _words[segment] = result
    return result


def _looks_like_id(segment: str) -> bool:
    length = len(segment)
    if length > MAX_SEGMENT_LENGTH:
        return True
    if length < 4 or _FILE.fullmatch(segment):
        return False
    if length >= 8 and _HEX.fullmatch(segment):
        return length >= 16 or _DIGIT.search(segment) is not None
    if length == 36 and _UUID.fullmatch(segment):
        return True
    digits = len(_DIGIT.findall(segment))
    if digits >= 4 and digits * 2 >= length:
        return True
    return bool(
        digits
        and length >= 12
        and _TOKEN.fullmatch(segment)
        and _UPPER.search(segment)
        and _LOWER.search(segment)
    )
