#!/usr/bin/env bash
# `make test`'s set-up, so that a fresh Debian machine needs nothing beforehand: install from Debian what
# the tests use (chromium, poppler, NSS tools, the IPAex fonts, the database and Redis clients), and start
# Redis and PostgreSQL when none answers at TEST_REDIS_URL, E2E_REDIS_URL or TEST_DATABASE_URL.
# On a machine that has everything it does nothing. Servers it starts keep running after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

redis_urls=("${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" "${E2E_REDIS_URL:-redis://127.0.0.1:6379/14}")
db_url="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1/ukeoi_test}"

# host port, from a URL (the standard library is enough: the venv may not exist yet)
host_port() {
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or int(sys.argv[2]))' "$1" "$2"
}
redis_answers() {  # host port
  python3 - "$1" "$2" <<'PY' 2>/dev/null
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as s:
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
PY
}
pg_answers() { pg_isready -q -h "$1" -p "$2" 2>/dev/null; }

apt_install() {
  echo "Installing from Debian: $*"
  if [ -z "${apt_updated:-}" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

debs=()
command -v chromium >/dev/null || debs+=(chromium)
command -v pdfsig >/dev/null || debs+=(poppler-utils)
command -v certutil >/dev/null || debs+=(libnss3-tools)
command -v psql >/dev/null || debs+=(postgresql-client)
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || debs+=(fonts-ipaexfont-gothic)
[ -f /usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf ] || debs+=(fonts-ipaexfont-mincho)
[ ${#debs[@]} -eq 0 ] || apt_install "${debs[@]}"

for url in "${redis_urls[@]}"; do
  read -r host port < <(host_port "$url" 6379)
  redis_answers "$host" "$port" && continue
  command -v redis-server >/dev/null || apt_install redis-server
  echo "Starting redis-server on $host:$port"
  redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no >/dev/null
  for _ in $(seq 50); do redis_answers "$host" "$port" && break; sleep 0.1; done
done

read -r pg_host pg_port < <(host_port "$db_url" 5432)
if ! pg_answers "$pg_host" "$pg_port"; then
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql/ 2>/dev/null)" ]; then
    apt_install postgresql
    # Debian's package made a cluster "main" with password logins over TCP; the tests want a trust
    # cluster on the URL's port, made below. The fresh "main" holds no data of anyone's.
    for version in $(ls /etc/postgresql); do
      pg_dropcluster --stop "$version" main 2>/dev/null || true
    done
  fi
  version=$(ls /usr/lib/postgresql/ | sort -V | tail -1)
  cluster=$(pg_lsclusters -h | awk -v p="$pg_port" '$3 == p {print $1 " " $2; exit}')
  if [ -z "$cluster" ]; then
    echo "Creating a PostgreSQL $version cluster for the tests on port $pg_port (trust on localhost)"
    pg_createcluster "$version" ukeoi_test --port "$pg_port" -- --auth=trust >/dev/null
    cluster="$version ukeoi_test"
  fi
  echo "Starting PostgreSQL cluster $cluster"
  # shellcheck disable=SC2086  # "version name"
  pg_ctlcluster --skip-systemctl-redirect $cluster start
  for _ in $(seq 100); do pg_answers "$pg_host" "$pg_port" && break; sleep 0.2; done
fi
bash scripts/ensure_test_db.sh "$db_url"
