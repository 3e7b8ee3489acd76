#!/bin/sh
# The `resolve` stage of each image in deploy/docker/: put together what the image holds
# beyond Debian's packages (wheels, jars, generated configuration) in
# /src/deploy/.context/<image>, by the one program that does it, deploy/compose/context.py.
#
# * Offline: `squall compose build` (or `make images`) ran that program on the host, and
#   the build context holds its result: nothing to do, nothing is downloaded in the build.
# * Online (a plain `docker compose build` / `up` from a fresh clone): run it here, from
#   PyPI and Maven Central. Behind a TLS-inspecting proxy, the proxy's CA certificates
#   (PEM files named *.crt) in deploy/certs/ are trusted for this stage only.
set -eu
image="$1"
out="/src/deploy/.context/$image"
if [ -f "$out/.complete" ]; then
  echo "resolve $image: using deploy/.context/$image, resolved on the host"
  exit 0
fi
echo "resolve $image: from PyPI and Maven Central (no deploy/.context/$image; \`squall compose build\` resolves on the host instead)"
tools="python3 python3-venv ca-certificates"
[ "$image" = squall ] || tools="$tools openjdk-17-jdk-headless maven"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $tools >/dev/null
update-ca-certificates >/dev/null
export PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
python3 -m venv /opt/resolve
# Debian's pip (23.0) cannot build sdists such as pydruid's without `wheel`: the Makefile's pip
/opt/resolve/bin/pip install --quiet pip==25.3
# Squall's own dependencies, so that the program below runs from the source tree
/opt/resolve/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("/src/pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt
/opt/resolve/bin/pip install --quiet -r /tmp/requirements.txt
cd /src
PYTHONPATH=/src /opt/resolve/bin/python -m squall.deploy.compose.context "$image"
test -f "$out/.complete"
