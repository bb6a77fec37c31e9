#!/usr/bin/env bash
# Web, worker and cron from the Procfile under honcho (`make run` calls this after its setup).
# honcho stops all three as soon as one of them ends: a portal without its worker would take
# signatures that never get made while looking healthy. Ctrl-C stops all three as well.
cd "$(dirname "$0")/.."
rc=0
.venv/bin/honcho start || rc=$?
case $rc in
  0 | 130 | 143) ;;  # stopped on purpose (Ctrl-C, a service manager's SIGTERM)
  *) cat >&2 <<MSG

  Ukeoi has stopped: one of its processes ended (its "stopped (rc=…)" line is above), so web, worker
  and cron were all stopped. Nothing queued is lost: the work waits in the database and in Redis.
  Look at that process's last lines above, then start again with \`make run\`.

MSG
  ;;
esac
exit "$rc"
