"""WSGI entry point: `gunicorn -c config/gunicorn.conf.py wsgi:app`."""
from scim_authz import create_app

app = create_app()
