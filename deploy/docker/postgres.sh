#!/bin/sh
# The postgres service's start script (deploy/docker/postgres.Dockerfile).
#
# The password of the role `druid` is POSTGRES_PASSWORD (deploy/.env, which `squall
# compose build|up` fills) or, when that is empty (a plain `docker compose up` from a
# fresh clone), one generated at the first start into /var/lib/postgres-secret/password:
# a volume the Druid services mount read-only, whose start scripts read it. Either way it
# is set at every start, so changing POSTGRES_PASSWORD needs only a restart.
set -eu
secret=/var/lib/postgres-secret/password
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  if [ ! -s "$secret" ]; then
    (umask 027 && tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 >"$secret.new")
    mv "$secret.new" "$secret"
    echo "postgres: no POSTGRES_PASSWORD; generated one for the role druid in $secret"
  fi
  POSTGRES_PASSWORD="$(cat "$secret")"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --pgdata="$PGDATA" --username=postgres --auth-local=peer \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  # initdb allows host connections from localhost only; the Druid services connect from
  # the compose network (the port is never published on the host)
  echo "host druid druid all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  postgres --single -D "$PGDATA" postgres >/dev/null <<'SQL'
CREATE ROLE druid LOGIN
CREATE DATABASE druid OWNER druid
SQL
  echo "postgres: created the database druid in $PGDATA"
fi
# single quotes doubled: the password is an SQL string literal, read from stdin (not argv)
quoted="$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")"
printf "ALTER ROLE druid PASSWORD '%s'\n" "$quoted" | postgres --single -D "$PGDATA" postgres >/dev/null

# sized for a 128 MiB container: Druid's metadata is small, its connections few
exec postgres -D "$PGDATA" \
  -c listen_addresses='*' \
  -c unix_socket_directories=/run/postgresql \
  -c max_connections=40 \
  -c shared_buffers=16MB \
  -c work_mem=2MB \
  -c maintenance_work_mem=16MB \
  -c jit=off \
  -c huge_pages=off
