"""The peer of bench/check_http.py: the least a Flask app can do for POST /v1/check.

It parses the JSON body (a 400 when it is not a JSON object) and answers a constant decision of
the same shape as ours, `{"allowed": true, "decision_id": "x", "revision": 1}`: no auth, no
validation, no database, no decision log. Served by gunicorn exactly as our server is, so
ours/bare is the share of a check's cost that is ours rather than the HTTP + WSGI + Flask floor.

    gunicorn --pythonpath bench -c <the same gunicorn config> bare_app:app
"""
from flask import Flask, request

app = Flask(__name__)


@app.post("/v1/check")
def check():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": {"status": 400, "message": "the body must be a JSON object"}}, 400
    return {"allowed": True, "decision_id": "x", "revision": 1}
