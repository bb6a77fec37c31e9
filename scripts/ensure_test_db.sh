#!/usr/bin/env bash
# Create the PostgreSQL test database named by the URL in $1 if it does not exist yet.
set -euo pipefail
url="$1"
name="${url##*/}"
admin="${url%/*}/postgres"
if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
  psql "$admin" -qc "CREATE DATABASE \"$name\""
fi
