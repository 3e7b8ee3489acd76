#!/bin/sh
# The `resolve` stage of an image in deploy/docker/ when it builds from the repository's
# root (a plain `docker compose build` or `up` from a fresh clone): put together what the
# image holds beyond Debian's packages (wheels, jars, generated configuration) in $2, with
# the one program that does it, deploy/compose/context.py, from PyPI and Maven Central.
# (`squall compose build` runs the same program on the host instead and builds from its
# result: then nothing is downloaded in a build and this script does not run.)
#
# Behind a TLS-inspecting proxy, its CA certificates (PEM files named *.crt) in
# deploy/certs/ are trusted, in this stage only.
set -eu
image="$1"
out="$2"
echo "resolve $image: from PyPI and Maven Central (\`squall compose build\` resolves on the host instead)"
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
mv "/src/deploy/.context/$image" "$out"
test -f "$out/.complete"
