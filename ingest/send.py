"""``squall send``: ship a log file to the collector in batches, honouring backpressure.

Lines go to ``POST /v1/logs`` (``?service=`` when given), ``batch`` per request. A 503
is waited out for its ``Retry-After`` and the same batch is sent again; connection
errors are retried with backoff for a while; any other refusal stops the run with the
collector's message and the line numbers of the batch.
"""

from __future__ import annotations

import gzip as gzip_module
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
from tqdm import tqdm

from squall.ingest.exceptions import SendFailed

__all__ = ["send_file"]

_MAX_RETRY_AFTER = 30.0


def _batches(stream: BinaryIO, size: int) -> Iterator[tuple[int, list[bytes]]]:
    batch: list[bytes] = []
    first = 1
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        if not batch:
            first = n
        batch.append(line if line.endswith(b"\n") else line + b"\n")
        if len(batch) >= size:
            yield first, batch
            batch = []
    if batch:
        yield first, batch


def send_file(
    path: str,
    url: str = "http://127.0.0.1:8100",
    service: str | None = None,
    batch: int = 1000,
    token: str | None = None,
    gzip: bool = False,
    progress: bool = True,
    connect_retry_seconds: float = 30.0,
    verify: ssl.SSLContext | bool = True,
) -> int:
    """Send every non-blank line of ``path`` ('-' = stdin); return the events accepted."""
    if batch < 1:
        raise SendFailed("--batch must be at least 1")
    headers = {"content-type": "text/plain; charset=utf-8"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if gzip:
        headers["content-encoding"] = "gzip"
    params = {"service": service} if service else {}
    endpoint = url.rstrip("/") + "/v1/logs"
    try:
        stream: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise SendFailed(f"cannot read {path}: {exc}") from exc
    total = None if path == "-" else Path(path).stat().st_size
    accepted = 0
    with (
        stream,
        httpx.Client(timeout=60.0, verify=verify) as client,
        tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc="send") as bar,
    ):
        for first, lines in _batches(stream, batch):
            body = b"".join(lines)
            payload = gzip_module.compress(body, 1) if gzip else body
            accepted += _post(
                client, endpoint, payload, headers, params, first, len(lines), connect_retry_seconds
            )
            bar.update(len(body))
            bar.set_postfix(events=accepted, refresh=False)
    return accepted


def _post(
    client: httpx.Client,
    endpoint: str,
    payload: bytes,
    headers: dict[str, str],
    params: dict[str, str],
    first: int,
    count: int,
    connect_retry_seconds: float,
) -> int:
    backoff = 0.2
    down_since: float | None = None
    while True:
        try:
            response = client.post(endpoint, content=payload, headers=headers, params=params)
        except httpx.TransportError as exc:
            now = time.monotonic()
            down_since = down_since or now
            if now - down_since > connect_retry_seconds:
                raise SendFailed(
                    f"collector at {endpoint} unreachable for {connect_retry_seconds:g}s "
                    f"({exc}); is `squall collector` running?"
                ) from exc
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            continue
        down_since = None
        if response.status_code == 200:
            return int(response.json()["accepted"])
        if response.status_code == 503:
            try:
                wait = float(response.headers.get("retry-after", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(min(max(wait, 0.1), _MAX_RETRY_AFTER))
            continue
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise SendFailed(
            f"collector refused lines {first}..{first + count - 1} with "
            f"{response.status_code}: {message}"
        )
