"""TLS for the HTTP services (collector, query API) from ``SQUALL_TLS_CERTFILE`` and
``SQUALL_TLS_KEYFILE``: both set means HTTPS, neither plain HTTP (for 127.0.0.1 or behind
a proxy that terminates TLS). Checked before the server starts, so a wrong path is a
``ConfigError`` naming the setting, not a traceback from inside uvicorn."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from squall.exceptions import ConfigError
from squall.settings import Settings

__all__ = ["client_verify", "scheme", "uvicorn_tls"]


def uvicorn_tls(settings: Settings) -> dict[str, Any]:
    """uvicorn's ``ssl_certfile``/``ssl_keyfile`` options, or ``{}`` when TLS is off."""
    cert, key = settings.tls_certfile, settings.tls_keyfile
    if not cert and not key:
        return {}
    if not cert or not key:
        missing = "SQUALL_TLS_KEYFILE" if cert else "SQUALL_TLS_CERTFILE"
        raise ConfigError(
            f"TLS needs both SQUALL_TLS_CERTFILE and SQUALL_TLS_KEYFILE; {missing} is unset. "
            "Set both (PEM files) or neither (plain HTTP)."
        )
    for name, path in (("SQUALL_TLS_CERTFILE", cert), ("SQUALL_TLS_KEYFILE", key)):
        if not Path(path).is_file():
            raise ConfigError(f"{name}={path!r}: no such file; give the path of a PEM file")
    try:  # what uvicorn does at start, here with an error that says which setting
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"SQUALL_TLS_CERTFILE={cert!r} and SQUALL_TLS_KEYFILE={key!r} do not load as a "
            f"certificate and its private key ({exc}); give PEM files that belong together"
        ) from exc
    return {"ssl_certfile": cert, "ssl_keyfile": key}


def scheme(settings: Settings) -> str:
    """``https`` when TLS is configured, else ``http``."""
    return "https" if settings.tls_certfile else "http"


def client_verify(settings: Settings) -> ssl.SSLContext | bool:
    """What a client on this machine (the demo) verifies the services with: the system's
    CAs plus the configured certificate itself, so a self-signed one is trusted as well as
    one a CA signed; ``True`` (the system's CAs) when TLS is off."""
    if not settings.tls_certfile:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=settings.tls_certfile)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the leaf itself is an anchor
    return context
