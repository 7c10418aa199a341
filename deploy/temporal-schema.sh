#!/bin/sh
# One-shot schema setup for docker-compose.yml, run by the temporal-schema service in the
# temporalio/admin-tools image (temporal-sql-tool and the schema files ship in it). It does what
# the retired temporalio/auto-setup image did at every start, as Temporal's own compose files now
# do: create both databases, then bring each schema up to the image's version. Every step is safe
# to repeat, so it runs again on each `docker compose up` and upgrades the schema after an image bump.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS names the PostgreSQL host}"
: "${POSTGRES_USER:?POSTGRES_USER names the PostgreSQL user}"
: "${SQL_PASSWORD:?SQL_PASSWORD is the PostgreSQL password (temporal-sql-tool reads it)}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

until nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"; do
  echo "waiting for PostgreSQL on $POSTGRES_SEEDS:$DB_PORT"
  sleep 1
done

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

# temporal holds executions and history; temporal_visibility backs the workflow list and search attributes.
for db in temporal:temporal temporal_visibility:visibility; do
  name="${db%%:*}"
  dir="${db##*:}"
  sql --db "$name" create
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$SCHEMA_DIR/$dir/versioned"
done
echo "Temporal schema is up to date"
