"""gunicorn's settings; `gunicorn wsgi:app` reads this file from the project folder (Procfile, bench, tests).

Pages are CPU-bound (templates, forms), so one process per core. How each process takes requests
depends on what faces the browsers:
- behind a proxy (PROXY_COUNT set; the proxy must buffer request bodies, as nginx does by default):
  sync workers, one request at a time. The proxy holds slow uploads and browsers' idle preconnects,
  and no threads share a GIL: at 20 connections on two cores the application form's p95 is well below
  what four threads per process give (bench/web_latency.py prints both).
- facing browsers directly (`make run`): threads, so an idle preconnect or a slow upload holds one
  thread, not the whole process.
WEB_CONCURRENCY sets the number of processes.
"""
import os

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
if os.environ.get("PROXY_COUNT"):
    worker_class = "sync"
else:
    worker_class = "gthread"
    threads = 4
accesslog = "-"
# gunicorn's runtime control socket sits at one path per user (~/.gunicorn/gunicorn.ctl), which a second
# instance on the machine (browser tests, bench) would take over; nothing here uses it.
control_socket_disable = True
