"""One package per area: each has bp, routes.py and forms.py."""
