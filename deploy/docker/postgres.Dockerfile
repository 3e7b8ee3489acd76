# PostgreSQL (Debian's package) for Druid's metadata: a database `druid` owned by a role
# `druid`, the data in a named volume, reachable only on the compose network.
#
# Nothing is resolved: the image is Debian's packages and deploy/docker/postgres.sh, so it
# builds from the repository's root for `squall compose build` and a plain `docker compose
# build` alike. The postgres user has a fixed system uid (999) and, with the druid user
# of the druid image, the group metadata-secret (10010): the volume postgres-secret, where
# postgres.sh writes a generated password, belongs to them whichever image fills it first.
FROM debian:bookworm-slim
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --no-create-home \
      --shell /bin/sh postgres \
 && groupadd --gid 10010 metadata-secret \
 && usermod --append --groups metadata-secret postgres \
 && mkdir -p /etc/postgresql-common \
 && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)" /usr/local/lib/postgresql \
 && mkdir -p /var/lib/postgresql/data /var/lib/postgres-secret /run/postgresql \
 && chown postgres:postgres /var/lib/postgresql/data /run/postgresql \
 && chmod 0700 /var/lib/postgresql/data \
 && chown postgres:metadata-secret /var/lib/postgres-secret \
 && chmod 2750 /var/lib/postgres-secret
COPY deploy/docker/postgres.sh /usr/local/bin/squall-postgres
ENV PATH=/usr/local/lib/postgresql:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
# SIGTERM would be a "smart" shutdown, which waits for Druid's pooled connections to close
STOPSIGNAL SIGINT
CMD ["squall-postgres"]
