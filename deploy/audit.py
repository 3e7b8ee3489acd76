"""``make audit``: pip-audit over the dependencies pinned in pyproject.toml.

pip-audit passes when it cannot look anything up: a package index without vulnerability
data (a mirror) answers "not found", pip-audit skips the package and still prints "No
known vulnerabilities found", exit 0. So a canary goes first: a pin with a well-known
advisory (requests 2.19.0, CVE-2018-18074). Each vulnerability service (PyPI's JSON API,
then OSV) is tried with it; the audit runs on the first that reports the canary, and if
none does, this says so and exits 2: an audit that could not be done is never a pass.

Exit codes: 0 audited, nothing known; 1 vulnerabilities found (listed); 2 not audited.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["main", "pinned"]

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
CANARY = "requests==2.19.0"
CANARY_ADVISORY = "CVE-2018-18074"
SERVICES = ("pypi", "osv")


def pinned(pyproject: Path = PYPROJECT) -> list[str]:
    """The ``name==version`` pins of the dependencies and every extra, comments dropped."""
    project = tomllib.loads(pyproject.read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    return sorted({s.split(";")[0].strip() for s in specs})


def _audit(requirements: list[str], service: str) -> tuple[dict[str, Any] | None, str]:
    """pip-audit's JSON report for ``requirements``, or None and why it failed."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
        req.write("\n".join(requirements) + "\n")
        req.flush()
        command = [sys.executable, "-m", "pip_audit", "-r", req.name, "--no-deps"]
        command += ["--disable-pip", "-s", service, "-f", "json", "--progress-spinner", "off"]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=600,
        )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return None, lines[-1] if lines else f"pip-audit exited {done.returncode}"
    return report, ""


def _ids(dep: dict[str, Any]) -> set[str]:
    return {v["id"] for v in dep.get("vulns", [])} | {
        a for v in dep.get("vulns", []) for a in v.get("aliases", [])
    }


def main() -> int:
    pins = pinned()
    print(f"make audit: pip-audit over {len(pins)} pins of pyproject.toml (dependencies, extras)")
    service = ""
    for candidate in SERVICES:
        report, error = _audit([CANARY], candidate)
        if report is None:
            print(f"  service {candidate}: unreachable ({error})")
            continue
        (dep,) = report["dependencies"]
        if CANARY_ADVISORY in _ids(dep):
            print(f"  service {candidate}: answers (canary {CANARY} -> {CANARY_ADVISORY})")
            service = candidate
            break
        why = dep.get("skip_reason") or "reported no vulnerabilities"
        print(f"  service {candidate}: no vulnerability data (canary {CANARY}: {why})")
    if not service:
        print(
            "AUDIT NOT DONE: no vulnerability service answers from here (the package index "
            "is a mirror without vulnerability data, and OSV cannot be reached). Nothing was "
            "checked; run `make audit` where PyPI's JSON API or api.osv.dev is reachable."
        )
        return 2
    report, error = _audit(pins, service)
    if report is None:
        print(f"AUDIT NOT DONE: pip-audit failed on the pins ({error})")
        return 2
    skipped = [d for d in report["dependencies"] if d.get("skip_reason")]
    found = [d for d in report["dependencies"] if d.get("vulns")]
    for dep in found:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            print(f"  {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    for dep in skipped:
        print(f"  not audited: {dep['name']}: {dep['skip_reason']}")
    audited = len(report["dependencies"]) - len(skipped)
    print(f"{audited} audited, {len(skipped)} not audited, {len(found)} with vulnerabilities")
    if found:
        return 1
    return 2 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
