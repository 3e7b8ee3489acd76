# Squall's services (collector, topology, serve, init, demo): one image, a non-root user.
#
# The `resolve` stage gathers the wheels of Squall and its dependencies in /out. Its
# build context is either deploy/.context/squall, which `squall compose build` built on
# the host (nothing is downloaded in the build), or, for a plain `docker compose build`
# from a fresh clone, the repository's root, and resolve.sh fetches from PyPI in the
# build. Dependencies come before Squall's own wheel, so a change to Squall's code
# rebuilds only the last layers.
FROM debian:bookworm-slim AS resolve
COPY deploy/certs/ /usr/local/share/ca-certificates/squall/
COPY . /src
RUN if [ -f /src/.complete ]; then mv /src /out; else sh /src/deploy/docker/resolve.sh squall /out; fi

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/squall \
 && useradd --create-home --home-dir /home/squall --uid 10001 squall \
 && mkdir -p /var/lib/squall && chown squall /var/lib/squall
COPY --from=resolve /out/wheels/deps /tmp/wheels/deps
RUN /opt/squall/bin/pip install --quiet --no-index --no-cache-dir /tmp/wheels/deps/*.whl \
 && rm -rf /tmp/wheels
COPY --from=resolve /out/wheels/squall /tmp/wheels/squall
RUN /opt/squall/bin/pip install --quiet --no-index --no-cache-dir --no-deps /tmp/wheels/squall/*.whl \
 && rm -rf /tmp/wheels
COPY --from=resolve /out/data/apache_logs /opt/squall/data/apache_logs
ENV PATH=/opt/squall/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SQUALL_DATA_DIR=/var/lib/squall
USER squall
WORKDIR /var/lib/squall
ENTRYPOINT ["squall"]
CMD ["--help"]
