"""Errors of the deploy tooling (local Maven-jar stack and docker compose).

    SquallError
    └── StackError
        ├── ToolMissing               a program the stack needs is not installed
        │   ├── JavaNotFound          no ``java`` (JAVA_HOME or PATH), or too old
        │   └── MavenNotFound         no ``mvn`` on PATH
        ├── DependencyResolutionFailed  Maven could not resolve a service's jars
        ├── PortInUse                 another process listens on a port a service needs
        ├── ServiceFailed             a service did not start, died, or failed a setup step
        │   └── ServiceTimeout        a service did not become healthy in time
        ├── UnknownService            ``squall stack`` was given a service it does not know
        └── ComposeUnavailable        no Docker engine for ``squall compose``

Every message says what to do next (install, free the port, read the log at ...).
"""

from __future__ import annotations

from squall.exceptions import SquallError

__all__ = [
    "ComposeUnavailable",
    "DependencyResolutionFailed",
    "JavaNotFound",
    "MavenNotFound",
    "PortInUse",
    "ServiceFailed",
    "ServiceTimeout",
    "StackError",
    "ToolMissing",
    "UnknownService",
]


class StackError(SquallError):
    """Something went wrong starting, stopping or inspecting a local service."""


class ToolMissing(StackError):
    """A program the stack needs (Java, Maven) is not installed."""


class JavaNotFound(ToolMissing):
    """No usable ``java``: install a JDK (17 or newer) or set JAVA_HOME."""


class MavenNotFound(ToolMissing):
    """No ``mvn`` on PATH: install Apache Maven (e.g. ``apt-get install maven``)."""


class DependencyResolutionFailed(StackError):
    """Maven ran but could not resolve the jars; the message carries its output."""


class PortInUse(StackError):
    """A port the service must bind is taken by another process."""


class ServiceFailed(StackError):
    """A service exited, or one of its setup steps failed; the message points at its log."""


class ServiceTimeout(ServiceFailed):
    """A service is running but did not become healthy before the deadline."""


class UnknownService(StackError):
    """A service name the local stack does not know."""


class ComposeUnavailable(StackError):
    """``squall compose`` needs a Docker engine, and none is reachable here."""
