"""squall.auth (the one bearer-token check) and squall.tls (uvicorn's TLS options)."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.auth import BearerAuth
from squall.exceptions import ConfigError
from squall.settings import load_settings
from squall.tls import scheme, uvicorn_tls

from ..e2e.test_tls_and_tokens import make_certificate


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),  # the scheme is case-insensitive (RFC 7235)
        ("Bearer  other-token ", True),
        ("Bearer s3cre", False),
        ("Bearer s3cret2", False),
        ("Basic s3cret", False),
        ("s3cret", False),
        ("Bearer ", False),
        ("Bearer \udcff", False),  # not UTF-8: refused, not an exception
        ("", False),
        (None, False),
    ],
)
def test_bearer_auth(header: str | None, allowed: bool) -> None:
    auth = BearerAuth(["s3cret", "other-token"], "this test")
    assert auth.allows(header) is allowed
    problem = auth.problem(header)
    assert (problem is None) is allowed
    if problem:
        assert "s3cret" not in problem and "other-token" not in problem


def test_no_tokens_means_auth_is_off() -> None:
    assert not BearerAuth([]).enabled
    assert BearerAuth([""]).allows(None)


def test_tls_options(tmp_path: Path) -> None:
    assert uvicorn_tls(load_settings({})) == {}
    assert scheme(load_settings({})) == "http"
    cert, key = make_certificate(tmp_path)
    settings = load_settings({"SQUALL_TLS_CERTFILE": str(cert), "SQUALL_TLS_KEYFILE": str(key)})
    assert uvicorn_tls(settings) == {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    assert scheme(settings) == "https"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SQUALL_TLS_CERTFILE": "CERT"}, "SQUALL_TLS_KEYFILE is unset"),
        ({"SQUALL_TLS_KEYFILE": "KEY"}, "SQUALL_TLS_CERTFILE is unset"),
        ({"SQUALL_TLS_CERTFILE": "CERT", "SQUALL_TLS_KEYFILE": "missing"}, "no such file"),
        ({"SQUALL_TLS_CERTFILE": "KEY", "SQUALL_TLS_KEYFILE": "CERT"}, "do not load"),
    ],
)
def test_tls_settings_that_cannot_work_are_config_errors(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    cert, key = make_certificate(tmp_path)
    paths = {"CERT": str(cert), "KEY": str(key), "missing": str(tmp_path / "nope.pem")}
    settings = load_settings({k: paths[v] for k, v in env.items()})
    with pytest.raises(ConfigError, match=message):
        uvicorn_tls(settings)
