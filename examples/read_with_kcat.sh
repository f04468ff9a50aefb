#!/bin/sh
# Print every event of a topic with kcat, one JSON object per message, then exit (-e) (docs/analysts.md).
#   examples/read_with_kcat.sh [topic] [bootstrap] [registry]
# With a kcat built with Avro support (libserdes, e.g. Confluent's builds) the value is decoded through the registry:
#   kcat -C -b 127.0.0.1:19092 -t eventledger.accounts.v2 -s value=avro -r http://127.0.0.1:18181/apis/ccompat/v7 -e -J
# Debian's kcat 1.7.1 is built without it ("This build of kcat lacks Avro/Schema-Registry support", ADR 0028): this
# script then prints, one line per message, its topic, partition, offset, key and headers (event type, schema
# version, position, ...), leaving out the binary value (examples/daily_volume.py decodes values).
set -eu
topic=${1:-eventledger.accounts.v2}
bootstrap=${2:-127.0.0.1:19092}
registry=${3:-http://127.0.0.1:18181/apis/ccompat/v7}
if kcat -C -b "$bootstrap" -t "$topic" -s value=avro -r "$registry" -o end -e -q >/dev/null 2>&1; then
  exec kcat -C -b "$bootstrap" -t "$topic" -s value=avro -r "$registry" -e -J -q
fi
exec kcat -C -b "$bootstrap" -t "$topic" -e -q -f '%t %p %o %k %h\n'
