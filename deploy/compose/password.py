"""The metadata store's password for ``squall compose``: kept in deploy/.env, never in git.

``squall compose build|up`` call ``ensure`` first: when neither the environment nor
deploy/.env gives ``POSTGRES_PASSWORD`` a value, it writes a random one into deploy/.env
(gitignored, mode 0600), so the password survives ``down -v`` and reaches every service
through compose's own variable substitution. An explicitly empty ``POSTGRES_PASSWORD`` in
the environment is left alone: then, as for a plain ``docker compose up`` without .env,
the postgres service generates one into its volume (deploy/docker/postgres.sh).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

__all__ = ["VARIABLE", "ensure"]

VARIABLE = "POSTGRES_PASSWORD"
_LINE = re.compile(rf"^[ \t]*{VARIABLE}[ \t]*=[ \t]*['\"]?(?P<value>[^'\"\n]*)['\"]?[ \t]*$", re.M)


def ensure(env_file: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Write a random ``POSTGRES_PASSWORD`` into ``env_file`` unless one is set (in
    ``environ``, default ``os.environ``, even empty; or non-empty in the file). True when
    it wrote one."""
    env = os.environ if environ is None else environ
    if VARIABLE in env:
        return False
    text = env_file.read_text() if env_file.is_file() else ""
    found = _LINE.search(text)
    if found and found["value"].strip():
        return False
    line = f"{VARIABLE}={secrets.token_urlsafe(24)}"
    if found:  # an empty `POSTGRES_PASSWORD=` (as copied from .env.example): fill it in
        text = text[: found.start()] + line + text[found.end() :]
    else:
        text += ("" if not text or text.endswith("\n") else "\n") + (
            "# the metadata store's password, written by `squall compose`: keep it secret\n"
            f"{line}\n"
        )
    env_file.touch(mode=0o600, exist_ok=True)
    env_file.write_text(text)
    return True
