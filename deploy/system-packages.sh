#!/usr/bin/env bash
# Installs the Debian packages that Squall's tests and commands need and that a new
# machine may lack. `make test` runs it first (`make system-packages`).
#
# Each need is COMMAND:PACKAGES: nothing is done when COMMAND is already on the PATH, so
# a machine that has everything loses no time. As root, what is missing is installed
# with apt-get; otherwise the script names the command to run, and fails under CI=true
# (where a missing package would fail tests later, less clearly).
set -euo pipefail

NEEDS=(
    "chromium:chromium"  # tests/serve/test_dashboard_browser.py: the dashboard, headless
    # tests/e2e/test_shippers.py: syslog-ng 3.38 and its http() destination
    "syslog-ng:syslog-ng-core syslog-ng-mod-http"
    "dockerd:docker.io"  # the compose stack's tests (make test starts the engine)
    "debootstrap:debootstrap"  # the Debian base image where no registry can be reached
    "iptables:iptables"  # dockerd's bridge networking
)

missing=()
for need in "${NEEDS[@]}"; do
    # dockerd, debootstrap and iptables live in /usr/sbin, on root's PATH only
    # shellcheck disable=SC2206  # PACKAGES is a space-separated list
    PATH="$PATH:/usr/sbin:/sbin" command -v "${need%%:*}" >/dev/null 2>&1 || missing+=(${need#*:})
done
[ ${#missing[@]} -eq 0 ] && exit 0

install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-packages: installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists; a stale list can name versions that are gone.
    apt-get update -qq
    if ! "${install[@]}" >/dev/null; then
        echo "system-packages: 'apt-get install ${missing[*]}' failed; see apt's message above" >&2
        exit 1
    fi
    exit 0
fi

echo "system-packages: missing ${missing[*]}; install with: sudo apt-get update && sudo ${install[*]}" >&2
if [ "${CI:-}" = true ]; then
    exit 1
fi
echo "system-packages: going on without; the tests that need them are skipped" >&2
