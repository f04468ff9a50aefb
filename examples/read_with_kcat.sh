#!/bin/sh
# Print every event of a topic with kcat, its value decoded through the schema registry, then exit (docs/analysts.md).
#   examples/read_with_kcat.sh [topic] [bootstrap] [registry]
# One line per message, fields separated by tabs: topic, partition, offset, key, headers (event-type=…,
# schema-version=…, position=…, …) and the value as JSON (Avro's JSON encoding: a union value is {"<type>": value},
# a timestamp is its long). The heart of it:
#   kcat -C -b 127.0.0.1:19092 -t eventledger.accounts.v2 -s value=avro -r http://127.0.0.1:18181/apis/ccompat/v7 -e
# Debian's kcat lacks Avro support: this uses $KCAT when set, else the kcat the provisioning tool builds from
# third_party/ (libserdes and kcat; the first call builds it, about half a minute, ADR 0028).
set -eu
topic=${1:-eventledger.accounts.v2}
bootstrap=${2:-127.0.0.1:19092}
registry=${3:-http://127.0.0.1:18181/apis/ccompat/v7}
if [ -z "${KCAT:-}" ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  KCAT=$(PYTHONPATH="$root/infrastructure/src" python3 -m eventledger_infra kcat)
fi
tab=$(printf '\t')
exec "$KCAT" -C -b "$bootstrap" -t "$topic" -s value=avro -r "$registry" -e -q \
  -f "%t$tab%p$tab%o$tab%k$tab%h$tab%s\n"
