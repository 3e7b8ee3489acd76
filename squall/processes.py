"""The pipeline's parts as ``squall`` child processes: started, watched and stopped
together. Used by ``squall demo``, the end-to-end tests and the benchmarks, so that all
three run the parts exactly as a user would."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from squall.exceptions import SquallError

__all__ = ["PART_ARGS", "PartExited", "ProcessGroup", "child_env"]

PART_ARGS: Mapping[str, tuple[str, ...]] = {
    "collector": ("collector",),
    "topology": ("topology", "run", "log-metrics"),
    "serve": ("serve",),
}
"""The ``squall`` arguments of each part of the pipeline."""


class PartExited(SquallError):
    """A part stopped on its own or never became ready; its log says why."""


class ProcessGroup:
    """Child processes of ``python -m squall ...`` sharing ``env``, logging to
    ``log_dir/NAME.log``."""

    def __init__(self, env: Mapping[str, str], log_dir: Path) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        """Start part ``name``; ``args`` default to its entry in ``PART_ARGS``; ``env``
        adds variables for this part only."""
        argv = args or PART_ARGS[name]
        child = {**self.env, **env} if env else self.env
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own fd
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "squall", *argv], env=child, stdout=log, stderr=log
            )

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def check(self) -> None:
        """Raise PartExited if any part has exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                log = self.log_dir / f"{name}.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise PartExited(
                    f"{name} exited with code {proc.returncode}; its log {log} ends:\n{tail}"
                )

    def wait_http(
        self, name: str, url: str, timeout: float = 60.0, verify: ssl.SSLContext | bool = True
    ) -> None:
        """Wait until ``url`` answers 200, failing early if a part exits; ``verify`` as
        httpx's, for an ``https`` URL."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(url, timeout=1.0, verify=verify).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise PartExited(f"{name} did not answer {url} within {timeout:.0f}s")

    def kill(self, name: str) -> None:
        """kill -9 part ``name``, as a crash would."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def terminate(self, name: str, timeout: float = 20.0) -> None:
        """Stop part ``name`` as an operator would (SIGTERM; SIGKILL after ``timeout``)."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM every part, then SIGKILL what is still running after ``timeout``."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def child_env(**settings: str) -> dict[str, str]:
    """This process's environment with ``SQUALL_<NAME>`` set for each keyword, and the
    broker and store unset unless given (children use the defaults under the data dir)."""
    env = dict(os.environ)
    env.pop("SQUALL_BROKER", None)
    env.pop("SQUALL_STORE", None)
    env.update({f"SQUALL_{k.upper()}": v for k, v in settings.items()})
    return env
