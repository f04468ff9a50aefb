#!/bin/sh
# Initialises the cluster on the first start (user, password, database from the official image's variables), then
# replaces itself with the server listening on every address. `postgres -c name=value ...` passes the settings on.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (the official image refuses to start without it too)}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
if [ "${1:-}" = "postgres" ]; then
    shift
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != "postgres" ]; then
        pg_ctl --pgdata="$PGDATA" --wait --silent --options="-c listen_addresses=''" start
        echo 'CREATE DATABASE :"db"' | psql --username="$POSTGRES_USER" --dbname=postgres \
            --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --set=db="$POSTGRES_DB" >/dev/null
        pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
    fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
