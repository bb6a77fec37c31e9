#!/usr/bin/env bash
# `make run`: everything one machine needs, then web + worker + cron under honcho. Ctrl-C stops all;
# so does the end of any one of them (scripts/processes.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

export PORT="${PORT:-5000}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export FLASK_APP=wsgi
export UKEOI_DEMO=1
PY=.venv/bin/python

need_apt=()
fc-list 2>/dev/null | grep -qi ipaex || [ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || need_apt+=(fonts-ipaexfont-gothic fonts-ipaexfont-mincho)
redis_answers() { $PY -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()" "$1" 2>/dev/null; }
private_redis=""
if ! redis_answers "$REDIS_URL"; then
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  private_redis=1
  export REDIS_URL="redis://127.0.0.1:${PRIVATE_REDIS_PORT:-6390}"
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing from Debian: ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

mkdir -p instance
if [ -n "$private_redis" ]; then
  # A private Redis for this run only: it keeps nothing on disk and stops when this script ends.
  redis-server --bind 127.0.0.1 --port "${REDIS_URL##*:}" --save '' --appendonly no --daemonize yes \
    --pidfile "$PWD/instance/redis.pid" --logfile "$PWD/instance/redis.log" >/dev/null
  trap 'kill "$(cat instance/redis.pid)" 2>/dev/null || true' EXIT
  trap 'exit 143' TERM  # a service manager's stop also runs the EXIT trap above
  for _ in $(seq 50); do redis_answers "$REDIS_URL" && break; sleep 0.1; done
fi

.venv/bin/flask portal init
logins=$(.venv/bin/flask portal seed-demo)


cat <<MSG

  Ukeoi is starting:  http://127.0.0.1:${PORT}
  Demo logins:
${logins}
  Mail sent by the portal (no mail server configured) is written to instance/mail/: open the
  set-password and reset links from there. Staff administrators see the record at /admin/mail
  (secret links masked).
  Ctrl-C stops web, worker and cron.

MSG
bash scripts/processes.sh
