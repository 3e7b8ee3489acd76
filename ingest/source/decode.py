"""From HTTP bytes to text: Content-Type parsing, gzip with a size limit, charsets.

Charsets follow what Java clients (Flume's own) send: ``UTF-16``/``UTF-32`` use a byte
order mark if present and big-endian otherwise (Python's codecs would assume the
machine's order). A UTF-8 byte order mark is skipped.
"""

from __future__ import annotations

import zlib

from squall.ingest.exceptions import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["CHARSETS", "content_type", "decode_text", "gunzip", "utf8_error"]

# declared name -> canonical name
CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-16": "utf-16",
    "utf-16be": "utf-16-be",
    "utf-16le": "utf-16-le",
    "utf-32": "utf-32",
    "utf-32be": "utf-32-be",
    "utf-32le": "utf-32-le",
    "iso-8859-1": "latin-1",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
}

_BOMS = {
    "utf-8": ((b"\xef\xbb\xbf", "utf-8"),),
    "utf-16": ((b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le")),
    "utf-32": ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le")),
}
_NO_BOM = {"utf-8": "utf-8", "utf-16": "utf-16-be", "utf-32": "utf-32-be"}


def content_type(header: str | None) -> tuple[str, str]:
    """(media type, canonical charset) from a Content-Type header; charset utf-8 by default."""
    if not header:
        return "", "utf-8"
    media, _, params = header.partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            declared = value.strip().strip('"').lower()
            canonical = CHARSETS.get(declared)
            if canonical is None:
                raise UnsupportedMediaType(
                    f"charset {declared!r} is not supported; use one of "
                    f"{sorted(set(CHARSETS))} (UTF-8 if omitted)"
                )
            charset = canonical
    return media.strip().lower(), charset


def utf8_error(body: bytes) -> str | None:
    """Where ``body`` stops being valid UTF-8, as a message; None if it is valid."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        return (
            f"body is not valid UTF-8 at byte {exc.start} (line {line}): {exc.reason}; "
            f"send UTF-8 or declare the body's charset in Content-Type"
        )
    return None


def decode_text(body: bytes, charset: str) -> str:
    """``body`` as text in ``charset`` (canonical name); 400 naming the byte if invalid."""
    codec = charset
    for bom, bom_codec in _BOMS.get(charset, ()):
        if body.startswith(bom):
            body, codec = body[len(bom) :], bom_codec
            break
    else:
        codec = _NO_BOM.get(charset, charset)
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        if codec == "utf-8":
            raise BadRequest(utf8_error(body) or str(exc)) from exc
        raise BadRequest(
            f"body is not valid {charset.upper()} (decoded as {codec}) at byte {exc.start}: "
            f"{exc.reason}; send that charset or declare the right one in Content-Type"
        ) from exc


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body (one or more members), refusing to expand past ``limit``."""
    out: list[bytes] = []
    total = 0
    data = body
    inflater = zlib.decompressobj(wbits=31)
    while True:
        try:
            chunk = inflater.decompress(data, limit + 1 - total)
        except zlib.error as exc:
            raise BadRequest(
                f"body is not valid gzip ({exc}) though Content-Encoding says gzip; "
                f"send gzip data or drop the header"
            ) from exc
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(
                f"gzip body decompresses to more than {limit} bytes (the limit); "
                f"send smaller requests"
            )
        out.append(chunk)
        if inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
        elif inflater.eof:
            if not inflater.unused_data:
                return b"".join(out)
            data = inflater.unused_data  # another gzip member follows
            inflater = zlib.decompressobj(wbits=31)
        else:
            raise BadRequest("gzip body is truncated (the stream does not end); send all of it")
