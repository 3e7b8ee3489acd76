"""The collector and the query API as a user runs them with TLS and bearer tokens
(``squall collector``, ``squall serve`` as processes): HTTPS with a certificate made
here, right and wrong tokens answered as they should, and no token, right or wrong, in
any line either process wrote."""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from squall.processes import ProcessGroup, child_env

from .conftest import free_port

pytestmark = pytest.mark.timeout(120)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (``openssl``, PEM)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (Debian's openssl)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@dataclass
class Secured:
    collector: str
    serve: str
    ingest_token: str
    query_token: str
    trust: ssl.SSLContext
    parts: ProcessGroup
    data_dir: Path


def wait_https(parts: ProcessGroup, url: str, trust: ssl.SSLContext) -> None:
    """Poll ``url`` until it answers 200 over verified TLS (a part's start, not a sync)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts.check()
        try:
            if httpx.get(url, verify=trust, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 60 s")


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    cert, key = make_certificate(tmp_path)
    ingest_token, query_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    ports = free_port(), free_port()
    env = child_env(
        data_dir=str(tmp_path / "data"),
        collector_port=str(ports[0]),
        serve_port=str(ports[1]),
        ingest_tokens=f"another-{secrets.token_hex(8)},{ingest_token}",
        query_tokens=query_token,
        tls_certfile=str(cert),
        tls_keyfile=str(key),
    )
    parts = ProcessGroup(env, tmp_path / "logs")
    trust = ssl.create_default_context(cafile=str(cert))
    s = Secured(
        f"https://127.0.0.1:{ports[0]}",
        f"https://127.0.0.1:{ports[1]}",
        ingest_token,
        query_token,
        trust,
        parts,
        tmp_path,
    )
    try:
        parts.start("collector", "--verbose", "collector")  # debug logs: the most to leak
        parts.start("serve")
        wait_https(parts, f"{s.collector}/healthz", trust)
        wait_https(parts, f"{s.serve}/healthz", trust)
        yield s
    finally:
        parts.stop()


def test_tls_tokens_and_logs_that_keep_them_secret(secured: Secured) -> None:
    s = secured
    wrong = secrets.token_urlsafe(24)
    lines = b'127.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 7\n' * 3
    query = {
        "queryType": "timeseries",
        "interval": "2015-05-17/2015-05-18",
        "granularity": "day",
        "metrics": ["events"],
    }
    with httpx.Client(verify=s.trust, timeout=30) as client:
        ok = client.post(
            f"{s.collector}/v1/logs?service=web",
            content=lines,
            headers={"content-type": "text/plain", "authorization": f"Bearer {s.ingest_token}"},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"accepted": 3}
        for header in ({}, {"authorization": f"Bearer {wrong}"}, {"authorization": wrong}):
            refused = client.post(
                f"{s.collector}/v1/logs",
                content=lines,
                headers={"content-type": "text/plain", **header},
            )
            assert refused.status_code == 401, refused.text
            assert refused.headers["www-authenticate"] == "Bearer"
        # the query API takes its own tokens, not the collector's
        for token in (wrong, s.ingest_token):
            refused = client.post(
                f"{s.serve}/api/v1/query", json=query, headers={"authorization": f"Bearer {token}"}
            )
            assert refused.status_code == 401, refused.text
        answered = client.post(
            f"{s.serve}/api/v1/query",
            json=query,
            headers={"authorization": f"Bearer {s.query_token}"},
        )
        assert answered.status_code == 200, answered.text
        assert len(answered.json()["rows"]) == 1
        assert client.get(f"{s.serve}/healthz").status_code == 200  # open, as documented

    # TLS is not optional on those ports, and the certificate is what the client trusts
    with pytest.raises(httpx.HTTPError):
        httpx.get(s.collector.replace("https", "http") + "/healthz", timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{s.serve}/healthz", timeout=5)  # the system's CAs do not know it

    s.parts.stop()  # flush and close every log before reading them
    written = [p for p in s.data_dir.rglob("*") if p.is_file() and p.suffix in (".log", ".txt")]
    assert {p.name for p in written} >= {"collector.log", "serve.log"}
    text = "\n".join(p.read_text(errors="replace") for p in written)
    assert "401" in text or "unauthorized" in text  # the refusals were logged ...
    for secret in (s.ingest_token, s.query_token, wrong):
        assert secret not in text  # ... without the token


def test_demo_runs_over_tls_with_tokens(tmp_path: Path, apache_log_lines: list[str]) -> None:
    """``squall demo`` as a user runs it with TLS and tokens set: it starts the parts, talks
    to them over verified HTTPS with a token of each kind, and every replayed line counts."""
    cert, key = make_certificate(tmp_path)
    ingest_token, query_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    replay = tmp_path / "replay.log"
    lines = apache_log_lines[:500]
    replay.write_text("\n".join(lines) + "\n")
    ports = free_port(), free_port()
    env = child_env(
        collector_port=str(ports[0]),
        serve_port=str(ports[1]),
        ingest_tokens=ingest_token,
        query_tokens=query_token,
        tls_certfile=str(cert),
        tls_keyfile=str(key),
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "squall", "demo", "--data-dir", str(tmp_path / "data"),
         "--replay", str(replay)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert demo.stdout is not None
    said: list[str] = []
    try:
        for line in demo.stdout:  # ends when the demo exits; the test's timeout bounds it
            said.append(line)
            if line.startswith("all ") or line.startswith("running"):
                break
        output = "".join(said)
        assert f"all {len(lines)} events visible" in output, output
        assert f"dashboard  https://127.0.0.1:{ports[1]}/" in output, output
        trust = ssl.create_default_context(cafile=str(cert))
        answered = httpx.post(
            f"https://127.0.0.1:{ports[1]}/api/v1/query",
            json={
                "queryType": "timeseries",
                "interval": "2000-01-01/2100-01-01",
                "granularity": "all",
                "metrics": ["events"],
            },
            headers={"authorization": f"Bearer {query_token}"},
            verify=trust,
            timeout=30,
        )
        assert answered.status_code == 200, answered.text
        assert sum(r["events"] for r in answered.json()["rows"]) == len(lines)
    finally:
        demo.terminate()
        demo.wait(timeout=60)
        demo.stdout.close()
