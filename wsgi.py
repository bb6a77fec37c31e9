"""WSGI entry point: `gunicorn wsgi:app` (production) or `flask --app wsgi run` (development)."""
from portal import create_app

app = create_app()
